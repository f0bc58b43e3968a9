"""The user's say in how an upload is read: `encoding`, `header_row`, `sheet` and
`last_row` as the upload form sends them, checked; and what the upload answer says was
detected."""

from __future__ import annotations

from typing import Any

from crmferry.errors import ValidationFailed
from crmferry.imports.reading import FileInfo, ReadChoices
from crmferry.imports.reading.charset import LABELS, choosable_encoding

MAX_HEADER_ROW = 10_000
MAX_LAST_ROW = 100_000_000


def read_choices_of(fields: dict[str, str]) -> ReadChoices:
    """The choices among the upload form's text fields (empty ones mean "detect");
    ValidationFailed naming each bad one."""
    encoding = fields.get("encoding") or None
    sheet = fields.get("sheet") or None
    header_row = header_row_of(fields.get("header_row") or None, "header_row")
    last_row = last_row_of(fields.get("last_row") or None, "last_row")
    return ReadChoices(
        encoding=choosable_encoding(encoding) if encoding is not None else None,
        header_row=header_row,
        sheet=sheet,
        last_row=last_row,
    )


def header_row_of(value: object, field: str) -> int | None:
    """A header row number (1-based) from a form field or an option; None when absent."""
    return _row_number_of(value, field, MAX_HEADER_ROW)


def last_row_of(value: object, field: str) -> int | None:
    """The last data row's number (1-based; the rows after it, a footer, are left out)
    from a form field or an option; None when absent."""
    return _row_number_of(value, field, MAX_LAST_ROW)


def _row_number_of(value: object, field: str, most: int) -> int | None:
    if value is None:
        return None
    number = value
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= most:
        message = f"must be a row number from 1 to {most:,}"
        raise ValidationFailed(f"{field} {message}.", [{"field": field, "message": message}])
    return number


def reading_facts(info: FileInfo) -> dict[str, Any]:
    """The upload answer's account of how the file was read."""
    return {
        "encoding_label": LABELS.get(info.encoding or "", info.encoding),
        "encoding_confidence": info.encoding_confidence,
        "encoding_note": info.encoding_note,
        "encoding_alternatives": list(info.encoding_alternatives),
        "header_row": info.header_row,
        "sheet": info.sheet,
        "last_row": info.last_row,
        "read_notes": read_notes(info),
        "sheets": [{"name": s.name, "hidden": s.hidden} for s in info.sheets],
        "read_problems": [
            {"row_number": p.row_number, "column": p.column, "message": p.message}
            for p in info.problems
        ],
    }


def read_notes(info: FileInfo) -> list[str]:
    """Sentences about rows of the file that are not read as data (a report's footer)."""
    if info.last_row is None:
        return []
    return [
        f"The rows after row {info.last_row:,} (a footer after the table, such as a "
        "report's totals and copyright lines) are left out of the import; choose another "
        "last row if they are data."
    ]
