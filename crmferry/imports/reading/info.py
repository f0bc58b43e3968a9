"""What reading a file promises: its description (`FileInfo`), the limits it is read
under (`ReadLimits`) and the shape of a record."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmferry.config import Settings

StrPath = str | os.PathLike[str]

SAMPLE_BYTES = 64 * 1024
"""How much of a file is read to tell its format, encoding and delimiter."""

Record = tuple[int, list[str]]
"""(row number as the user counts it, the row's cells as text)."""


class FlawedCells(list[str]):
    """The cells of a record a reader could read only in part (an unclosed quote): what
    went wrong, and the position of the cell where it did; `column`, when given, names
    the column the problem is told under instead (a JSON key; "" for the whole line)."""

    def __init__(
        self, cells: list[str], problem: str, cell: int, column: str | None = None
    ) -> None:
        super().__init__(cells)
        self.problem = problem
        self.cell = cell
        self.column = column


@dataclass(frozen=True)
class RowProblem:
    """A row the file itself gets wrong, found while reading: it becomes the row's error,
    as a bad cell does, so that nothing is lost without a word."""

    row_number: int
    column: str
    message: str


ProblemSink = Callable[[RowProblem], None]
"""Where `iter_rows` reports each RowProblem it meets."""


@dataclass(frozen=True)
class ReadLimits:
    """Limits that protect the service; each one, when exceeded, fails the read clearly."""

    max_rows: int = 5_000_000
    max_cell_chars: int = 32_767
    max_xlsx_uncompressed_bytes: int = 1024 * 1024 * 1024
    max_xlsx_part_bytes: int = 1024 * 1024 * 1024
    max_xlsx_ratio: int = 100

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadLimits:
        """The limits configured by CRMFERRY_MAX_IMPORT_ROWS, _MAX_CELL_CHARS,
        _MAX_XLSX_UNCOMPRESSED_BYTES, _MAX_XLSX_PART_BYTES and _MAX_XLSX_RATIO."""
        return cls(
            max_rows=settings.max_import_rows,
            max_cell_chars=settings.max_cell_chars,
            max_xlsx_uncompressed_bytes=settings.max_xlsx_uncompressed_bytes,
            max_xlsx_part_bytes=settings.max_xlsx_part_bytes,
            max_xlsx_ratio=settings.max_xlsx_ratio,
        )


DEFAULT_LIMITS = ReadLimits()


@dataclass(frozen=True)
class FileInfo:
    """What sniffing found: enough to show the file and to read it again with `iter_rows`.

    `format` names the reader (`csv` for every text table, `xlsx`). `encoding` and
    `delimiter` are None for workbooks; `sheet` is None for text. `encoding_confidence`
    (0-1), `encoding_note` and `encoding_alternatives` say how sure detection is of a
    text file's encoding; `sheets` lists a workbook's worksheets; `problems` are the
    RowProblems of the rows sniffing read (at most PREVIEW_ROWS). `preview` rows have the
    shape `iter_rows` yields. `row_estimate` counts the data rows after the header:
    exact for text up to 64 KiB, else extrapolated from the sample; for XLSX, the
    sheet's declared size (or a streamed count).
    """

    format: str
    encoding: str | None
    delimiter: str | None
    headers: tuple[str, ...]
    preview: tuple[tuple[str, ...], ...]
    row_estimate: int
    header_row: int = 1
    sheet: str | None = None
    # the last data row when rows after it are left out (a report's footer); else None
    last_row: int | None = None
    encoding_confidence: float | None = None
    encoding_note: str | None = None
    encoding_alternatives: tuple[str, ...] = ()
    sheets: tuple[SheetInfo, ...] = ()
    problems: tuple[RowProblem, ...] = ()


@dataclass(frozen=True)
class SheetInfo:
    """A worksheet of a workbook: its name and whether the workbook hides it."""

    name: str
    hidden: bool = False


@dataclass(frozen=True)
class ReadChoices:
    """What the user chose instead of what detection finds: the text encoding, the
    header row (1-based, as the file numbers its rows), the sheet (by name) and the
    last data row (the rows after it, a report's footer, are not data)."""

    encoding: str | None = None
    header_row: int | None = None
    sheet: str | None = None
    last_row: int | None = None  # the last data row: the rows after it are left out


NO_CHOICES = ReadChoices()
