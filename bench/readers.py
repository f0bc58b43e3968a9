"""Workbook readers side by side: our XLSX reader ("scanner": regular expressions over the
sheet's XML, `xlsx_scan`), the reader it replaced ("parser": ElementTree and openpyxl's
cell parsing, still used for sheets the scanner does not read) and python-calamine on
the same sheet, and calamine on the same rows as .xls/.ods.

    python bench/readers.py [--rows 200000] [--runs 3]

Each read runs in a fresh child process, which reads every row as our import does (the
cells as text) and reports its rows/s and peak RSS; figures are medians of --runs.
Reading only: what the rest of the import costs is the same for every reader, and
`bench/imports.py --format xlsx|xls|ods` measures the whole import. .xls holds at most
65,535 data rows: that file is written at min(rows, 65,535).
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from imports import generate, generate_workbook

XLS_MAX_ROWS = 65_535


def read_child(reader: str, path: str, queue: Any) -> None:
    """In a fresh process: every row of the file, as text, by `reader`."""
    from crmferry.imports.reading import DEFAULT_LIMITS, ReadChoices, iter_rows, sniff
    from crmferry.imports.reading.calamine_book import records_of, sniffer

    started = time.perf_counter()
    count = 0
    if reader == "scanner":
        info = sniff(path)
        for _ in iter_rows(path, info):
            count += 1
    elif reader == "parser":  # the sheet read as before the scanner: openpyxl's cells
        from crmferry.imports.reading import xlsx

        with xlsx._open_book(path, DEFAULT_LIMITS) as book:
            for _ in xlsx._parsed_records(book, xlsx._first_sheet(book)):
                count += 1
    else:  # calamine on any workbook, through our calamine reader
        fmt = Path(path).suffix[1:]
        info = sniffer(fmt)(path, b"", DEFAULT_LIMITS, ReadChoices())
        for _ in records_of(fmt)(path, info, DEFAULT_LIMITS):
            count += 1
    queue.put((count, time.perf_counter() - started, high_water_mb()))


def high_water_mb() -> float:
    """This process's peak RSS (VmHWM), which, unlike ru_maxrss, does not carry over the
    parent's peak into a child started by fork + exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def read_once(reader: str, path: Path) -> tuple[int, float, float]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=read_child, args=(reader, str(path), queue))
    child.start()
    result: tuple[int, float, float] = queue.get()
    child.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", default="xlsx,xls,ods")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="crmferry-bench-readers-"))
    try:
        source = work / "contacts.csv"
        generate(source, args.rows)
        runs: list[tuple[str, Path]] = []
        for fmt in args.formats.split(","):
            path = work / f"contacts.{fmt}"
            limit = XLS_MAX_ROWS if fmt == "xls" else None
            generate_workbook(source, path, fmt, limit)
            print(f"wrote {path.name}: {path.stat().st_size / 1e6:.1f} MB", flush=True)
            runs += [("scanner", path), ("parser", path)] if fmt == "xlsx" else []
            runs.append(("calamine", path))
        figures: dict[str, list[tuple[int, float, float]]] = {}
        for round_number in range(1, args.runs + 1):
            for reader, path in runs:
                result = read_once(reader, path)
                figures.setdefault(f"{reader} {path.suffix}", []).append(result)
                print(f"  round {round_number}: {reader} {path.name}: {result}", flush=True)
        print("\n| reader | rows | rows/s (median) | peak RSS MB (median) |\n|---|---|---|---|")
        for name, results in figures.items():
            rows = results[0][0]
            rate = statistics.median(count / seconds for count, seconds, _ in results)
            rss = statistics.median(r[2] for r in results)
            print(f"| {name} | {rows:,} | {rate:,.0f} | {rss:.0f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
