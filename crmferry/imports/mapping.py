"""Columns of a file → fields of a data type: normalised headers, suggestions, checks.

`suggest_mapping` proposes; the user edits; `validate_mapping` decides. A
mapping is `{"Header": "field" | None}`; None or "" means "ignore this column".
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from crmferry.errors import ValidationFailed
from crmferry.records import DataType

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


def suggest_mapping(data_type: DataType, headers: Sequence[str]) -> dict[str, str | None]:
    """A field (or None) for every header, each field used at most once.

    First an exact pass: the normalised header equals a field's normalised
    name, label or synonym; the first header to claim a field wins. Then a
    conservative pass over what is left: qualifier words and numbers dropped
    ("Work Phone" → "phone"), kept only when exactly one field and exactly one
    remaining header match.
    """
    mapping: dict[str, str | None] = dict.fromkeys(headers)
    used: set[str] = set()
    exact = _spellings(data_type, str)
    for header in headers:
        field = _only(exact.get(normalise_header(header), set()))
        if field is not None and field not in used and mapping[header] is None:
            mapping[header] = field
            used.add(field)
    unmatched = [h for h in mapping if mapping[h] is None]
    for header, field in _fuzzy_matches(data_type, unmatched, used).items():
        mapping[header] = field
    return mapping


def validate_mapping(
    data_type: DataType, headers: Sequence[str], mapping: Mapping[str, str | None]
) -> dict[str, str]:
    """The mapping without its ignored columns, field names made canonical.

    Raises ValidationFailed listing every problem: `mapping.<Header>` for a
    header the file lacks, an unknown field or a field mapped twice; `mapping`
    for a required field left unmapped (contacts' `name` is satisfied by
    `first_name` or `last_name`). An absent header mapped to None is ignored,
    so a saved template still fits a file without that column.
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
    errors.extend(_unmapped_required(data_type, owners))
    if errors:
        first = str(errors[0]["message"])
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValidationFailed(f"The column mapping cannot be used: {first}{more}.", errors)
    return result


def validate_mapping_for_mode(
    data_type: DataType, headers: Sequence[str], mapping: Mapping[str, str | None], mode: str
) -> dict[str, str]:
    """`validate_mapping` under an import mode's rules: `update` writes only the mapped
    fields of existing records, so no field is required, but every key field must be."""
    if mode != "update":
        return validate_mapping(data_type, headers, mapping)
    optional = tuple(replace(f, required=False) for f in data_type.fields)
    checked = validate_mapping(replace(data_type, fields=optional), headers, mapping)
    missing = [k for k in data_type.key_fields if k not in checked.values()]
    if missing:
        key = " + ".join(data_type.key_fields)
        raise ValidationFailed(
            f"Update mode matches records by {key}: map a column to {' and '.join(missing)}.",
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
        names = ", ".join(f.name for f in data_type.importable_fields)
        if isinstance(value, str) and value.strip() in data_type.field_names:
            return f"'{value.strip()}' is computed by {data_type.name}: it cannot be imported"
        return f"'{value}' is not one of the {data_type.name} fields ({names})"
    if field in owners:
        return f"'{field}' is already mapped from column '{owners[field]}'"
    return None


def _field_name(data_type: DataType, value: object) -> str | None:
    """The importable field `value` names (trimmed, case-insensitive), or None."""
    if not isinstance(value, str):
        return None
    wanted = value.strip().casefold()
    return next((f.name for f in data_type.importable_fields if f.name.casefold() == wanted), None)


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
    """Reduced normalised spelling → the fields (name, label or synonym) that have it."""
    table: dict[str, set[str]] = {}
    for field in data_type.importable_fields:
        for spelling in (field.name, field.label, *field.synonyms):
            key = reduce(normalise_header(spelling))
            if key:
                table.setdefault(key, set()).add(field.name)
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
