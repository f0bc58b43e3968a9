"""A batch import: several files, each into its data type, as one job in one transaction.

The files run in the order the data types' links give (`run_order`: a type after every
type it links to — contacts and inventory before bids, bids before bid items — and
files of the same depth in the order given), each staged, validated and written as a
single import is (`kind.run_file`), on the job's one transaction: a bid's contact in
the same batch is found because its file was written first, and a failure, a cancel
or an aborting bad row anywhere leaves nothing of any file behind.

Batch options (one set for the whole batch; a file's own options may not repeat them):
`on_error` (`abort`, the default: one bad row in any file and nothing is written;
`skip`: bad rows are left out, the rest commits) and `dry_run` (every file is written
inside a savepoint, so that later files see earlier ones exactly as a run would, then
rolled back: the counts and reports are the real run's, and nothing stays).

A batch schedule keeps its files in `options.items`, each with its own source (one URL
per file); each run downloads every file first, types and maps it from its headers
where the schedule does not say, then orders and imports them as above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.errors import CrmFerryError, ValidationFailed
from crmferry.imports.mapping import suggest_mapping, validate_mapping_for_mode
from crmferry.imports.options import ON_ERROR, parse_import_options
from crmferry.imports.type_guess import suggest_data_type
from crmferry.imports.uploads import get_upload
from crmferry.jobs.sources import source_for
from crmferry.records import DATA_TYPES, DataType, get_data_type
from crmferry.records.links import MEMBERS

MAX_ITEMS = 20
BATCH_ONLY_OPTIONS = ("dry_run", "on_error")


@dataclass(frozen=True)
class BatchOptions:
    on_error: str = "abort"
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"on_error": self.on_error, "dry_run": self.dry_run}


def link_depth(data_type: DataType, seen: frozenset[str] = frozenset()) -> int:
    """0 for a type linking to no other type; else one more than the deepest it links to."""
    targets = [k.target for k in data_type.links if k.target != MEMBERS.name]
    depths = [
        link_depth(DATA_TYPES[t], seen | {data_type.name})
        for t in targets
        if t not in seen and t != data_type.name and t in DATA_TYPES
    ]
    return 1 + max(depths) if depths else 0


def run_order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`items` in the order they must run (stable within a depth)."""
    ranked = sorted(
        enumerate(items), key=lambda p: (link_depth(get_data_type(p[1]["data_type"])), p[0])
    )
    return [item for _, item in ranked]


