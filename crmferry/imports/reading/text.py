"""Text tables (CSV, TSV, TXT): sniffing the encoding (`charset`) and the delimiter,
then streaming every CSV record.

The delimiter is the one of `, ; TAB |` that splits the sample most consistently into
the header's width (csv.Sniffer breaks ties). A record is numbered by its CSV record
number: a quoted cell spanning three lines is still one row, as a spreadsheet shows it.

The file is a `Source` read front to back, never seeked: each pass (the encoding check,
a footer's count, the rows) opens it again, and its last bytes are one ranged read, so
a stored file is read straight from the store.
"""

from __future__ import annotations

import csv
import io
import re
from collections import deque
from collections.abc import Generator, Iterator
from itertools import islice
from typing import Any, BinaryIO

from crmferry.errors import FileUnreadable
from crmferry.imports.reading.charset import decode_sample, detect_encoding
from crmferry.imports.reading.info import (
    NO_CHOICES,
    SAMPLE_BYTES,
    FileInfo,
    FlawedCells,
    ReadChoices,
    ReadLimits,
    Record,
)
from crmferry.imports.reading.rows import (
    TAIL_RECORDS,
    PreviewProblems,
    check_last_row,
    data_rows,
    find_header_row,
    find_last_row,
    is_blank,
    preview_rows,
    split_header,
    up_to,
)
from crmferry.imports.reading.source import Source

DELIMITERS = (",", ";", "\t", "|")

# One physical line may hold many long cells, but not a whole file without a line break.
MAX_LINE_CHARS = 16 * 1024 * 1024
_SNIFF_RECORDS = 100
# A footer is looked for among the file's last TAIL_RECORDS records and, in a file larger
# than the sample, first in its last bytes: only when they end in a one-cell row is the
# file read through to number its last records.
_TAIL_BYTES = 16 * 1024
# Above this share of control characters a "text" file is really binary.
_MAX_CONTROL_SHARE = 0.01
# (FileMaker writes a line break inside a cell as a vertical tab, \x0b: it is text.)
_CONTROL = re.compile(r"[\x00-\x08\x0c\x0e-\x1f\x7f-\x9f]")


def sniff_text(
    source: Source, head: bytes, limits: ReadLimits, choices: ReadChoices = NO_CHOICES
) -> FileInfo:
    """Describe the text table whose first SAMPLE_BYTES are `head`, read in the encoding
    `choices` names if it names one.

    FileUnreadable for binary content or a sample without a line break;
    ValidationFailed when a limit is exceeded in the sample."""
    size = source.size()
    whole = size <= len(head)
    found = detect_encoding(source, head, choices.encoding)
    encoding = found.name
    text = decode_sample(head, encoding, final=whole)
    _reject_control_characters(text)
    complete = text if whole else _cut_after_last_line_break(text)
    delimiter = _choose_delimiter(complete)
    # a sample that ends inside a quoted cell leaves its last record out, incomplete
    parsed = list(csv_records(_Lines(_sample_lines(complete)), delimiter, final=whole))
    numbered = list(enumerate(parsed, start=1))
    wanted = choices.header_row or find_header_row(numbered)
    records = iter(numbered)
    header_row, headers = split_header(records, header_row=wanted)
    last_row = choices.last_row
    if last_row is None and whole:
        last_row = find_last_row(numbered[-TAIL_RECORDS:], header_row, len(headers))
    elif last_row is None:
        last_row = _footer_start(source, encoding, delimiter, limits, header_row, len(headers))
    check_last_row(last_row, header_row)
    table = up_to(records, last_row)
    problems = PreviewProblems()
    rows = data_rows(table, header_row, headers, limits, problems.add)
    preview = preview_rows(rows)
    if whole:
        estimate = len(preview) + sum(1 for _ in rows)
    else:
        estimate = _extrapolate(size, len(parsed), len(head) * len(complete) / len(text))
        estimate = max(estimate - header_row, len(preview))
        if last_row is not None:
            estimate = max(min(estimate, last_row - header_row), len(preview))
    return FileInfo(
        "csv",
        encoding,
        delimiter,
        tuple(headers),
        preview,
        estimate,
        header_row,
        last_row=last_row,
        encoding_confidence=found.confidence,
        encoding_note=found.note,
        encoding_alternatives=found.alternatives,
        problems=tuple(problems),
    )


