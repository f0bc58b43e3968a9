"""Row logic every format shares: the header (the first non-blank record), clean
column names, and data rows shaped to the header's width within the limits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice, takewhile

from crmferry.errors import FileUnreadable, ValidationFailed
from crmferry.imports.reading.info import FlawedCells, ProblemSink, ReadLimits, Record, RowProblem

PREVIEW_ROWS = 20


def clean_headers(cells: Sequence[str]) -> list[str]:
    """Header cells as column names: NUL characters dropped (PostgreSQL text cannot hold
    them; staging drops them from cells too), trimmed, trailing blanks dropped, other
    blanks named "Column N" (N counting from 1), repeats made unique ("Email",
    "Email (2)")."""
    names = [cell.replace("\x00", "").strip() for cell in cells]
    while names and not names[-1]:
        names.pop()
    named = [name or f"Column {index}" for index, name in enumerate(names, start=1)]
    return _unique(named)


def is_blank(cells: Sequence[str]) -> bool:
    """True when every cell is empty or white space."""
    return all(not cell.strip() for cell in cells)


NO_HEADER = "The file has no header row: it holds no data at all."
# The header is looked for among this many non-blank rows at the start of a table.
HEADER_SCAN_ROWS = 50


def find_header_row(records: Sequence[Record]) -> int | None:
    """The number of the header row among the first records of a table: the first row
    with at least two cells, and at least half as many as the table's rows usually have
    (a preamble's "Notes:" line or a report's title has fewer). None when no row
    qualifies (a one-column file): the first non-blank row is then the header."""
    rows = [(n, cells) for n, cells in records if not is_blank(cells)][:HEADER_SCAN_ROWS]
    counts = [sum(1 for cell in cells if cell.strip()) for _, cells in rows]
    if not counts:
        return None
    usual = max(set(counts), key=lambda c: (counts.count(c), c))
    least = max(2, (usual + 1) // 2)
    return next((n for (n, _), count in zip(rows, counts, strict=True) if count >= least), None)


# A footer is at most this many non-blank rows after a table (a report's totals, its
# confidentiality line and copyright), looked for among a table's last TAIL_RECORDS
# records (blank ones included).
FOOTER_MAX_ROWS = 10
TAIL_RECORDS = 4 * FOOTER_MAX_ROWS


def find_last_row(records: Sequence[Record], header_row: int, width: int) -> int | None:
    """The number of the last data row when the table ends in a footer, else None.

    `records` are the file's last records (numbered, blank ones included). A footer is
    what follows the last row that fits the table's shape (two cells or more): a blank
    row, then only blank rows and rows with a single non-blank cell (at most
    FOOTER_MAX_ROWS of those), where the table has several columns, as Salesforce's
    report exports end ("Grand Totals (3 records)", "Confidential Information - Do Not
    Distribute", a copyright line). Without the blank row nothing is a footer: a row
    with one cell filled right after the data is data. A row number left out between
    two records is a blank row (a workbook writes no element for one)."""
    if width < 2:
        return None
    footer = 0
    for index in range(len(records) - 1, -1, -1):
        number, cells = records[index]
        if number <= header_row:
            return None
        if is_blank(cells):
            continue
        if sum(1 for cell in cells if cell.strip()) == 1:
            footer += 1
            if footer > FOOTER_MAX_ROWS:
                return None
            continue
        if not footer or index + 1 == len(records):
            return None
        after_number, after = records[index + 1]
        return number if is_blank(after) or after_number > number + 1 else None
    return None


def up_to(records: Iterator[Record], last_row: int | None) -> Iterator[Record]:
    """The records up to row `last_row` (all of them when None): the rows after it, a
    footer, are not read."""
    if last_row is None:
        return records
    return takewhile(lambda record: record[0] <= last_row, records)


def check_last_row(last_row: int | None, header_row: int) -> None:
    """FileUnreadable when the chosen (or found) last data row is not after the header."""
    if last_row is not None and last_row <= header_row:
        raise FileUnreadable(
            f"Row {last_row:,} cannot be the last data row: it is not after the header row "
            f"(row {header_row:,}). Choose the file's last row of data."
        )


def split_header(
    records: Iterator[Record], none_found: str = NO_HEADER, header_row: int | None = None
) -> tuple[int, list[str]]:
    """Consume records up to the header, row `header_row` if given, else the first
    non-blank one; its number and names.

    FileUnreadable, saying `none_found`, when every record is blank, and saying so when
    row `header_row` is blank or not there."""
    for number, cells in records:
        if header_row is None and not is_blank(cells):
            return number, clean_headers(cells)
        if header_row is not None and number >= header_row:
            if number > header_row or is_blank(cells):
                break
            return number, clean_headers(cells)
    if header_row is None:
        raise FileUnreadable(none_found)
    raise FileUnreadable(
        f"Row {header_row:,} cannot be the header row: it is blank or beyond the rows "
        "read for the preview. Choose the row that holds the column names."
    )


def data_rows(
    records: Iterator[Record],
    header_row: int,
    headers: Sequence[str],
    limits: ReadLimits,
    problems: ProblemSink | None = None,
) -> Iterator[Record]:
    """The records after the header, shaped to its width, blank ones skipped.

    Rows shorter than the header are padded with ""; longer ones keep their extra
    cells (trailing empty ones dropped), and each such row, like a record the reader
    could read only in part, is told to `problems`. ValidationFailed past
    `limits.max_rows` data rows or at a cell longer than `limits.max_cell_chars`.
    """
    width = len(headers)
    for number, cells in records:
        if number - header_row > limits.max_rows:
            raise too_many_rows(limits)
        # one join answers both per-row questions cheaply: blank? any cell too long?
        joined = "".join(cells)
        if (not joined or joined.isspace()) and not isinstance(cells, FlawedCells):
            continue  # (a row read in part is kept, even blank, so that its problem is told)
        row = _fit(cells, width)
        if len(joined) > limits.max_cell_chars:
            _check_cell_sizes(number, row, headers, limits)
        if problems is not None and (len(row) > width or isinstance(cells, FlawedCells)):
            problems(_row_problem(number, cells, row, headers))
        yield number, row


class PreviewProblems(list[RowProblem]):
    """The RowProblems of the rows a sniff reads, the first PREVIEW_ROWS of them."""

    def add(self, problem: RowProblem) -> None:
        if len(self) < PREVIEW_ROWS:
            self.append(problem)


def preview_rows(rows: Iterable[Record]) -> tuple[tuple[str, ...], ...]:
    """The first PREVIEW_ROWS data rows, as the upload shows them."""
    return tuple(tuple(row) for _, row in islice(rows, PREVIEW_ROWS))


def _row_problem(
    number: int, cells: list[str], row: list[str], headers: Sequence[str]
) -> RowProblem:
    """What is wrong with a row read in part, or wider than the header."""
    if isinstance(cells, FlawedCells):
        column = cells.column if cells.column is not None else _column_name(cells.cell, headers)
        return RowProblem(number, column, cells.problem)
    width = len(headers)
    extra = row[width:]
    shown = ", ".join(repr(c if len(c) <= 40 else c[:37] + "...") for c in extra[:5])
    more = f" and {len(extra) - 5} more" if len(extra) > 5 else ""
    which = "cell holds" if len(extra) == 1 else "cells hold"
    message = (
        f"has {len(row)} cells, but the header has {width} columns: the extra {which} "
        f"{shown}{more} (is a delimiter inside a value that is not quoted?)"
    )
    return RowProblem(number, _column_name(width, headers), message)


def _column_name(index: int, headers: Sequence[str]) -> str:
    return headers[index] if index < len(headers) else f"Column {index + 1}"


def _unique(names: list[str]) -> list[str]:
    """Suffix repeated names (compared case-insensitively) with " (2)", " (3)"..."""
    seen: set[str] = set()
    result: list[str] = []
    for name in names:
        candidate, n = name, 1
        while candidate.casefold() in seen:
            n += 1
            candidate = f"{name} ({n})"
        seen.add(candidate.casefold())
        result.append(candidate)
    return result


def _fit(cells: list[str], width: int) -> list[str]:
    """Pad to `width`; keep cells beyond it except trailing empty ones (stray delimiters)."""
    if len(cells) <= width:
        return cells + [""] * (width - len(cells))
    end = len(cells)
    while end > width and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def _check_cell_sizes(
    number: int, row: list[str], headers: Sequence[str], limits: ReadLimits
) -> None:
    if not row or max(map(len, row)) <= limits.max_cell_chars:
        return
    index = next(i for i, cell in enumerate(row) if len(cell) > limits.max_cell_chars)
    raise cell_too_long(number, _column_name(index, headers), len(row[index]), limits)


def too_many_rows(limits: ReadLimits) -> ValidationFailed:
    """The error of a file with more than `limits.max_rows` data rows."""
    return ValidationFailed(
        f"The file has more than {limits.max_rows:,} data rows, the limit "
        "(CRMFERRY_MAX_IMPORT_ROWS); split it into smaller files.",
        [{"field": "file", "message": f"more than {limits.max_rows:,} rows"}],
    )


def cell_too_long(number: int, column: str, length: int, limits: ReadLimits) -> ValidationFailed:
    """The error of a cell longer than `limits.max_cell_chars` (row `number`, `column`)."""
    message = (
        f"row {number}, column '{column}': {length:,} characters, over the limit "
        f"of {limits.max_cell_chars:,} per cell"
    )
    return ValidationFailed(
        f"A cell is too long: {message} (CRMFERRY_MAX_CELL_CHARS).",
        [{"field": "file", "message": message}],
    )
