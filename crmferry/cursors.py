"""Keyset cursors: the opaque `next_cursor` of every paged list, and reading it back.

A cursor is the sort key of a page's last row (a creation time and an id, or two
numbers), joined with `|` and base64url-encoded without padding. Reading one back
checks each part against the type it must have; anything this API did not make is
a 422 naming `cursor`, never a silent restart from the first page (a client looping
over pages would loop for ever).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from crmferry.errors import ValidationFailed

Part = datetime | UUID | int

MESSAGE = "The cursor is not valid; use next_cursor from the previous page."


def encode_cursor(*parts: Part) -> str:
    """The cursor of a row whose sort key is `parts` (times are written in UTC)."""
    text = "|".join(_text(p) for p in parts)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type[Part]) -> tuple[Any, ...]:
    """The sort key a cursor made by `encode_cursor` stands for, each part of the type
    given; ValidationFailed (422, field `cursor`) for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = text.split("|")
        if len(parts) != len(types):
            raise ValueError(cursor)
        return tuple(_parse(kind, part) for kind, part in zip(types, parts, strict=True))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(MESSAGE, [{"field": "cursor", "message": "is not valid"}]) from None


def _text(part: Part) -> str:
    if isinstance(part, datetime):
        return part.astimezone(UTC).isoformat()
    return str(part)


def _parse(kind: type[Part], text: str) -> Part:
    if kind is datetime:
        when = datetime.fromisoformat(text)
        if when.tzinfo is None:
            raise ValueError(text)
        return when
    if kind is int:
        if not text.isdigit():
            raise ValueError(text)
        return int(text)
    return UUID(text)
