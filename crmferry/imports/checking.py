"""What an import would say about the first rows of an upload, before it is started.

`POST /uploads/{id}/check` stages the first `CHECK_ROWS` rows exactly as a job does
(the same staging, validation and counts, see `kind._run`), reports their problems
and what would change, and writes nothing: everything lives in temporary tables of a
savepoint that is rolled back.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from crmferry.config import Settings
from crmferry.db import Conn
from crmferry.imports import merge, staging, validate
from crmferry.imports.mapping import validate_mapping_for_mode
from crmferry.imports.option_checks import check_options_fit
from crmferry.imports.options import parse_import_options
from crmferry.imports.reading import ReadLimits, iter_rows, sniff
from crmferry.imports.report import REPORT_ERRORS
from crmferry.imports.stored_source import stored_upload
from crmferry.imports.uploads import get_upload, read_choices
from crmferry.records import DataType

CHECK_ROWS = 1000
MAX_ERRORS = 500

# the report's errors, in the same order, one more than are shown (so a cut is seen)
FIRST_ERRORS = REPORT_ERRORS + " LIMIT %s"


class _Rollback(Exception):
    """Ends the check's savepoint: nothing of it is kept."""


def check_first_rows(
    conn: Conn,
    settings: Settings,
    upload_id: object,
    data_type: DataType,
    raw_mapping: dict[str, Any],
    raw_options: dict[str, Any] | None,
) -> dict[str, Any]:
    """The first rows' problems (at most MAX_ERRORS, with the cell's value and column)
    and counts, under this mapping and these options (404/422 as for a job)."""
    upload = get_upload(conn, upload_id)
    options = parse_import_options(raw_options)
    headers = list(upload["headers"])
    mapping = validate_mapping_for_mode(
        data_type, headers, raw_mapping, options.mode, options.defaults
    )
    check_options_fit(conn, data_type, options)
    limits = ReadLimits.from_settings(settings)
    # streamed from the store (a workbook from a local copy, removed at once)
    source = stored_upload(settings, upload["storage_path"])
    info = sniff(source, limits, read_choices(upload, options.as_dict()))
    rows = list(islice(iter_rows(source, info, limits), CHECK_ROWS))
    fields = list(mapping.values())
    positions = [list(info.headers).index(h) for h in mapping]
    result: dict[str, Any] = {}
    try:
        with conn.transaction():
            staging.create_raw_table(conn, validate.staged_fields(fields, options))
            staging.copy_rows(conn, fields, positions, rows, lambda _: None)
            plan = validate.build_rows(conn, data_type, fields, options)
            counts = merge.count_rows(conn)
            merge.preview_counts(conn, plan, options, counts)
            found = conn.execute(FIRST_ERRORS, [MAX_ERRORS + 1]).fetchall()
            result = {"rows_checked": counts.total, "counts": counts.as_dict()}
            result |= _errors(found, rows, list(info.headers), mapping)
            raise _Rollback
    except _Rollback:
        pass
    return result


def _errors(
    found: list[dict[str, Any]],
    rows: list[tuple[int, list[str]]],
    headers: list[str],
    mapping: dict[str, str],
) -> dict[str, Any]:
    cells = dict(rows)
    column_of = {field: header for header, field in mapping.items()}
    errors = []
    for item in found[:MAX_ERRORS]:
        header = column_of.get(item["field"])
        row = cells.get(item["row_number"], [])
        position = headers.index(header) if header is not None else None
        value = row[position] if position is not None and position < len(row) else ""
        errors.append(
            {
                "row_number": item["row_number"],
                "column": header,
                "field": item["field"],
                "value": value,
                "message": item["message"],
            }
        )
    return {"errors": errors, "errors_truncated": len(found) > MAX_ERRORS}
