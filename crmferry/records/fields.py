"""How a data type and its fields are described: one description every layer reads.

A `DataType` is a table of records with `Field`s. Besides a field's type, the
description says what each layer must otherwise hard-code:

* `Field.key`: the natural key `update`/`upsert` match on; a key may be several
  fields (their order is the fields' order), compared case-insensitively when the
  type says `key_case_insensitive` (its unique index is then on `lower(...)`).
* `Field.composed_from`: a field filled from other fields when its own cell is
  empty or unmapped (a contact's name from first and last name); any one of the
  parts satisfies the field's `required`.
* `Field.organization_default`: the column of `organizations` whose value fills
  the field when its cell is empty, or on insert when it is not mapped (a bid's
  currency).
* `Field.computed`: kept by the database itself (a generated column); exported,
  never imported.
* `Field.through`: an export-only field read from a linked record (a bid's
  `contact_name` is its contact's `name`).
* `Field.minimum` / `Field.maximum`: the range a number must fall in (a line's
  discount is a percentage from 0 to 100); a value outside is a bad cell.
* `DataType.links`: fields whose values name another record (see `links.py`).
* `DataType.search_fields`: what the records' `q` search matches.
* `Field.weak_spellings`: spellings that claim the field only when no header of the
  file has one of its other spellings (Outlook's "Title" is the salutation when
  "Job Title" is there).
* `Field.vocabularies`: other tools' names for an enum's values (HubSpot's lifecycle
  stages, Salesforce's lead statuses), offered as a value map when a column holds them.
* `DataType.lookups`: import-only columns that name a linked record by another of its
  columns (a contact's owner by the member's name); see `Lookup`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from crmferry.records.links import Link

FieldType = Literal[
    "text",
    "email",
    "phone",
    "integer",
    "decimal",
    "date",
    "datetime",
    "boolean",
    "enum",
    "currency",
]

# Types whose values are text: searched, compared with `contains`, neutralised in exports.
TEXT_LIKE: frozenset[str] = frozenset({"text", "email", "phone", "currency"})


@dataclass(frozen=True)
class Through:
    """An export-only field's source: column `column` of the record link `link` names."""

    link: str
    column: str


@dataclass(frozen=True)
class Vocabulary:
    """Another tool's values of an enum field and ours for each (their spelling is
    matched case-insensitively); suggested as `options.value_maps` when a column holds
    them."""

    name: str
    values: tuple[tuple[str, str], ...]

    def as_map(self) -> dict[str, str]:
        return dict(self.values)


@dataclass(frozen=True)
class Lookup:
    """An import-only column whose value names the record of link `link` by the
    target's `column` (case-insensitive, matching exactly one) instead of its key: the
    link's fields are filled with that record's key. A contact's "Contact owner" of
    names fills `owner_email` with the member of that name."""

    name: str
    label: str
    link: str
    column: str
    synonyms: tuple[str, ...] = ()
    message: str = "matches no member of this organization by name"

    def as_public(self) -> dict[str, object]:
        return {"name": self.name, "label": self.label, "link": self.link, "by": self.column}


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
    composed_from: tuple[str, ...] = ()
    organization_default: str | None = None
    computed: bool = False
    through: Through | None = None
    minimum: str | None = None
    maximum: str | None = None
    weak_spellings: tuple[str, ...] = ()
    vocabularies: tuple[Vocabulary, ...] = ()

    @property
    def importable(self) -> bool:
        """True when a file's column may be mapped to this field."""
        return not self.computed and self.through is None

    def as_public(self) -> dict[str, object]:
        """The field as `GET /data-types` shows it."""
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "key": self.key,
            "choices": list(self.choices),
            "composed_from": list(self.composed_from),
            "computed": self.computed,
            "minimum": self.minimum,
            "maximum": self.maximum,
        }


# Columns every record has, exportable on request; `id` also leads the default field list.
METADATA_FIELDS = (
    Field("id", "ID", max_length=None, sql_type="uuid"),
    Field("created_at", "Created at", "datetime", max_length=None, sql_type="timestamptz"),
    Field("updated_at", "Updated at", "datetime", max_length=None, sql_type="timestamptz"),
)


@dataclass(frozen=True)
class DataType:
    """A kind of record (contacts, inventory, bids): its table, fields, key and links."""

    name: str
    label: str
    table: str
    fields: tuple[Field, ...]
    key_case_insensitive: bool = False
    links: tuple[Link, ...] = ()
    search_fields: tuple[str, ...] = ()
    extra_export_fields: tuple[Field, ...] = field(default=())
    lookups: tuple[Lookup, ...] = ()

    def field(self, name: str) -> Field:
        """The field named `name` (its own fields only); KeyError otherwise."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def importable_fields(self) -> tuple[Field, ...]:
        """The fields a file's columns may be mapped to."""
        return tuple(f for f in self.fields if f.importable)

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @property
    def key_fields(self) -> tuple[str, ...]:
        """The natural key, in field order (one field or several)."""
        return tuple(f.name for f in self.fields if f.key)

    @property
    def default_export_fields(self) -> tuple[Field, ...]:
        """What an export without `fields` writes: `id` first (so that a file exported and
        imported back matches every row by id, even one whose key is blank), then the
        type's own fields in their order."""
        return (METADATA_FIELDS[0], *self.fields)

    @property
    def exportable_fields(self) -> dict[str, Field]:
        """Every field an export may name: its own, its export-only ones, the metadata."""
        every = (*self.fields, *self.extra_export_fields, *METADATA_FIELDS)
        return {f.name: f for f in every}

    def lookup(self, name: str) -> Lookup:
        """The lookup named `name`; KeyError otherwise."""
        for lookup in self.lookups:
            if lookup.name == name:
                return lookup
        raise KeyError(name)

    def link(self, name: str) -> Link:
        """The link named `name`; KeyError otherwise."""
        for link in self.links:
            if link.name == name:
                return link
        raise KeyError(name)

    def links_filling(self) -> tuple[str, ...]:
        """The id columns this type's links fill (written by imports, restored by reverts)."""
        return tuple(link.id_column for link in self.links if link.id_column)

    def as_public(self) -> dict[str, object]:
        """The type as `GET /data-types` shows it (and the browser reads it)."""
        return {
            "name": self.name,
            "label": self.label,
            "key": ",".join(self.key_fields),
            "key_fields": list(self.key_fields),
            "key_case_insensitive": self.key_case_insensitive,
            "fields": [f.as_public() for f in self.fields],
            "links": [link.as_public() for link in self.links],
            "search_fields": list(self.search_fields),
            "lookups": [lookup.as_public() for lookup in self.lookups],
        }