def text_records(
    source: Source, info: FileInfo, limits: ReadLimits
) -> Generator[Record, None, None]:
    """Every CSV record of the file, numbered from 1, decoded as sniffed, streamed.

    FileUnreadable naming the row for bytes that do not decode, a line too long to be
    CSV, or a record the csv module cannot read."""
    if info.encoding is None or info.delimiter is None:
        raise FileUnreadable("The file description lacks an encoding or delimiter.")
    if csv.field_size_limit() < limits.max_cell_chars + 1:
        # process-wide, only ever raised: cells up to the limit must parse, to be reported
        csv.field_size_limit(limits.max_cell_chars + 1)
    number = 0
    with source.open() as raw:
        buffered = io.BufferedReader(_Readable(raw), CHUNK_BYTES)
        _skip_bom(buffered, info.encoding)
        stream = io.TextIOWrapper(buffered, encoding=info.encoding, errors="strict", newline="")
        try:
            records = csv_records(_Lines(_bounded_lines(stream)), info.delimiter)
            for number, cells in enumerate(records, start=1):
                yield number, cells
        except UnicodeDecodeError as exc:
            raise FileUnreadable(
                f"Row {number + 1} holds bytes that are not valid {info.encoding}."
            ) from exc
        except _LineTooLong as exc:
            raise FileUnreadable(
                f"Row {number + 1} is longer than {MAX_LINE_CHARS:,} characters without a "
                "line break; this does not look like a CSV file."
            ) from exc
        except csv.Error as exc:
            raise FileUnreadable(
                f"Row {number + 1} cannot be read as CSV ({exc}); "
                "an unclosed quote may have swallowed the rest of the file."
            ) from exc


# ---------------------------------------------------------------- sniffing


def _footer_start(
    source: Source, encoding: str, delimiter: str, limits: ReadLimits, header_row: int, width: int
) -> int | None:
    """The last data row of a file larger than the sample when it ends in a footer (see
    `find_last_row`), else None. The file is streamed only when its last bytes end in a
    row of one non-blank cell; only its last records are kept."""
    if width < 2:
        return None
    start = max(source.size() - _TAIL_BYTES, 0)
    tail = source.read_range(start, _TAIL_BYTES).decode(encoding, errors="replace")
    lines = re.split(r"\r\n|\r|\n", tail)[1:]  # the first may be cut
    rows = [cells for cells in _parse("\n".join(lines), delimiter) if not is_blank(cells)]
    if not rows or sum(1 for cell in rows[-1] if cell.strip()) != 1:
        return None
    info = FileInfo("csv", encoding, delimiter, (), (), 0)
    kept: deque[Record] = deque(maxlen=TAIL_RECORDS)
    try:
        kept.extend(text_records(source, info, limits))
    except FileUnreadable:
        return None  # the import says what is wrong with the file, naming the row
    return find_last_row(list(kept), header_row, width)


def _extrapolate(size: int, records: int, sample_bytes: float) -> int:
    """Records in a file of `size` bytes, assuming the sample's average bytes per record
    holds throughout."""
    return round(records * size / max(sample_bytes, 1.0))


def _reject_control_characters(text: str) -> None:
    controls = len(_CONTROL.findall(text))
    # A stray control character or two is noise in a small text file, not binary content.
    if controls > max(_MAX_CONTROL_SHARE * len(text), 2):
        raise FileUnreadable(
            f"The file looks binary: {controls:,} of its first {len(text):,} characters are "
            "control characters (such as NUL bytes). Upload a CSV/text table or an XLSX "
            "workbook (UTF-16 text needs a byte-order mark)."
        )


def _cut_after_last_line_break(text: str) -> str:
    end = max(text.rfind("\n"), text.rfind("\r"))
    if end < 0:
        raise FileUnreadable(
            f"The first {SAMPLE_BYTES // 1024} KiB of the file hold no line break: "
            "it does not look like a CSV or text table."
        )
    return text[: end + 1]


def _parse(text: str, delimiter: str) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), **_dialect(delimiter))


def _dialect(delimiter: str) -> dict[str, Any]:
    # Excel's CSV dialect: double quotes, doubled to escape, no backslash escapes.
    return {"delimiter": delimiter, "quotechar": '"', "doublequote": True, "strict": False}


def _choose_delimiter(text: str) -> str:
    """The candidate that splits the sample most consistently into the header's width
    (then the widest; csv.Sniffer's guess breaks remaining ties). "," for one column."""
    guess = _sniffer_guess(text)
    scores = {d: _consistency(text, d) for d in DELIMITERS}
    tabular = [d for d in DELIMITERS if scores[d][1] >= 2]
    if not tabular:
        return ","
    return max(tabular, key=lambda d: (*scores[d], d == guess))


