"""The user's say in how an upload is read: `encoding`, `header_row` and `sheet` as the
upload form sends them, checked; and what the upload answer says was detected."""

from __future__ import annotations

from typing import Any

from crmferry.errors import ValidationFailed
from crmferry.imports.reading import FileInfo, ReadChoices
from crmferry.imports.reading.charset import LABELS, choosable_encoding

MAX_HEADER_ROW = 10_000


def read_choices_of(fields: dict[str, str]) -> ReadChoices:
    """The choices among the upload form's text fields (empty ones mean "detect");
    ValidationFailed naming each bad one."""
    encoding = fields.get("encoding") or None
    sheet = fields.get("sheet") or None
    header_row = header_row_of(fields.get("header_row") or None, "header_row")
    return ReadChoices(
        encoding=choosable_encoding(encoding) if encoding is not None else None,
        header_row=header_row,
        sheet=sheet,
    )


def header_row_of(value: object, field: str) -> int | None:
    """A header row number (1-based) from a form field or an option; None when absent."""
    if value is None:
        return None
    number = value
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_HEADER_ROW:
        message = f"must be a row number from 1 to {MAX_HEADER_ROW:,}"
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
        "sheets": [{"name": s.name, "hidden": s.hidden} for s in info.sheets],
        "read_problems": [
            {"row_number": p.row_number, "column": p.column, "message": p.message}
            for p in info.problems
        ],
    }
