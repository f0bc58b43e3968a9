"""The error report (CSV) and the plain-words summary of an import's first problems.

Every cell of the report is neutralised against formula injection by the exports' one
rule (`crmferry.exports.formulas`): the report is made to be opened in a spreadsheet.

The staging table keeps only the mapped cells, so the report reads the file a
second time and merges it, in row order, with the errors (both sorted by row
number): memory stays flat however many rows are bad. It is written front to back
into a binary stream (the file store's `writing`, so straight into the store).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from crmferry.db import Conn
from crmferry.exports.formulas import neutralise_formula
from crmferry.imports.validate import ROWS_TABLE, SEP

REPORT_HEADER = ["row_number", "column", "value", "message"]
SUMMARY_ITEMS = 3

REPORT_ERRORS = f"""
SELECT r.row_number, split_part(e.item, '{SEP}', 1) AS field,
       split_part(e.item, '{SEP}', 2) AS message
  FROM {ROWS_TABLE} AS r CROSS JOIN LATERAL unnest(r.errors) WITH ORDINALITY AS e(item, n)
 WHERE cardinality(r.errors) > 0
 ORDER BY r.row_number, e.n
"""


@dataclass(frozen=True)
class RowError:
    row_number: int
    column: str
    value: str
    message: str

    def sentence(self) -> str:
        """'Row 7, column 'E-mail': 'bob@' is not a valid e-mail address'."""
        if self.value.strip():
            shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
            return f"Row {self.row_number}, column '{self.column}': '{shown}' {self.message}"
        return f"Row {self.row_number}, column '{self.column}' {self.message}"


@dataclass(frozen=True)
class Report:
    lines: int
    first: list[RowError]

    def summary(self, bad_rows: int, aborted: bool) -> str:
        """One message for the job: how many rows, what happened, the first problems."""
        rows = "1 row has" if bad_rows == 1 else f"{bad_rows} rows have"
        outcome = "nothing was imported" if aborted else "they were skipped"
        details = "; ".join(e.sentence() for e in self.first)
        more = "; ..." if self.lines > len(self.first) else ""
        return f"{rows} errors and {outcome}: {details}{more}. See the error report."


def write_report(
    conn: Conn,
    stream: BinaryIO,
    headers: list[str],
    columns: dict[str, int],
    rows: Iterable[tuple[int, list[str]]],
) -> Report:
    """Write every row error with the original row into `stream` (UTF-8 with a BOM, for
    spreadsheets); `columns` maps a field to its position. `stream` is left open."""
    first: list[RowError] = []
    lines = 0
    file_rows = iter(rows)
    current: tuple[int, list[str]] | None = None
    out = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    with conn.cursor(name="import_error_report") as cur:
        writer = csv.writer(out)
        writer.writerow(REPORT_HEADER + [neutralise_formula(h) for h in headers])
        cur.execute(REPORT_ERRORS)
        for item in cur:
            current = _advance(file_rows, current, item["row_number"])
            cells = current[1] if current and current[0] == item["row_number"] else []
            position = columns.get(item["field"])
            value = cells[position] if position is not None and position < len(cells) else ""
            column = headers[position] if position is not None else item["field"]
            error = RowError(item["row_number"], column, value, item["message"])
            writer.writerow(
                [error.row_number, *(neutralise_formula(c) for c in (column, value, error.message))]
                + [neutralise_formula(c) for c in cells]
            )
            lines += 1
            if len(first) < SUMMARY_ITEMS:
                first.append(error)
    out.flush()
    out.detach()  # the stream's owner ends it (a store's `writing` block stores it)
    return Report(lines, first)


def _advance(
    rows: Iterator[tuple[int, list[str]]], current: tuple[int, list[str]] | None, wanted: int
) -> tuple[int, list[str]] | None:
    while current is None or current[0] < wanted:
        nxt = next(rows, None)
        if nxt is None:
            return current
        current = nxt
    return current
