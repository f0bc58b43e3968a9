"""The suggested mapping of an upload, from its headers and a look at its values.

The headers propose a field (`mapping.suggest_mapping`); a sample of the column's
values then has the last word (`cell_fit`): a field whose rule refuses most sampled
values is not suggested, and the column's note says why (when only a few are refused,
the field is kept and the note names them: a typo is a row's error to report, not a
reason to drop the column). Two ways out before giving up:

* an enum column holding another tool's names for its values (HubSpot's lifecycle
  stages) is suggested with that tool's value map (`Field.vocabularies`);
* a column of names where a linked field wants its key ("Contact owner": "Jane
  Smith" where `owner_email` wants an address) is suggested as the lookup that fills
  that field by name (`DataType.lookups`), when every sampled name is one member's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from crmferry.db import Conn
from crmferry.imports.cell_fit import refused_by_lookup, refused_ids, refused_values
from crmferry.imports.mapping import RECORD_ID, normalise_header, suggest_mapping
from crmferry.records import DataType, Field, Lookup, Vocabulary

SHOWN_VALUES = 3


@dataclass
class Suggestion:
    """A mapping, a note per column whose values decided, and value maps to offer."""

    mapping: dict[str, str | None]
    notes: dict[str, str] = field(default_factory=dict)
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)


def suggest_from_values(
    conn: Conn, data_type: DataType, headers: Sequence[str], rows: Sequence[Sequence[str]]
) -> Suggestion:
    """The suggestion for `headers`, each column checked with its cells in `rows`."""
    columns = {
        h: [str(r[i]) for r in rows if i < len(r) and str(r[i] or "").strip()]
        for i, h in enumerate(headers)
    }
    judge = _Judge(conn, data_type, columns)
    mapping = suggest_mapping(data_type, headers, judge.accept)
    notes = {**_weak_notes(data_type, mapping), **judge.notes}
    return Suggestion(mapping, notes, judge.value_maps)


def _weak_notes(data_type: DataType, mapping: dict[str, str | None]) -> dict[str, str]:
    """A note on each column left out for a weak spelling (Outlook's salutation "Title")."""
    notes: dict[str, str] = {}
    for f in data_type.importable_fields:
        weak = {normalise_header(w) for w in f.weak_spellings}
        taken = next((h for h, m in mapping.items() if m == f.name), None)
        for header, mapped in mapping.items():
            if mapped is None and taken is not None and normalise_header(header) in weak:
                notes[header] = (
                    f"Not mapped to {f.name}: column '{taken}' holds the {f.label.lower()} "
                    "(this one is taken for something else, such as a salutation)."
                )
    return notes


class _Judge:
    """Decides each (header, field) the headers propose, writing notes as it goes."""

    def __init__(self, conn: Conn, data_type: DataType, columns: dict[str, list[str]]) -> None:
        self.conn, self.data_type, self.columns = conn, data_type, columns
        self.notes: dict[str, str] = {}
        self.value_maps: dict[str, dict[str, str]] = {}

    def accept(self, header: str, name: str) -> str | None:
        values = self.columns.get(header, [])
        if not values:
            return None if name == RECORD_ID else name  # nothing to contradict the header
        if name == RECORD_ID:
            return self._record_id(header, values)
        if name in {k.name for k in self.data_type.lookups}:
            return self._lookup(header, self.data_type.lookup(name), values, None)
        f = self.data_type.field(name)
        refused = refused_values(self.conn, f, values)
        if not refused:
            return name
        vocabulary = _covering(f, refused)
        if vocabulary is not None:
            self.value_maps[name] = vocabulary.as_map()
            pairs = ", ".join(f"{k} → {v}" for k, v in list(vocabulary.values)[:SHOWN_VALUES])
            self.notes[header] = (
                f"Holds {vocabulary.name} values: mapped to {name} with a value map "
                f"({pairs}, …); check it before importing."
            )
            return name
        bad_cells = sum(1 for v in values if v in set(refused))
        if bad_cells * 2 <= len(values):
            # mostly fitting: a typo is the row's error to report, not a reason to drop it
            self.notes[header] = (
                f"Mapped to {name}, but {_shown(refused)} {_what_is_wrong(f, len(refused))}: "
                "those rows will be reported unless the cells are fixed."
            )
            return name
        for lookup in self._lookups_filling(name):
            return self._lookup(header, lookup, values, f)
        self.notes[header] = (
            f"Not mapped to {name}: {_shown(refused)} {_what_is_wrong(f, len(refused))}."
        )
        return None

    def _record_id(self, header: str, values: list[str]) -> str | None:
        if refused_ids(self.conn, values):
            return None  # another system's ids (Salesforce's "Id"): not ours to match on
        self.notes[header] = (
            "Record ids of an earlier export: rows match their record by id first, "
            "then by the natural key."
        )
        return RECORD_ID

    def _lookup(
        self, header: str, lookup: Lookup, values: list[str], instead_of: Field | None
    ) -> str | None:
        refused = refused_by_lookup(self.conn, self.data_type, lookup, values)
        fills = " and ".join(self.data_type.link(lookup.link).fields)
        if not refused:
            self.notes[header] = (
                f"Holds names, not {instead_of.label.lower() if instead_of else fills}: "
                f"each row's {fills} is the member with that name ({lookup.name})."
            )
            return lookup.name
        self.notes[header] = (
            f"Holds names, and {_shown(refused)} {'is' if len(refused) == 1 else 'are'} "
            f"not the name of exactly one member of this organization: left unmapped "
            f"(invite them, or map the column to {lookup.name} and fix those rows)."
        )
        return None

    def _lookups_filling(self, name: str) -> list[Lookup]:
        return [k for k in self.data_type.lookups if name in self.data_type.link(k.link).fields]


def _covering(f: Field, refused: list[str]) -> Vocabulary | None:
    """The first of the field's vocabularies that names every refused value."""
    wanted = {v.strip().casefold() for v in refused}
    for vocabulary in f.vocabularies:
        if wanted <= {theirs.casefold() for theirs, _ in vocabulary.values}:
            return vocabulary
    return None


def _shown(values: list[str]) -> str:
    shown = ", ".join(f"'{v}'" for v in values[:SHOWN_VALUES])
    return shown + (f" and {len(values) - SHOWN_VALUES} more" if len(values) > SHOWN_VALUES else "")


# what a value of each type is (singular, plural)
_KINDS: dict[str, tuple[str, str]] = {
    "email": ("an e-mail address", "e-mail addresses"),
    "phone": ("a phone number", "phone numbers"),
    "integer": ("a whole number", "whole numbers"),
    "decimal": ("a number", "numbers"),
    "date": ("a date", "dates"),
    "currency": ("a currency code", "currency codes"),
    "boolean": ("a yes/no value", "yes/no values"),
}


def _what_is_wrong(f: Field, count: int) -> str:
    plural = count != 1
    if f.type == "enum":
        return f"{'are' if plural else 'is'} not one of {', '.join(f.choices)}"
    kind = _KINDS.get(f.type)
    if kind is None:
        return f"{'are' if plural else 'is'} longer than {f.max_length} characters"
    return f"{'are not' if plural else 'is not'} {kind[1] if plural else kind[0]}"
