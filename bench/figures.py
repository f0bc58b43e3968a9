"""The figures the benchmarks print: one row per measured thing, beside PostgreSQL's
own figure from the same run, the ratio, the target and whether it is met.

Every script prints its rows as a Markdown table (readable on a terminal, pasted
as is into the README) and, with `--json PATH`, saves them for `bench/all.py`,
which joins the tables of every benchmark into one.
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    """One row. `met` is None for a figure that has no target (reported only)."""

    what: str
    ours: str
    postgres: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    minimum: float | None = None  # the ratio the target asks for, when it is one

    @property
    def verdict(self) -> str:
        """Met or missed, and by how much for a ratio target: the ratio as a share of
        the ratio asked for (a figure at 0.05× of a 0.1× target is at 50% of it)."""
        said = {True: "met", False: "**missed**", None: "—"}[self.met]
        if self.met is None or self.minimum is None or self.ratio is None:
            return said
        return f"{said} ({self.ratio / self.minimum:.0%} of the target)"


@dataclass
class Runs:
    """Seconds of repeated runs of one thing over `rows` rows; figures use the median."""

    rows: int
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rate(self) -> float:
        return self.rows / self.median

    def describe(self, unit: str = "rows/s") -> str:
        text = f"{self.median:.2f} s, {self.rate:,.0f} {unit}"
        if len(self.seconds) > 1:
            text += " (median of " + " / ".join(f"{s:.2f}" for s in self.seconds) + " s)"
        return text


def rate_figure(
    what: str,
    ours: Runs,
    baseline_name: str,
    baseline: Runs,
    minimum: float | None,
    target: str | None = None,
) -> Figure:
    """Our rate against a baseline's, met when the ratio is at least `minimum`."""
    ratio = ours.rate / baseline.rate
    return Figure(
        what,
        ours.describe(),
        f"{baseline_name}: {baseline.describe()}",
        ratio,
        target if target is not None else (f"≥ {minimum}×" if minimum is not None else ""),
        None if minimum is None else ratio >= minimum,
        minimum,
    )


def ceiling_figure(what: str, ours: str, value: float, limit: float, target: str) -> Figure:
    """A figure that must stay under a fixed limit (memory, latency)."""
    return Figure(what, ours, target=target, met=value < limit)


def markdown(figures: Sequence[Figure]) -> str:
    """The rows as a Markdown table: what, ours, PostgreSQL's, ratio, target, verdict."""
    lines = [
        "| what | ours | PostgreSQL alone, same run | ratio | target | |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures:
        ratio = f"{f.ratio:.2f}×" if f.ratio is not None else ""
        lines.append(f"| {f.what} | {f.ours} | {f.postgres} | {ratio} | {f.target} | {f.verdict} |")
    return "\n".join(lines)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (empty where /proc has none)."""
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else ""


def conditions(server: Any, load_at_start: str, **sizes: Any) -> str:
    """One line on where and when: date, PostgreSQL, cores, load averages, sizes."""
    where = "embedded" if server.embedded else "DATABASE_URL"
    parts = [
        datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        f"PostgreSQL {server.version} ({where})",
        f"{os.cpu_count()} cores",
        f"load average {load_at_start} at the start, {load_average()} at the end",
        *(f"{key.replace('_', ' ')} {value:,}" for key, value in sizes.items()),
    ]
    return "; ".join(parts)


def publish(
    title: str, figures: Sequence[Figure], notes: Sequence[str], json_path: str | None
) -> None:
    """Print the table (and its notes), and save it as JSON when asked."""
    print(f"\n### {title}\n\n{markdown(figures)}\n")
    for note in notes:
        print(f"* {note}")
    print(flush=True)
    if json_path:
        data = {"title": title, "figures": [asdict(f) for f in figures], "notes": list(notes)}
        Path(json_path).write_text(json.dumps(data, indent=1))


def load(json_path: Path) -> tuple[str, list[Figure], list[str]]:
    """A table saved by `publish`."""
    data = json.loads(json_path.read_text())
    return data["title"], [Figure(**f) for f in data["figures"]], data["notes"]
