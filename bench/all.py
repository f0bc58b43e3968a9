"""Every benchmark at one size, and their figures as one Markdown table.

    python bench/all.py [--rows 1000000] [--runs 3] [--xlsx-rows N] [--engine-jobs 2000]
                        [--only NAME ...] [--out bench-results.md]

Runs, one after the other, each in its own process (each with its own scratch
database: DATABASE_URL's server, or an embedded PostgreSQL):

* `imports.py --format xlsx`: CSV imports (fresh and again) and the XLSX import of
  --rows contacts, against the import limit;
* `exports.py`: CSV, JSON Lines and XLSX exports of --rows contacts (XLSX of
  --xlsx-rows, default all of them), against the export limit;
* `engine.py`: start lag and trivial jobs per second, against the claim limit;
* `api.py`: the read endpoints with --rows contacts and a tenth as many jobs;
* `scale.py`, when it exists (it is run like the others: `--json PATH`).

Each script prints its own table as it finishes; this one then writes all of them as
one table (what, ours, PostgreSQL alone in the same run, ratio, target, met or
missed) with every script's notes (date, PostgreSQL, load average, sizes) to --out
and prints it. The exit status is 1 when a benchmark failed to run (its rows are
missing then), not when a target is missed.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from figures import Figure, load, markdown

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Script:
    """A benchmark script and its arguments for the sizes asked for."""

    name: str
    arguments: Callable[[Any], list[str]]

    @property
    def path(self) -> Path:
        return BENCH / f"{self.name}.py"


SCRIPTS = (
    Script("imports", lambda a: ["--rows", str(a.rows), "--runs", str(a.runs), "--format", "xlsx"]),
    Script(
        "exports",
        lambda a: (
            ["--rows", str(a.rows), "--runs", str(a.runs)]
            + (["--xlsx-rows", str(a.xlsx_rows)] if a.xlsx_rows else [])
        ),
    ),
    Script("engine", lambda a: ["--jobs", str(a.engine_jobs)]),
    Script("api", lambda a: ["--contacts", str(a.rows), "--jobs", str(max(1000, a.rows // 10))]),
    # bench/scale.py is written later: it joins the table once the file exists (set its
    # arguments here then; like every script it must take --json PATH)
    Script("scale", lambda a: ["--rows", str(a.rows)]),
)


def run(script: Script, args: Any, folder: Path) -> tuple[str, list[Figure], list[str]] | None:
    """One script's table, or None when it failed (its output says why)."""
    saved = folder / f"{script.name}.json"
    command = [sys.executable, str(script.path), *script.arguments(args), "--json", str(saved)]
    print(f"\n$ {shlex.join(command[1:])}", flush=True)
    started = time.perf_counter()
    finished = subprocess.run(command, check=False)
    print(f"({script.name}: {time.perf_counter() - started:.0f} s)", flush=True)
    if finished.returncode != 0 or not saved.exists():
        return None
    return load(saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="contacts per benchmark")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (figures are medians)")
    parser.add_argument("--xlsx-rows", type=int, help="rows of the XLSX export (default --rows)")
    parser.add_argument("--engine-jobs", type=int, default=2000)
    parser.add_argument("--only", nargs="*", choices=[s.name for s in SCRIPTS])
    parser.add_argument("--out", default="bench-results.md", help="where the Markdown goes")
    args = parser.parse_args()

    chosen = [s for s in SCRIPTS if not args.only or s.name in args.only]
    tables, failed = [], []
    with tempfile.TemporaryDirectory(prefix="crmferry-bench-all-") as folder:
        for script in chosen:
            if not script.path.exists():
                continue
            result = run(script, args, Path(folder))
            if result is None:
                failed.append(script.name)
            else:
                tables.append(result)
    text = report(tables, failed, sys.argv[1:])
    Path(args.out).write_text(text)
    print(f"\n{text}\nwritten to {args.out}")
    raise SystemExit(1 if failed else 0)


def report(
    tables: list[tuple[str, list[Figure], list[str]]], failed: list[str], argv: list[str]
) -> str:
    """Every table's rows as one table, then each one's notes."""
    rows = [row for _, figures, _ in tables for row in figures]
    lines = [
        f"Measured with `{shlex.join(['python', 'bench/all.py', *argv])}`.",
        "",
        markdown(rows),
        "",
    ]
    for title, _, notes in tables:
        lines.append(f"* {title}: " + "; ".join(notes))
    if failed:
        lines.append(f"* did not run to the end (no figures): {', '.join(failed)}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
