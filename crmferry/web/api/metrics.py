"""GET /metrics: Prometheus text: counts and timings across organizations, never
tenant data. Open like /healthz, unless CRMFERRY_METRICS_TOKEN is set: then only
with `Authorization: Bearer <that token>`."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from crmferry.web.deps import DB, AppSettings, bearer_token
from crmferry.web.problems import problem

router = APIRouter(tags=["operations"])

METRICS = "SELECT * FROM crmferry_job_metrics()"

HELP = {
    "jobs": ("crmferry_jobs", "gauge", "Jobs by status."),
    "queue_lag_seconds": (
        "crmferry_queue_lag_seconds",
        "gauge",
        "Seconds since the oldest due pending job was due (0: none waiting).",
    ),
    "run_seconds": (
        "crmferry_job_run_seconds",
        "summary",
        "Run time of jobs completed in the last hour.",
    ),
    "rows_per_second": (
        "crmferry_job_rows_per_second",
        "gauge",
        "Records per second of run time, jobs completed in the last hour.",
    ),
}


@router.get("/metrics", response_class=PlainTextResponse, response_model=None)
def metrics(request: Request, db: DB, settings: AppSettings) -> Response:
    """Jobs by status, queue lag, run durations, rows per second."""
    if not _token_accepted(request, settings.metrics_token):
        # answered here: a scraper gets a 401, not the sign-in page an unauthenticated
        # GET outside /api/ is sent to
        return problem(
            401,
            "Authentication required",
            "/metrics needs 'Authorization: Bearer <CRMFERRY_METRICS_TOKEN>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with db.autocommit() as conn:  # one statement, its own transaction: one round trip
        rows = conn.execute(METRICS).fetchall()
    lines: list[str] = []
    for key, (name, kind, text) in HELP.items():
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        for row in rows:
            if row["name"] == key:
                lines.append(_sample(name, key, row["label"], row["value"]))
            elif key == "run_seconds" and row["name"] in ("run_seconds_sum", "run_seconds_count"):
                lines.append(f"{name}_{row['name'].rsplit('_', 1)[1]} {row['value']:g}")
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


def _token_accepted(request: Request, expected: str | None) -> bool:
    if expected is None:
        return True
    sent = bearer_token(request) or ""
    return hmac.compare_digest(sent.encode(), expected.encode())


def _sample(name: str, key: str, label: str | None, value: float) -> str:
    if label is None:
        return f"{name} {value:g}"
    tag = "status" if key == "jobs" else "quantile"
    return f'{name}{{{tag}="{label}"}} {value:g}'
