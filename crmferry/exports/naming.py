"""The name a result file is downloaded under: `<data_type>-<YYYYMMDD-HHMMSS>.<ext>`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crmferry.records import DataType


def result_file_name(data_type: DataType | str, when: datetime, tz: str, extension: str) -> str:
    """E.g. `contacts-20240501-093000.csv`: `when` shown in the zone `tz` (the
    organization's), `extension` without or with its dot (a format: csv, xlsx, jsonl).

    A naive `when` is taken as UTC; an unknown zone falls back to UTC.
    """
    name = data_type if isinstance(data_type, str) else data_type.name
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    local = aware.astimezone(_zone(tz))
    return f"{name}-{local:%Y%m%d-%H%M%S}.{extension.removeprefix('.')}"


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def download_name(row: dict[str, Any], path: Path) -> str:
    """A job's result file name (the download's, the mail attachment's):
    options["result_file_name"] when the kind chose one, else
    `<data_type>-<YYYYMMDD-HHMMSS>.<ext>` from when the job finished (UTC)."""
    chosen = (row["options"] or {}).get("result_file_name")
    if isinstance(chosen, str) and chosen:
        return chosen
    when: datetime = row["completed_at"] or row["created_at"]
    return result_file_name(row["data_type"], when, "UTC", path.suffix)
