"""The `url` source type: a schedule's file downloaded over HTTP(S) at each run
(`{"type": "url", "url": "https://..."}`; the download itself is `sources.fetch_upload`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from crmferry.config import Settings
from crmferry.errors import ValidationFailed
from crmferry.imports.sources import fetch_upload, source_file_name
from crmferry.jobs.kinds import JobContext
from crmferry.jobs.sources import SourceType, register_source
from crmferry.outbound import OutboundPolicy, check_url

EXAMPLE = '{"type": "url", "url": "https://..."}'


def check_url_source(source: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """An http(s) URL with a host that the outbound guard lets through; ValidationFailed
    (field `source`), or OutboundRefused (field `source.url`, naming the rule)."""
    url = source.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        message = f"must be {EXAMPLE}"
        raise ValidationFailed(f"source {message}.", [{"field": "source", "message": message}])
    # refused now (422) rather than at each run
    check_url(str(url), OutboundPolicy.from_settings(settings), field="source.url")
    return {"type": "url", "url": url}


def _file_name(source: Mapping[str, Any]) -> str:
    return source_file_name(str(source["url"]))


def _location(source: Mapping[str, Any]) -> str:
    return str(source["url"])


def _fetch(ctx: JobContext, source: Mapping[str, Any]) -> dict[str, Any]:
    return fetch_upload(
        ctx.conn,
        ctx.settings,
        url=str(source["url"]),
        organization_id=ctx.organization_id,
        created_by=ctx.job["created_by"],
        data_type=ctx.job["data_type"],
        check=ctx.check,
    )


register_source(SourceType("url", check_url_source, _file_name, _location, _fetch, EXAMPLE))
