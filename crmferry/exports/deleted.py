"""The deletions an incremental export covered, as the CSV `GET /jobs/{id}/deleted` serves
(see `crmferry.exports.changes`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from crmferry.db import Conn
from crmferry.exports.changes import ChangeWindow, deleted_rows
from crmferry.exports.formulas import neutralise_formula
from crmferry.records import DataType


def deleted_csv(
    conn: Conn, data_type: DataType, window: ChangeWindow, upto_snapshot: str
) -> Iterator[bytes]:
    """The deletions an incremental export covered, as CSV (CRLF; `id`, the natural
    key, `deleted_at`); text neutralised against formulas as in every export."""
    keys = list(data_type.key_fields)
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    out.writerow(["id", *keys, "deleted_at"])
    for i, row in enumerate(deleted_rows(conn, data_type, window, upto_snapshot)):
        values = [row[k] for k in keys]
        out.writerow(
            [
                row["id"],
                *(neutralise_formula(v) if isinstance(v, str) else v for v in values),
                row["deleted_at"].isoformat(),
            ]
        )
        if i % 1000 == 999:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
