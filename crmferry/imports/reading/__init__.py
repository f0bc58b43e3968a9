"""Open an uploaded file as a table: `sniff` describes it, `iter_rows` streams it.

The format comes from the content, never the name (`detection`): text tables
(`text`, with the encoding found by `charset`), JSON Lines (`jsonl`), XLSX workbooks
(`xlsx`, their ZIP directory checked first by `archive`, their rows and shared strings
streamed by `xlsx_parts`), XLS and ODS (`calamine_book`). A file is a path or a
`source.Source` (a stored upload): text is read from its stream, a workbook (and JSON
Lines) from a local path (`Source.local_path`). What every format shares, the header
and the shaping of data rows, is `rows`. Sniffing reads the start of a file: 64 KiB of
text, the first `xlsx.SNIFF_MAX_ROWS` rows of a sheet and the shared strings they use;
and, to find a report's footer, its end: a text file's last 16 KiB (its last records
when those end in a one-cell row), a sheet's last rows (`xlsx_tail`; calamine's in
memory).

Rows are numbered as the user counts them, the header being row 1: for text, the
CSV record number (a quoted cell spanning three lines is still one row, as a
spreadsheet shows it); for workbooks, the sheet's own row number; for JSON Lines, the
line number (its header, the keys, is row 0). The header is the first non-blank row;
blank rows are skipped but keep their numbers.

Limits (`ReadLimits`) protect the service and end the whole read with a clear
`ValidationFailed`: more data rows than `max_rows`, a cell longer than
`max_cell_chars` (Excel's own maximum by default, so real spreadsheets never reach
it; per-field lengths are the validator's job), an XLSX whose declared uncompressed
size exceeds `max_xlsx_uncompressed_bytes`, one of whose parts exceeds
`max_xlsx_part_bytes` or is packed more than `max_xlsx_ratio` times (each checked from
the ZIP directory before any parsing).
"""

from crmferry.imports.reading.info import (
    DEFAULT_LIMITS,
    NO_CHOICES,
    FileInfo,
    ProblemSink,
    ReadChoices,
    ReadLimits,
    Record,
    RowProblem,
    SheetInfo,
)
from crmferry.imports.reading.opening import iter_rows, sniff
from crmferry.imports.reading.rows import clean_headers

__all__ = [
    "DEFAULT_LIMITS",
    "NO_CHOICES",
    "FileInfo",
    "ProblemSink",
    "ReadChoices",
    "ReadLimits",
    "Record",
    "RowProblem",
    "SheetInfo",
    "clean_headers",
    "iter_rows",
    "sniff",
]
