"""Which data type a file is, from its headers alone (a batch's files, a ZIP's entries).

Each registered type's suggested mapping (`suggest_mapping`) is tried; a type fits when
every required field is mapped (a composed field by any of its parts); the type mapping
the most columns wins, the type registered first on a tie (contacts before bids).
"""

from __future__ import annotations

from collections.abc import Sequence

from crmferry.imports.mapping import suggest_mapping
from crmferry.records import DATA_TYPES, DataType


def suggest_data_type(headers: Sequence[str]) -> str | None:
    """The name of the type these headers fit best; None when none fits."""
    best: tuple[int, str] | None = None
    for data_type in DATA_TYPES.values():
        mapped = {f for f in suggest_mapping(data_type, headers).values() if f}
        if not _fits(data_type, mapped):
            continue
        if best is None or len(mapped) > best[0]:
            best = (len(mapped), data_type.name)
    return best[1] if best else None


def _fits(data_type: DataType, mapped: set[str]) -> bool:
    for name in data_type.required_fields:
        parts = data_type.field(name).composed_from
        if name not in mapped and not any(p in mapped for p in parts):
            return False
    return True