def parse_batch_options(raw: object) -> BatchOptions:
    """The batch's own options; 422 naming a bad or unknown one."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise _invalid("options", "must be an object")
    for key in raw:
        if key not in BATCH_ONLY_OPTIONS:
            raise _invalid(
                f"options.{key}",
                "is not a batch option (dry_run, on_error); a file's own options go in its item",
            )
    on_error = raw.get("on_error", "abort")
    if on_error not in ON_ERROR:
        raise _invalid("options.on_error", f"must be one of {', '.join(ON_ERROR)}")
    dry_run = raw.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise _invalid("options.dry_run", "must be true or false")
    return BatchOptions(on_error=str(on_error), dry_run=dry_run)


def prepare_items(conn: Conn, raw: object) -> list[dict[str, Any]]:
    """Each item checked (its upload here, its type — suggested from the headers when not
    given —, its mapping — suggested when not given — and its options), in run order."""
    if not isinstance(raw, list) or not raw:
        raise _invalid("items", "must be a non-empty list of files")
    if len(raw) > MAX_ITEMS:
        raise _invalid("items", f"may hold at most {MAX_ITEMS} files")
    return run_order([_prepare_item(conn, i, item) for i, item in enumerate(raw)])


def _prepare_item(conn: Conn, index: int, item: object) -> dict[str, Any]:
    where = f"items[{index}]"
    if not isinstance(item, dict) or item.get("upload_id") is None:
        raise _invalid(f"{where}.upload_id", "is required")
    upload = get_upload(conn, item["upload_id"])
    headers = list(upload["headers"])
    type_name = item.get("data_type") or upload.get("data_type") or suggest_data_type(headers)
    if type_name is None:
        raise _invalid(
            f"{where}.data_type",
            f"{upload['file_name']}: its headers fit no data type; name one of "
            + ", ".join(DATA_TYPES),
        )
    if type_name not in DATA_TYPES:
        raise _invalid(f"{where}.data_type", f"must be one of {', '.join(DATA_TYPES)}")
    data_type = get_data_type(type_name)
    own = item.get("options") or {}
    for key in BATCH_ONLY_OPTIONS:
        if isinstance(own, dict) and key in own:
            raise _invalid(f"{where}.options.{key}", "is set on the batch's options, not a file's")
    try:
        parsed = parse_import_options(own)
        mapping = item.get("mapping") or suggest_mapping(data_type, headers)
        checked = validate_mapping_for_mode(data_type, headers, mapping, parsed.mode)
    except ValidationFailed as exc:
        errors = [{**e, "field": f"{where}.{e.get('field')}"} for e in exc.errors or []]
        raise ValidationFailed(f"{upload['file_name']}: {exc.detail}", errors) from None
    return {
        "upload_id": str(upload["id"]),
        "file_name": upload["file_name"],
        "data_type": data_type.name,
        "mapping": checked,
        "options": parsed.as_dict(),
        "row_estimate": upload["row_estimate"],
    }


def check_scheduled_items(raw: object, settings: Settings) -> list[dict[str, Any]]:
    """A batch schedule's files: each with a `source` its type accepts, and optionally its
    `data_type`, `mapping` and `options` (checked as far as they can be without the file;
    what is left out is suggested from each downloaded file's headers)."""
    if not isinstance(raw, list) or not raw:
        raise _invalid("options.items", "must be a non-empty list of files, each with a source")
    if len(raw) > MAX_ITEMS:
        raise _invalid("options.items", f"may hold at most {MAX_ITEMS} files")
    return [_scheduled_item(i, item, settings) for i, item in enumerate(raw)]


def _scheduled_item(index: int, item: object, settings: Settings) -> dict[str, Any]:
    where = f"options.items[{index}]"
    if not isinstance(item, dict) or not isinstance(item.get("source"), dict):
        raise _invalid(f"{where}.source", 'is required, e.g. {"type": "url", "url": "https://..."}')
    try:
        source_type = source_for(item["source"])
        source = source_type.check(item["source"], settings)
    except ValidationFailed as exc:
        errors = [{**e, "field": f"{where}.{e.get('field')}"} for e in exc.errors or []]
        raise ValidationFailed(exc.detail, errors) from None
    type_name = item.get("data_type")
    if type_name is not None and type_name not in DATA_TYPES:
        raise _invalid(f"{where}.data_type", f"must be one of {', '.join(DATA_TYPES)}")
    own = item.get("options") or {}
    for key in BATCH_ONLY_OPTIONS:
        if isinstance(own, dict) and key in own:
            raise _invalid(f"{where}.options.{key}", "is set on the batch's options, not a file's")
    mapping = item.get("mapping")
    if mapping is not None and not isinstance(mapping, dict):
        raise _invalid(f"{where}.mapping", 'must be an object {"Header": "field" | null}')
    if mapping and type_name:
        validate_mapping_for_mode(
            get_data_type(type_name), list(mapping), mapping, parse_import_options(own).mode
        )
    return {
        "source": source,
        "file_name": source_type.file_name(source),
        "data_type": type_name,
        "mapping": mapping,
        "options": parse_import_options(own).as_dict(),
    }


def fetched_item(item: dict[str, Any], upload: dict[str, Any]) -> dict[str, Any]:
    """A scheduled file once downloaded: its type and mapping as given, else suggested from
    its headers, checked against them (ValidationFailed saying what does not fit)."""
    headers = list(upload["headers"])
    type_name = item.get("data_type") or suggest_data_type(headers)
    if type_name is None:
        raise ValidationFailed(
            f"its headers fit no data type; name one of {', '.join(DATA_TYPES)} for it"
        )
    data_type = get_data_type(type_name)
    options = parse_import_options(item.get("options") or {})
    mapping = item.get("mapping") or suggest_mapping(data_type, headers)
    checked = validate_mapping_for_mode(data_type, headers, mapping, options.mode)
    return {
        **item,
        "upload_id": str(upload["id"]),
        "file_name": upload["file_name"],
        "data_type": type_name,
        "mapping": checked,
        "options": options.as_dict(),
        "row_estimate": upload["row_estimate"],
    }


def file_problem(item: dict[str, Any], exc: CrmFerryError) -> str:
    """Why a batch stopped at a file that could not be fetched or read."""
    source = item.get("source")
    where = (
        source.get("url") if isinstance(source, dict) and item.get("upload_id") is None else None
    )
    kind = f" ({item['data_type']})" if item.get("data_type") else ""
    return f"{where or item['file_name']}{kind}: {exc.detail}"


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field} {message}.", [{"field": field, "message": message}])
