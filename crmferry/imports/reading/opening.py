"""The two entry points: `sniff` describes a file, `iter_rows` streams its data rows.

Both take a path or a `Source`: a text table is read from the source's stream (a
stored file straight from the store), a workbook from a local path (`Source.local_path`,
a temporary copy of a stored file, removed when reading ends)."""

from __future__ import annotations

from collections.abc import Generator, Iterator

from crmferry.errors import FileUnreadable
from crmferry.imports.reading.detection import ZIP, Reader, detect_format, format_of_head, reader
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
from crmferry.imports.reading.source import Source, as_source


def sniff(
    file: StrPath | Source,
    limits: ReadLimits = DEFAULT_LIMITS,
    choices: ReadChoices = NO_CHOICES,
) -> FileInfo:
    """Describe the file: format, encoding, delimiter, headers, preview, row estimate;
    read as `choices` (the user's encoding, header row, sheet) say.

    Raises FileUnreadable for a file that is empty, binary or not a table, and
    ValidationFailed when a limit is exceeded in what sniffing reads.
    """
    source = as_source(file)
    head = source.head(SAMPLE_BYTES)
    name = format_of_head(head, source)
    if name != ZIP and reader(name).streams:
        return reader(name).sniff(source, head, limits, choices)
    with source.local_path() as path:
        found = reader(detect_format(path, head) if name == ZIP else name)
        return found.sniff(path, head, limits, choices)


def iter_rows(
    file: StrPath | Source,
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
    records = _records(reader(info.format), as_source(file), info, limits)
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


def _records(
    found: Reader, source: Source, info: FileInfo, limits: ReadLimits
) -> Generator[Record, None, None]:
    """The reader's records, from the source itself or from a local path kept (a
    temporary copy removed) until they are closed."""
    if found.streams:
        return found.records(source, info, limits)
    return _local_records(found, source, info, limits)


def _local_records(
    found: Reader, source: Source, info: FileInfo, limits: ReadLimits
) -> Generator[Record, None, None]:
    with source.local_path() as path:
        records = found.records(path, info, limits)
        try:
            yield from records
        finally:
            records.close()
