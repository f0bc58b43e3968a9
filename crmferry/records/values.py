"""A value given in a request (JSON) as the type of a field: one coercer per field type.

Used for export filters today, and for anything else a request states in a field's
terms. Each coercer returns the typed value or raises ValueError with the reason,
written for the person who sent the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from crmferry.records.fields import Field

MAX_TEXT_VALUE = 10_000

_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")
_INT_RE = re.compile(r"[+-]?\d+")
_CURRENCY_RE = re.compile(r"[A-Za-z]{3}")


def coerce_value(field: Field, value: object) -> Any:
    """`value` as `field`'s type: int, Decimal, date, datetime (aware; naive is UTC),
    bool, an enum choice, a lower-cased e-mail, an upper-cased currency code, text;
    the text of a uuid for a uuid column. ValueError saying why otherwise."""
    if field.sql_type == "uuid":
        return to_uuid_text(value)
    return _COERCE[field.type](field, value)


def to_text(value: object, allow_empty: bool = True) -> str:
    """Text of at most MAX_TEXT_VALUE characters (empty only when allowed)."""
    if not isinstance(value, str):
        raise ValueError("expected text")
    if not allow_empty and not value:
        raise ValueError("expected non-empty text")
    if len(value) > MAX_TEXT_VALUE:
        raise ValueError(f"text longer than {MAX_TEXT_VALUE} characters")
    return value


def to_bool(value: object) -> bool:
    """A JSON boolean, or the text "true"/"false" (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"expected true or false, got {value!r}")


def to_uuid_text(value: object) -> str:
    """The canonical text of a record id."""
    try:
        return str(UUID(to_text(value)))
    except ValueError:
        raise ValueError(f"expected a record id (uuid), got {value!r}") from None


def _to_email(_: Field, value: object) -> str:
    text = to_text(value).strip()
    if not _EMAIL_RE.fullmatch(text):
        raise ValueError(f"{text!r} is not an e-mail address")
    return text.lower()


def _to_integer(_: Field, value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        value = int(value)
    if not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _to_decimal(_: Field, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError(f"expected a decimal number, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"expected a decimal number like 12.50, got {value!r}") from None
    if not number.is_finite():
        raise ValueError("expected a finite decimal number")
    return number


def _to_date(_: Field, value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(to_text(value).strip())
    except ValueError:
        raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def _to_datetime(_: Field, value: object) -> datetime:
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(to_text(value).strip())
        except ValueError:
            raise ValueError(
                f"expected an ISO 8601 date-time like 2024-05-01T09:30:00+02:00, got {value!r}"
            ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _to_enum(field: Field, value: object) -> str:
    text = to_text(value).strip().lower()
    for choice in field.choices:
        if choice.lower() == text:
            return choice
    raise ValueError(f"{value!r} is not a {field.name}; use one of {', '.join(field.choices)}")


def _to_currency(_: Field, value: object) -> str:
    text = to_text(value).strip()
    if not _CURRENCY_RE.fullmatch(text):
        raise ValueError(f"{value!r} is not a three-letter currency code (ISO 4217)")
    return text.upper()


_COERCE: dict[str, Callable[[Field, object], Any]] = {
    "text": lambda _, v: to_text(v),
    "phone": lambda _, v: to_text(v),
    "email": _to_email,
    "integer": _to_integer,
    "decimal": _to_decimal,
    "date": _to_date,
    "datetime": _to_datetime,
    "boolean": lambda _, v: to_bool(v),
    "enum": _to_enum,
    "currency": _to_currency,
}
