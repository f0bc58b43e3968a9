"""How a data type and its fields are described: one description every layer reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FieldType = Literal[
    "text", "email", "phone", "integer", "decimal", "date", "datetime", "boolean", "enum"
]


@dataclass(frozen=True)
class Field:
    """One column of a data type, as users, validation, SQL and exports see it."""

    name: str
    label: str
    type: FieldType = "text"
    required: bool = False
    key: bool = False
    choices: tuple[str, ...] = ()
    default: str | None = None
    max_length: int | None = 500
    synonyms: tuple[str, ...] = ()
    sql_type: str = "text"

    def as_public(self) -> dict[str, object]:
        """The field as `GET /data-types` shows it."""
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "key": self.key,
            "choices": list(self.choices),
        }


@dataclass(frozen=True)
class DataType:
    """A kind of record (contacts, inventory, bids): its table, fields and natural key."""

    name: str
    label: str
    table: str
    fields: tuple[Field, ...]
    key_field: str
    key_case_insensitive: bool = False
    extra_export_fields: tuple[Field, ...] = field(default=())

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    def as_public(self) -> dict[str, object]:
        return {
            "name": self.name,
            "label": self.label,
            "key": self.key_field,
            "fields": [f.as_public() for f in self.fields],
        }
