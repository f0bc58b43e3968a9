"""The two entry points: `sniff` describes a file, `iter_rows` streams its data rows."""

from __future__ import annotations

from collections.abc import Iterator

from crmferry.errors import FileUnreadable
from crmferry.imports.reading.detection import detect_format, reader
from crmferry.imports.reading.info import (
    DEFAULT_LIMITS,
    NO_CHOICES,
    SAMPLE_BYTES,
    FileInfo,
    ProblemSink,
    ReadChoices,
    ReadLimits,
    Record,
    StrPath,
)
from crmferry.imports.reading.rows import data_rows, split_header, up_to


def sniff(
    path: StrPath, limits: ReadLimits = DEFAULT_LIMITS, choices: ReadChoices = NO_CHOICES
) -> FileInfo:
    """Describe the file at `path`: format, encoding, delimiter, headers, preview, row
    estimate; read as `choices` (the user's encoding, header row, sheet) say.

    Raises FileUnreadable for a file that is empty, binary or not a table, and
    ValidationFailed when a limit is exceeded in what sniffing reads.
    """
    with open(path, "rb") as file:
        head = file.read(SAMPLE_BYTES)
    return reader(detect_format(path, head)).sniff(path, head, limits, choices)


def iter_rows(
    path: StrPath,
    info: FileInfo,
    limits: ReadLimits = DEFAULT_LIMITS,
    problems: ProblemSink | None = None,
) -> Iterator[Record]:
    """Stream the data rows of the file `sniff` described as (row_number, cells),
    numbered as the user counts them (header = row 1).

    Rows shorter than the header are padded with ""; longer ones keep their
    extra cells (trailing empty ones dropped). Each row the file gets wrong (wider than
    the header, or run on by an unclosed quote) is told to `problems` as a RowProblem.
    Memory stays bounded whatever the file's size. Raises FileUnreadable if the
    file no longer matches `info` or cannot be decoded, ValidationFailed past a limit.
    """
    records = reader(info.format).records(path, info, limits)
    try:
        header_row, headers = split_header(records, header_row=info.header_row)
        if tuple(headers) != tuple(info.headers):
            raise FileUnreadable(
                "The file's header row is not the one found when it was uploaded; "
                "was the file replaced?"
            )
        table = up_to(records, info.last_row)
        yield from data_rows(table, header_row, headers, limits, problems)
    finally:
        records.close()  # closes the file (and the workbook) even when the caller stops early
