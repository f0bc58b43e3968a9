"""Columns of a file → fields of a data type: normalised headers, suggestions, checks.

`suggest_mapping` proposes from the headers (and, given `accept`, from what a look at
the values says; see `suggestion.py`); the user edits; `validate_mapping` decides. A
mapping is `{"Header": "field" | None}`; None or "" means "ignore this column". Besides
the data type's fields a column may map to one of its lookups (`owner_name`) or to
`id`, the record id of an earlier export, which matches rows before the natural key.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from crmferry.errors import ValidationFailed
from crmferry.records import DataType

RECORD_ID = "id"
"""The column of an earlier export that names a record: rows match by it first."""

Accept = Callable[[str, str], str | None]
"""(header, field) → the field to map the header to (the same, or a lookup that fills
it), or None when the column's values do not fit the field."""

# Words that qualify a column without changing what it holds ("Work Phone" is a phone).
# Only the fuzzy pass ignores them, and only when the result is unambiguous.
_QUALIFIERS = frozenset(
    {
        "business",
        "work",
        "home",
        "office",
        "personal",
        "primary",
        "main",
        "other",
        "default",
        "preferred",
        "value",
        "mailing",
        "billing",
        "shipping",
    }
)
_APOSTROPHES = re.compile(r"['’`]")
_NOT_WORD = re.compile(r"[^\w#]|_")


def normalise_header(header: str) -> str:
    """A header as matching sees it: accents stripped, case folded, apostrophes dropped,
    every other character but letters, digits and "#" a space, "#" a word of its own,
    whitespace collapsed. "E-mail 1 - Value" → "e mail 1 value"; "Item#" → "item #"."""
    decomposed = unicodedata.normalize("NFKD", header)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    spaced = _NOT_WORD.sub(" ", _APOSTROPHES.sub("", bare)).replace("#", " # ")
    return " ".join(spaced.split())


def suggest_mapping(
    data_type: DataType, headers: Sequence[str], accept: Accept | None = None
) -> dict[str, str | None]:
    """A field (or None) for every header, each field used at most once.

    First an exact pass: the normalised header equals a field's normalised
    name, label or synonym; the first header to claim a field wins, but a weak
    spelling (`Field.weak_spellings`) only when no header has a strong one. Then a
    conservative pass over what is left: qualifier words and numbers dropped
    ("Work Phone" → "phone"), kept only when exactly one field and exactly one
    remaining header match. `accept` may refuse a header's field (its values do not
    fit) or turn it into a lookup; a refused field stays free for a later header.
    """
    mapping: dict[str, str | None] = dict.fromkeys(headers)
    used: set[str] = set()
    exact = _spellings(data_type, str)
    weak = _weak_headers(data_type, headers, exact)
    for header in headers:
        field = _only(exact.get(normalise_header(header), set()))
        if field is None or field in used or mapping[header] is not None:
            continue
        if (header, field) in weak:
            continue
        _take(mapping, used, header, field, accept)
    unmatched = [h for h in mapping if mapping[h] is None]
    for header, field in _fuzzy_matches(data_type, unmatched, used).items():
        _take(mapping, used, header, field, accept)
    return mapping


def _take(
    mapping: dict[str, str | None],
    used: set[str],
    header: str,
    field: str,
    accept: Accept | None,
) -> None:
    # without a look at the values an `id` column is never taken for record ids
    without_values = None if field == RECORD_ID else field
    chosen = without_values if accept is None else accept(header, field)
    if chosen is not None:
        mapping[header] = chosen
        used.update({field, chosen})


def _weak_headers(
    data_type: DataType, headers: Sequence[str], exact: Mapping[str, set[str]]
) -> set[tuple[str, str]]:
    """(header, field) pairs where the header has a weak spelling of the field and
    another header of the file a strong one."""
    found: set[tuple[str, str]] = set()
    for f in data_type.importable_fields:
        weak = {normalise_header(w) for w in f.weak_spellings}
        if not weak:
            continue
        spelled = [(h, normalise_header(h)) for h in headers]
        strong = any(f.name in exact.get(n, ()) and n not in weak for _, n in spelled)
        if strong:
            found.update((h, f.name) for h, n in spelled if n in weak)
    return found


def validate_mapping(
    data_type: DataType,
    headers: Sequence[str],
    mapping: Mapping[str, str | None],
    defaulted: Iterable[str] = (),
) -> dict[str, str]:
    """The mapping without its ignored columns, field names made canonical.

    Raises ValidationFailed listing every problem: `mapping.<Header>` for a
    header the file lacks, an unknown field or a field mapped twice; `mapping`
    for a required field left unmapped (contacts' `name` is satisfied by
    `first_name` or `last_name`). An absent header mapped to None is ignored,
    so a saved template still fits a file without that column. A required field
    with a default (`defaulted`, the import's `options.defaults`) needs no column.
    """
    errors: list[dict[str, object]] = []
    result: dict[str, str] = {}
    owners: dict[str, str] = {}  # field → the header it is mapped from
    for header, value in mapping.items():
        if not _wanted(value):
            continue
        field = _field_name(data_type, value)
        problem = _problem(data_type, headers, owners, header, value, field)
        if problem or field is None:
            errors.append({"field": f"mapping.{header}", "message": problem})
            continue
        owners[field] = header
        result[header] = field
    errors.extend(_unmapped_required(data_type, {**dict.fromkeys(defaulted, ""), **owners}))
    if errors:
        first = str(errors[0]["message"])
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValidationFailed(f"The column mapping cannot be used: {first}{more}.", errors)
    return result