def _sniffer_guess(text: str) -> str | None:
    head = "".join(io.StringIO(text, newline="").readlines()[:50])
    try:
        return csv.Sniffer().sniff(head, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return None


def _consistency(text: str, delimiter: str) -> tuple[float, int]:
    """(share of sampled rows as wide as the header, header width)."""
    records = [r for r in islice(_parse(text, delimiter), _SNIFF_RECORDS) if not is_blank(r)]
    if not records:
        return 0.0, 0
    width = len(records[0])
    rest = records[1:]
    if not rest:
        return 1.0, width
    return sum(1 for r in rest if len(r) == width) / len(rest), width


# ---------------------------------------------------------------- records


class _Lines:
    """Physical lines as the csv module reads them, counted, with those of the record
    being read kept, so that a record an unclosed quote ran on can be read again."""

    def __init__(self, source: Iterator[str]) -> None:
        self._source = source
        self._again: list[str] = []  # lines to give out again, the next one last
        self.taken: list[str] = []  # the lines of the record being read
        self.line = 0  # the physical line last given out

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._again.pop() if self._again else next(self._source)
        self.line += 1
        self.taken.append(line)
        return line

    def give_again(self, lines: list[str]) -> None:
        self._again.extend(reversed(lines))
        self.line -= len(lines)


def csv_records(lines: _Lines, delimiter: str, final: bool = True) -> Iterator[list[str]]:
    """Each CSV record's cells. A record that an unclosed quote ran on over the lines after
    it (it reaches the end of the input, or its quote closes in a later row with text
    after it) comes as FlawedCells: its first line's cells, saying where the quote
    opened; the lines after that line are read again as records of their own. Unless
    `final`, a record still open at the end of `lines` is left out (the input was cut).
    """
    while True:
        try:
            for cells in csv.reader(lines, **_dialect(delimiter)):
                taken = lines.taken
                # only a record that spans lines, or one whose last cell holds the line
                # break, can have run on: the common record costs these two checks
                if len(taken) == 1 and not (cells and cells[-1].endswith(_BREAKS)):
                    taken.clear()
                    yield cells
                    continue
                problem = _run_on_quote(taken, delimiter)
                if problem is None:
                    taken.clear()
                    yield cells
                    continue
                if problem == _OPEN_AT_END and not final:
                    return
                yield _flawed(lines, delimiter)
                break
            else:
                return
        except csv.Error:
            if not lines.taken or _run_on_quote(lines.taken, delimiter) is None:
                raise
            yield _flawed(lines, delimiter)  # the quote ran on past the cell size limit


_BREAKS = ("\n", "\r")
_OPEN_AT_END = "open at the end"


def _run_on_quote(taken: list[str], delimiter: str) -> str | None:
    """Why the lines of one record do not read as RFC 4180 CSV (None when they do): an
    open quote at their end, or text after a closing quote."""
    strict = {**_dialect(delimiter), "strict": True}
    try:
        records = list(csv.reader(taken, **strict))
    except csv.Error as exc:
        return _OPEN_AT_END if "end of data" in str(exc) else str(exc)
    return None if len(records) == 1 else "several records"


def _flawed(lines: _Lines, delimiter: str) -> FlawedCells:
    """The first line of the record being read as its cells, saying where its quote
    opened; the record's other lines are given out again."""
    taken = list(lines.taken)
    lines.taken.clear()
    start = lines.line - len(taken) + 1
    lines.give_again(taken[1:])
    first = taken[0].rstrip("\r\n")
    cells = next(csv.reader([first], **_dialect(delimiter)), [""])
    cell = len(cells) - 1
    problem = (
        f"has a quote that opens on line {start:,} of the file and is never closed: it "
        f"would have taken the next {len(taken) - 1:,} lines into this cell, so they were "
        "read as rows of their own and this row was not imported (close the quote, or "
        "double it to keep it as text)"
    )
    return FlawedCells(cells, problem, cell)


def _sample_lines(text: str) -> Iterator[str]:
    return iter(io.StringIO(text, newline=""))


# ---------------------------------------------------------------- streaming


class _LineTooLong(Exception):
    pass


def _bounded_lines(stream: io.TextIOWrapper) -> Iterator[str]:
    """Physical lines, refusing one so long it would hold the file in memory."""
    while line := stream.readline(MAX_LINE_CHARS):
        if len(line) >= MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise _LineTooLong
        yield line


CHUNK_BYTES = 1024 * 1024


class _Readable(io.RawIOBase):
    """Any binary stream (a store's network stream among them) as a raw stream that a
    BufferedReader, and so a TextIOWrapper, reads."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _skip_bom(stream: io.BufferedReader[Any], encoding: str) -> None:
    """Read past a byte-order mark the codec itself keeps (U+FEFF at the start is no
    cell's text), without seeking back when there is none."""
    try:
        bom = "\ufeff".encode(encoding)
    except UnicodeEncodeError:
        return  # an encoding without the character cannot start with it
    if stream.peek(len(bom))[: len(bom)] == bom:
        stream.read(len(bom))
