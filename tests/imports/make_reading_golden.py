"""Write the reading golden files of tests/imports/files/ (run once; outputs are committed).

    .venv/bin/python tests/imports/make_reading_golden.py

Broken files, legacy encodings, preambles and workbooks, each laid out as the tool
that writes it lays out its export (header names and order, line endings, encoding).
The text files are byte-for-byte reproducible.
"""

from __future__ import annotations

from pathlib import Path

FILES = Path(__file__).parent / "files"

# HubSpot's contacts export (a subset of its columns, in its order), CRLF, UTF-8.
HUBSPOT_HEADER = "Record ID,First Name,Last Name,Email,Phone Number,Company Name,City"


def _crlf(lines: list[str]) -> str:
    return "".join(line + "\r\n" for line in lines)


def broken_files() -> None:
    # Row 3's company opens a quote it never closes; row 5 quotes a cell properly.
    (FILES / "hubspot_unclosed_quote.csv").write_bytes(
        _crlf(
            [
                HUBSPOT_HEADER,
                "101,Ada,Lovelace,ada@example.com,+44 20 7946 0000,Analytical Engines,London",
                '102,Bob,Stone,bob@example.com,+1 555 0100,"Stone & Sons, Ltd,Leeds',
                "103,Cid,Moreno,cid@example.com,+34 954 000 000,Moreno SL,Sevilla",
                '104,Dee,Park,dee@example.com,+1 555 0101,"Park, Dee & Co",Austin',
                "105,Eve,Adams,eve@example.com,+1 555 0102,Adams Inc,Boston",
            ]
        ).encode()
    )
    # The last row's quote is never closed: it reaches the end of the file.
    (FILES / "hubspot_unclosed_quote_at_end.csv").write_bytes(
        _crlf(
            [
                HUBSPOT_HEADER,
                "101,Ada,Lovelace,ada@example.com,+44 20 7946 0000,Analytical Engines,London",
                '102,Bob,Stone,bob@example.com,+1 555 0100,"Stone & Sons,Leeds',
                "103,Cid,Moreno,cid@example.com,+34 954 000 000,Moreno SL,Sevilla",
            ]
        ).encode()
    )
    # An unquoted comma in a company name: row 3 has one cell more than the header.
    (FILES / "hubspot_extra_cells.csv").write_bytes(
        _crlf(
            [
                HUBSPOT_HEADER,
                "101,Ada,Lovelace,ada@example.com,+44 20 7946 0000,Analytical Engines,London",
                "102,Bob,Stone,bob@example.com,+1 555 0100,Stone & Sons, Ltd,Leeds",
                "103,Cid,Moreno,cid@example.com,+34 954 000 000,Moreno SL,Sevilla",
            ]
        ).encode()
    )
    # A database dump's empty value written as a NUL byte: row 3's phone.
    (FILES / "hubspot_nul_cell.csv").write_bytes(
        _crlf(
            [
                HUBSPOT_HEADER,
                "101,Ada,Lovelace,ada@example.com,+44 20 7946 0000,Analytical Engines,London",
                "102,Bob,Stone,bob@example.com,\x00,Stone and Sons,Leeds",
                "103,Cid,Moreno,cid@example.com,+34 954 000 000,Moreno SL,Sevilla",
            ]
        ).encode()
    )


def main() -> None:
    broken_files()


if __name__ == "__main__":
    main()
