"""GET /metrics: Prometheus text. Unauthenticated like /healthz (operators scrape it);
it shows counts and timings across organizations, never tenant data."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from crmferry.web.deps import DB

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


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(db: DB) -> PlainTextResponse:
    with db.anonymous() as conn:
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


def _sample(name: str, key: str, label: str | None, value: float) -> str:
    if label is None:
        return f"{name} {value:g}"
    tag = "status" if key == "jobs" else "quantile"
    return f'{name}{{{tag}="{label}"}} {value:g}'