def validate_mapping_for_mode(
    data_type: DataType,
    headers: Sequence[str],
    mapping: Mapping[str, str | None],
    mode: str,
    defaulted: Iterable[str] = (),
) -> dict[str, str]:
    """`validate_mapping` under an import mode's rules: `update` writes only the mapped
    fields of existing records, so no field is required, but `id` or every key field
    must be mapped."""
    if mode != "update":
        return validate_mapping(data_type, headers, mapping, defaulted)
    optional = tuple(replace(f, required=False) for f in data_type.fields)
    checked = validate_mapping(replace(data_type, fields=optional), headers, mapping)
    missing = [k for k in data_type.key_fields if k not in checked.values()]
    if missing and RECORD_ID not in checked.values():
        key = " + ".join(data_type.key_fields)
        raise ValidationFailed(
            f"Update mode matches records by id or by {key}: map a column to id or to "
            f"{' and '.join(missing)}.",
            [{"field": "mapping", "message": f"{name} must be mapped"} for name in missing],
        )
    return checked


def _wanted(value: object) -> bool:
    return not (value is None or (isinstance(value, str) and not value.strip()))


def _problem(
    data_type: DataType,
    headers: Sequence[str],
    owners: Mapping[str, str],
    header: str,
    value: object,
    field: str | None,
) -> str | None:
    """What is wrong with mapping `header` to `value` (naming `field`), or None."""
    if header not in headers:
        close = difflib.get_close_matches(header, list(headers), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"the file has no column '{header}'{hint}"
    if field is None:
        names = ", ".join(mappable_names(data_type))
        if isinstance(value, str) and value.strip() in data_type.field_names:
            return f"'{value.strip()}' is computed by {data_type.name}: it cannot be imported"
        return f"'{value}' is not one of the {data_type.name} fields ({names})"
    if field in owners:
        return f"'{field}' is already mapped from column '{owners[field]}'"
    for other in _same_target(data_type, field):
        if other in owners:
            return f"'{field}' and '{other}' (column '{owners[other]}') fill the same field"
    return None


def _same_target(data_type: DataType, name: str) -> tuple[str, ...]:
    """The names that fill what `name` fills: a lookup and its link's fields."""
    for lookup in data_type.lookups:
        fields = data_type.link(lookup.link).fields
        if name == lookup.name:
            return fields
        if name in fields:
            return (lookup.name,)
    return ()


def mappable_names(data_type: DataType) -> tuple[str, ...]:
    """What a column may be mapped to: the importable fields, the lookups, `id`."""
    fields = tuple(f.name for f in data_type.importable_fields)
    return (*fields, *(k.name for k in data_type.lookups), RECORD_ID)


def _field_name(data_type: DataType, value: object) -> str | None:
    """The mappable name `value` names (trimmed, case-insensitive), or None."""
    if not isinstance(value, str):
        return None
    wanted = value.strip().casefold()
    return next((n for n in mappable_names(data_type) if n.casefold() == wanted), None)


def _unmapped_required(data_type: DataType, owners: Mapping[str, str]) -> list[dict[str, object]]:
    errors: list[dict[str, object]] = []
    for name in data_type.required_fields:
        alternatives = data_type.field(name).composed_from
        if name in owners or any(alt in owners for alt in alternatives):
            continue
        either = "".join(f" or {alt}" for alt in alternatives)
        label = data_type.field(name).label
        message = f"the required field '{name}' ({label}) is not mapped: map a column to {name}"
        errors.append({"field": "mapping", "message": message + either})
    return errors


def _spellings(data_type: DataType, reduce: Callable[[str], str]) -> dict[str, set[str]]:
    """Reduced normalised spelling → the fields (name, label or synonym) that have it;
    also the lookups' spellings and `id`."""
    table: dict[str, set[str]] = {}
    spellings = [(f.name, (f.name, f.label, *f.synonyms)) for f in data_type.importable_fields]
    spellings += [(k.name, (k.name, k.label, *k.synonyms)) for k in data_type.lookups]
    spellings.append((RECORD_ID, (RECORD_ID,)))
    for name, spelled in spellings:
        for spelling in spelled:
            key = reduce(normalise_header(spelling))
            if key:
                table.setdefault(key, set()).add(name)
    return table


def _core(normalised: str) -> str:
    """A normalised header without qualifier words and numbers ("work phone 2" → "phone")."""
    words = normalised.split()
    return " ".join(w for w in words if w not in _QUALIFIERS and not w.isdigit())


def _fuzzy_matches(data_type: DataType, headers: Iterable[str], used: set[str]) -> dict[str, str]:
    """Header → field for unused fields claimed by exactly one header, unambiguously."""
    cores = _spellings(data_type, _core)
    claims: dict[str, list[str]] = {}
    for header in headers:
        field = _only(cores.get(_core(normalise_header(header)), set()))
        if field is not None and field not in used:
            claims.setdefault(field, []).append(header)
    return {found[0]: field for field, found in claims.items() if len(found) == 1}


def _only(fields: set[str]) -> str | None:
    """The one field of `fields`; None when there are none or several (ambiguous)."""
    return next(iter(fields)) if len(fields) == 1 else None
