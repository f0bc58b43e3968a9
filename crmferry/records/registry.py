"""The registered data types, by name, in the order they were registered.

Registering checks that a description holds together (its links, composed fields,
search fields and export-only fields name things that exist) and refuses a name or
a table registered twice: a mistake found when the process starts, not a silent
override.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from crmferry.records.fields import TEXT_LIKE, DataType
from crmferry.records.links import MEMBERS, Link, LinkTarget


class DataTypeAlreadyRegistered(ValueError):
    """A data type's name (or table) is registered already."""


class DataTypeInvalid(ValueError):
    """A description that names a field, link or target that does not exist."""


class DataTypes(Mapping[str, DataType]):
    """Name → data type, in registration order."""

    def __init__(self) -> None:
        self._types: dict[str, DataType] = {}

    def __getitem__(self, name: str) -> DataType:
        return self._types[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def register(self, data_type: DataType) -> DataType:
        """Make `data_type` known to every layer; DataTypeAlreadyRegistered for a name or
        table taken, DataTypeInvalid for a description that does not hold together."""
        if data_type.name in self._types or data_type.name == MEMBERS.name:
            raise DataTypeAlreadyRegistered(f"data type {data_type.name!r} is registered already")
        if any(t.table == data_type.table for t in self._types.values()):
            raise DataTypeAlreadyRegistered(f"table {data_type.table!r} has a data type already")
        for problem in _problems(self, data_type):
            raise DataTypeInvalid(f"data type {data_type.name!r}: {problem}")
        self._types[data_type.name] = data_type
        return data_type

    def unregister(self, name: str) -> None:
        """Forget a data type (a plugin withdrawing one); KeyError when it is unknown,
        DataTypeInvalid while another registered type links to it."""
        linked = [t.name for t in self._types.values() for k in t.links if k.target == name]
        if linked:
            raise DataTypeInvalid(f"{', '.join(linked)} link to {name!r}")
        del self._types[name]

    def included(self, name: str) -> dict[str, tuple[DataType, Link]]:
        """What an export of type `name` may include: the name each linking type's link
        gives its records (`included_as`) → (that type, its link)."""
        return {
            link.included_as: (t, link)
            for t in self._types.values()
            for link in t.links
            if link.target == name and link.included_as and link.id_column
        }

    def link_target(self, name: str) -> LinkTarget:
        """What a link's `target` names: a registered data type, or the members."""
        if name == MEMBERS.name:
            return MEMBERS
        t = self._types[name]
        return LinkTarget(t.name, t.table, t.key_fields, t.key_case_insensitive)


DATA_TYPES = DataTypes()


def get_data_type(name: str) -> DataType:
    """The data type named `name`; KeyError for an unknown one."""
    return DATA_TYPES[name]


def _problems(registry: DataTypes, t: DataType) -> Iterator[str]:
    names = t.field_names
    if len(set(names)) != len(names):
        yield "a field name is used twice"
    if not t.key_fields:
        yield "no field is marked key (update and upsert match on the natural key)"
    for f in t.fields:
        for part in f.composed_from:
            if part not in names:
                yield f"{f.name} is composed from {part!r}, which is not one of its fields"
    for link in t.links:
        yield from _link_problems(registry, t, link)
    for name in t.search_fields:
        if name not in names or t.field(name).type not in TEXT_LIKE:
            yield f"search field {name!r} is not one of its text fields"
    link_names = {k.name for k in t.links if k.id_column}
    for f in t.extra_export_fields:
        if f.through is None or f.through.link not in link_names:
            yield f"export-only field {f.name!r} names no link that keeps an id"


def _link_problems(registry: DataTypes, t: DataType, link: Link) -> Iterator[str]:
    for name in link.fields:
        if name not in t.field_names:
            yield f"link {link.name!r} names {name!r}, which is not one of its fields"
    try:
        target = registry.link_target(link.target)
    except KeyError:
        yield f"link {link.name!r} points at {link.target!r}, which is not registered"
        return
    if link.key != target.key or len(link.fields) != len(link.key):
        yield f"link {link.name!r} must match {link.target}'s key {target.key} field for field"
    if (link.included_as or link.rollup) and not link.id_column:
        yield f"link {link.name!r} is included or rolled up but keeps no id"
    if link.rollup is not None:
        parent, child = link.rollup
        target_fields = registry[link.target].field_names if link.target in registry else ()
        if child not in t.field_names or parent not in target_fields:
            yield f"link {link.name!r} rolls up {link.rollup}, fields that do not exist"
