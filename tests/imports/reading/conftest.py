"""Reading tests' helpers: the golden files, writing a file, reading it whole."""

from __future__ import annotations

from pathlib import Path

from crmferry.imports.reading import DEFAULT_LIMITS, ReadLimits, iter_rows, sniff

FILES = Path(__file__).parent.parent / "files"


def rows(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> list[tuple[int, list[str]]]:
    return list(iter_rows(path, sniff(path, limits), limits))


def write(tmp_path: Path, data: bytes | str, name: str = "upload.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path
