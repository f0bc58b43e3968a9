"""JSON Lines (one JSON object per line, UTF-8): what our own exports write, read back.

The columns are the keys of the file's first lines (SAMPLE_BYTES of them, at least one
line), in the order they first appear; the header is not a row of the file, so it is
numbered 0 and every line keeps its own number, the one an error report names. Values
come as text: strings as they are, numbers as their exact text in the file (`12.10`
stays "12.10", never through a float), true/false as "true"/"false", null as blank.

What a line gets wrong is a row error of that line (`FlawedCells`), never the whole
file's: text that is not JSON (with the parser's column), a value that is not an object,
a nested object or array, a key the first lines do not have (the header cannot grow in
the middle of a stream), a key given twice, bytes that are not UTF-8 past the sample,
and a change export's `{"deleted": {...}}` line (imports do not delete records). In the
sample, bytes that are not UTF-8 refuse the file: RFC 8259 says JSON Lines is UTF-8.
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, BinaryIO

from crmferry.errors import FileUnreadable, ValidationFailed
from crmferry.imports.reading.info import (
    NO_CHOICES,
    SAMPLE_BYTES,
    FileInfo,
    FlawedCells,
    ReadChoices,
    ReadLimits,
    Record,
    StrPath,
)
from crmferry.imports.reading.rows import (
    PreviewProblems,
    check_last_row,
    clean_headers,
    data_rows,
    preview_rows,
    split_header,
    up_to,
)

HEADER_NUMBER = 0  # the header is not a line of the file: the keys name the columns
# One line holds one record: long cells, but never a whole file without a line break.
MAX_LINE_BYTES = 16 * 1024 * 1024
_SNIFF_MAX_LINES = 10_000
_BOM = codecs.BOM_UTF8
_UTF8_NAMES = {"utf-8", "utf-8-sig", "utf8"}


# ---------------------------------------------------------------- sniffing


def sniff_jsonl(
    path: StrPath, head: bytes, limits: ReadLimits, choices: ReadChoices = NO_CHOICES
) -> FileInfo:
    """Describe the JSON Lines file: its keys as headers, the preview, the row estimate.

    FileUnreadable for a sample that is not UTF-8 or holds no key; ValidationFailed for
    a header row or an encoding chosen for it (it has neither), or past a limit."""
    _refuse_choices(choices)
    with open(path, "rb") as raw:
        sample = _sample(raw)
    keys = _keys(sample.lines)
    headers = _column_names(keys)
    check_last_row(choices.last_row, HEADER_NUMBER)
    lines = iter(sample.lines)
    records = up_to(_records(lines, keys, headers), choices.last_row)
    split_header(records, header_row=HEADER_NUMBER)
    problems = PreviewProblems()
    rows = data_rows(records, HEADER_NUMBER, headers, limits, problems.add)
    preview = preview_rows(rows)
    counted = len(preview) + sum(1 for _ in rows)
    estimate = counted
    if not sample.whole:
        share = os.path.getsize(path) / max(sample.size, 1)
        estimate = max(round(counted * share), counted)
        if choices.last_row is not None:
            estimate = max(min(estimate, choices.last_row), counted)
    return FileInfo(
        "jsonl",
        "utf-8-sig" if sample.bom else "utf-8",
        None,
        tuple(headers),
        preview,
        estimate,
        HEADER_NUMBER,
        last_row=choices.last_row,
        encoding_confidence=1.0,
        problems=tuple(problems),
    )


def jsonl_records(
    path: StrPath, info: FileInfo, limits: ReadLimits
) -> Generator[Record, None, None]:
    """The header (numbered 0), then every line of the file as a record numbered as the
    file numbers its lines, streamed one line at a time."""
    with open(path, "rb") as raw:
        keys = _keys(_sample(raw).lines)
        headers = _column_names(keys)
        if tuple(headers) != tuple(info.headers):
            raise FileUnreadable(
                "The keys of the file's first lines are not those found when it was "
                "uploaded; was the file replaced?"
            )
        raw.seek(0)
        yield from _records(_parsed_lines(raw, strict=False), keys, headers)


def _refuse_choices(choices: ReadChoices) -> None:
    if choices.header_row not in (None, HEADER_NUMBER):  # (read again as it was uploaded)
        message = "a JSON Lines file has no header row: the keys of its objects name the columns"
        raise ValidationFailed(
            f"header_row: {message}.", [{"field": "header_row", "message": message}]
        )
    if choices.encoding is not None and choices.encoding.lower() not in _UTF8_NAMES:
        message = "a JSON Lines file is UTF-8 (RFC 8259); no other encoding can be chosen"
        raise ValidationFailed(f"encoding: {message}.", [{"field": "encoding", "message": message}])
    if choices.sheet is not None:
        message = "a JSON Lines file has no sheets"
        raise ValidationFailed(f"sheet: {message}.", [{"field": "sheet", "message": message}])


# ---------------------------------------------------------------- lines


class _Object(list[tuple[str, Any]]):
    """A JSON object's (key, value) pairs in the file's order (duplicates kept)."""


@dataclass(frozen=True)
class _Broken:
    """A line that holds no object: why."""

    problem: str


Line = tuple[int, "_Object | _Broken | None"]  # None: a blank line


@dataclass(frozen=True)
class _Sample:
    lines: list[Line]
    size: int  # bytes of the file the lines take
    whole: bool  # the lines are the whole file
    bom: bool


def _sample(raw: BinaryIO) -> _Sample:
    """The file's first lines, SAMPLE_BYTES of them (at least one line, at most
    _SNIFF_MAX_LINES): bytes that are not UTF-8 among them refuse the file."""
    lines = list(islice(_parsed_lines(raw, strict=True, budget=SAMPLE_BYTES), _SNIFF_MAX_LINES))
    size = raw.tell()
    whole = not raw.read(1)
    raw.seek(0)
    return _Sample(lines, size, whole, raw.read(len(_BOM)) == _BOM)


def _parsed_lines(raw: BinaryIO, strict: bool, budget: int | None = None) -> Iterator[Line]:
    """Each line of the file, numbered from 1, parsed. `strict`: FileUnreadable for bytes
    that are not UTF-8 (else the line's row error). With `budget`, no line starts once
    that many bytes are read."""
    if raw.read(len(_BOM)) != _BOM:
        raw.seek(0)
    number = 0
    while budget is None or raw.tell() < budget:
        line = raw.readline(MAX_LINE_BYTES)
        if not line:
            return
        number += 1
        if len(line) >= MAX_LINE_BYTES and not line.endswith(b"\n"):
            raise FileUnreadable(
                f"Line {number:,} is longer than {MAX_LINE_BYTES:,} bytes; this does not "
                "look like a JSON Lines file."
            )
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = (
                f"holds bytes that are not UTF-8 (at byte {exc.start + 1:,} of the line); "
                "JSON Lines files are UTF-8 (RFC 8259)"
            )
            if strict:
                raise FileUnreadable(
                    f"The file is JSON Lines, but line {number:,} {problem}: save it as UTF-8."
                ) from exc
            yield number, _Broken(problem)
            continue
        yield number, _parsed(text)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


# One decoder for every line (json.loads would build one per call): numbers kept as
# their text, objects as their pairs in order.
_DECODER = json.JSONDecoder(
    parse_float=str, parse_int=str, parse_constant=_reject_constant, object_pairs_hook=_Object
)


def _parsed(text: str) -> _Object | _Broken | None:
    """The line's object; None for a blank line."""
    if not text.strip():
        return None
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        shown = text.strip()
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return _Broken(
            f"is not valid JSON: {exc.msg} at column {exc.colno:,} of the line ({shown!r})"
        )
    except ValueError as exc:
        return _Broken(f"is not valid JSON: {exc}")
    except RecursionError:
        return _Broken("nests its values too deeply to be read (a column takes one value)")
    if not isinstance(value, _Object):
        return _Broken(f"holds {_kind(value)}, not a JSON object")
    return value


def _kind(value: object) -> str:
    if isinstance(value, _Object):
        return "an object"
    if isinstance(value, list):
        return f"an array of {len(value):,} value{'' if len(value) == 1 else 's'}"
    return "a string or a number" if isinstance(value, str) else "true, false or null"


# ---------------------------------------------------------------- records


def _deletion(value: _Object) -> bool:
    """A change export's `{"deleted": {...}}` line."""
    return len(value) == 1 and value[0][0] == "deleted" and isinstance(value[0][1], _Object)


def _keys(lines: list[Line]) -> list[str]:
    """The keys of the lines' objects in first-seen order (deletions left out)."""
    seen: dict[str, None] = {}
    for _, value in lines:
        if isinstance(value, _Object) and not _deletion(value):
            seen.update((key, None) for key, _ in value)
    if not seen:
        raise FileUnreadable(
            "The file's first lines hold no JSON object with keys: there are no columns to import."
        )
    return list(seen)


def _column_names(keys: list[str]) -> list[str]:
    """The keys as column names (`clean_headers`, one name per key: a blank key is
    "Column N")."""
    named = [key.replace("\x00", "").strip() or f"Column {i}" for i, key in enumerate(keys, 1)]
    return clean_headers(named)


def _records(lines: Iterator[Line], keys: list[str], headers: list[str]) -> Iterator[Record]:
    """The header record, then each line as cells in the keys' order."""
    yield HEADER_NUMBER, list(headers)
    places = {key: index for index, key in enumerate(keys)}
    in_order = tuple(keys)
    for number, value in lines:
        if value is None:
            yield number, []
        elif isinstance(value, _Broken):
            yield number, FlawedCells([""] * len(keys), value.problem, 0, column="")
        else:
            yield number, _in_order(value, in_order) or _cells(value, places, headers)


def _in_order(value: _Object, keys: tuple[str, ...]) -> list[str] | None:
    """The cells of an object with every key in the header's order and only scalar
    values, as every line of our own exports has them (the common case, made cheap);
    None for any other, which `_cells` reads."""
    if len(value) != len(keys) or tuple(key for key, _ in value) != keys:
        return None
    cells = [item if type(item) is str else _scalar(item) for _, item in value]
    return None if None in cells else cells  # type: ignore[return-value]


def _scalar(value: object) -> str | None:
    """A JSON scalar that is not a string as a cell; None for an object or array."""
    return None if isinstance(value, list) else _text(value)


def _cells(value: _Object, places: dict[str, int], headers: list[str]) -> list[str]:
    """The object's values at their keys' places; FlawedCells for what the line gets wrong
    (the first thing found, named by its key)."""
    cells = [""] * len(places)
    if _deletion(value):
        deleted = dict(value[0][1])
        what = f"record {deleted['id']}" if isinstance(deleted.get("id"), str) else "a record"
        problem = (
            f"records the deletion of {what} (a change export's line): "
            "imports do not delete records, so it is not imported"
        )
        return FlawedCells(cells, problem, 0, column="deleted")
    flaw: tuple[str, int, str] | None = None
    filled: set[int] = set()
    for key, item in value:
        place = places.get(key)
        if place is None:
            flaw = flaw or (_unknown_key(key), 0, key)
            continue
        if place in filled:
            flaw = flaw or (f"has the key {key!r} twice", place, headers[place])
        filled.add(place)
        if isinstance(item, list):
            flaw = flaw or (_nested(key, item), place, headers[place])
            continue
        cells[place] = _text(item)
    if flaw is not None:
        return FlawedCells(cells, flaw[0], flaw[1], column=flaw[2])
    return cells


def _unknown_key(key: str) -> str:
    return (
        f"has the key {key!r}, which the file's first lines do not have: its columns are "
        "the keys of its first lines, so this line was not imported (give every line the "
        "same keys, null for none)"
    )


def _nested(key: str, item: list[Any]) -> str:
    return (
        f"holds {_kind(item)} under {key!r}: a column takes one value (text, a number, "
        "true, false or null), so this line was not imported"
    )


def _text(value: object) -> str:
    """A JSON scalar as a cell (numbers arrive as their text, from the parser)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)
