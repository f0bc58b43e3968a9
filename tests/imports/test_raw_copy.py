"""PostgreSQL's CSV parser stages a plain UTF-8 CSV, and only where it reads the file
exactly as our reader does: the staged rows (row numbers, cells) are compared with
those our reader stages from the same file, and every file where the two parsers
could differ is shown to go to our reader."""

from __future__ import annotations

import csv
import io
import logging
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmferry.db import Database
from crmferry.errors import CrmFerryError, ValidationFailed
from crmferry.imports import raw_copy, staging
from crmferry.imports.reading import FileInfo, ReadLimits, iter_rows, sniff
from tests.conftest import Org
from tests.imports.conftest import Importer

LIMITS = ReadLimits()


class _Rollback(Exception):
    pass


def _fields(info: FileInfo) -> list[str]:
    return [f"f{i}" for i in range(len(info.headers))]


def _staged(conn: Any, fields: list[str]) -> list[tuple[Any, ...]]:
    columns = ", ".join(f"coalesce({f}, '') AS {f}" for f in fields)
    rows = conn.execute(f"SELECT row_number, {columns} FROM import_raw ORDER BY row_number")
    return [tuple(r.values()) for r in rows]


def _by_postgresql(
    db: Database, org: Org, path: Path, info: FileInfo, limits: ReadLimits = LIMITS
) -> list[tuple[Any, ...]] | None:
    """The rows PostgreSQL's parser stages from `path`, or None when it declines."""
    fields = _fields(info)
    with db.tenant(org.id) as conn:
        with path.open("rb") as stream:
            count = raw_copy.stage_csv(
                conn, stream, info, fields, list(range(len(fields))), fields, limits, _none
            )
        if count is None:
            return None
        staged = _staged(conn, fields)
        assert count == len(staged)
        conn.rollback()
    return staged


def _by_reader(
    db: Database, org: Org, path: Path, info: FileInfo, limits: ReadLimits = LIMITS
) -> list[tuple[Any, ...]]:
    fields = _fields(info)
    with db.tenant(org.id) as conn:
        staging.create_raw_table(conn, fields)
        rows = iter_rows(path, info, limits)
        staging.copy_rows(conn, fields, list(range(len(fields))), rows, _none)
        staged = _staged(conn, fields)
        conn.rollback()
    return staged


def _none(_: int) -> None:
    return None


def _file(tmp_path: Path, content: bytes, name: str = "people.csv") -> tuple[Path, FileInfo]:
    path = tmp_path / name
    path.write_bytes(content)
    return path, sniff(path)


PLAIN = {
    "simple": b"Name,Email\nAda,ada@example.com\nBob,bob@example.com\n",
    "no final line break": b"Name,Email\nAda,ada@example.com\nBob,bob@example.com",
    "quoted delimiters": b'Name,Company\nAda,"Acme, Inc."\n"Lee, Bo","Smith, Jones & Co"\n',
    "doubled quotes": b'Name,Note\nAda,"say ""hi"" now"\nBob,""""\nCid,"a"""\n',
    "line breaks in cells": b'Name,Note\nAda,"one\ntwo\nthree"\nBob,plain\n"C\r\nid",x\n',
    "CRLF": b"Name,Email\r\nAda,ada@example.com\r\nBob,\r\n",
    "semicolons": 'Nom;Ville\nAnaïs;Montréal\nJosé;"São; Paulo"\n'.encode(),
    "tabs": b'Name\tCity\nAda\tParis\nBob\t"New\tYork"\n',
    "byte-order mark": "\ufeffName,City\nAda,Zürich\n".encode(),
    "byte-order mark before a quoted header": '\ufeff"Name","City"\n"Ada","Zürich"\n'.encode(),
    "blank lines at the end": b"Name,City\nAda,Paris\n\n\r\n  \n",
    "empty and quoted empty cells": b'Name,City,Zip\nAda,,\nBob,"",""\n,Paris,\n',
    "spaces kept": b'Name,City\n  Ada  ,"  Paris "\n',
    "backslashes": b"Name,Path\nAda,C:\\temp\\x\nBob,\\N\n",
}


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_a_plain_csv_is_staged_by_postgresql_exactly_as_by_our_reader(
    db: Database, org: Org, tmp_path: Path, name: str
) -> None:
    path, info = _file(tmp_path, PLAIN[name])
    ours = _by_postgresql(db, org, path, info)
    assert ours is not None, "PostgreSQL's parser declined a plain file"
    assert ours == _by_reader(db, org, path, info)


DIFFERENT = {
    "a quote inside an unquoted cell": b'Name,Note\nAda,5" screen\nBob,"x"\n',
    "text after a closing quote": b'Name,Note\nAda,"5" screen\nBob,x\n',
    "a quote before a cell boundary": b'Name,Note\nAda,ab",c"\nBob,x\n',
    "a space between quoted parts": b'Name,Note\nAda,"a" "b"\nBob,x\n',
    "a blank row": b"Name,City\nAda,Paris\n\nBob,Rome\n",
    "a row of delimiters": b"Name,City\nAda,Paris\n,\nBob,Rome\n",
    "a row of quoted blanks": b'Name,City\nAda,Paris\n"",""\nBob,Rome\n',
    "a row of no-break spaces": "Name,City\nAda,Paris\n\u00a0\nBob,Rome\n".encode(),
    "an end-of-data line": b"Name,City\nAda,Paris\n\\.\nBob,Rome\n",
    "a short row": b"Name,City,Zip\nAda,Paris\nBob,Rome,00100\n",
    "a long row": b"Name,City\nAda,Paris,extra\nBob,Rome\n",
    "trailing delimiters": b"Name,City\nAda,Paris,,\nBob,Rome\n",
    "an unclosed quote": b'Name,City\nAda,"Paris\nBob,Rome\n',
    "a NUL": b"Name,City\nAda,\x00\nBob,Rome\n",
    "a lone carriage return": b"Name,City\nAda,Paris\rBob,Rome\n",
}


@pytest.mark.parametrize("name", sorted(DIFFERENT))
def test_a_file_the_parsers_could_read_differently_goes_to_our_reader(
    db: Database, org: Org, tmp_path: Path, name: str
) -> None:
    path, info = _file(tmp_path, DIFFERENT[name])
    assert raw_copy.eligible(info), info
    assert _by_postgresql(db, org, path, info) is None


def test_invalid_utf8_goes_to_our_reader(db: Database, org: Org, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(b"Name,City\nAda,Paris\nBob,K\xf6ln\n")
    info = FileInfo("csv", "utf-8", ",", ("Name", "City"), (), 2)  # as if sniffed as UTF-8
    assert _by_postgresql(db, org, path, info) is None


@pytest.mark.parametrize(
    "content, why",
    [
        (b"Exported 2024\nName,City\nAda,Paris\nBob,Rome\n", "header on row 2"),
        (b"Email\nada@example.com\nbob@example.com\n", "one column"),
        ("Name,City\nAda,Köln\n".encode("cp1252"), "not UTF-8"),
    ],
)
def test_files_this_path_does_not_read(
    db: Database, org: Org, tmp_path: Path, content: bytes, why: str
) -> None:
    path, info = _file(tmp_path, content)
    assert not raw_copy.eligible(info), why
    assert _by_postgresql(db, org, path, info) is None


def test_a_file_with_a_footer_is_not_read_by_this_path(tmp_path: Path) -> None:
    content = b"Name,City\nAda,Paris\nBob,Rome\n\nGrand Totals (2 records)\n"
    _, info = _file(tmp_path, content)
    assert info.last_row == 3
    assert not raw_copy.eligible(info)


def test_blocks_are_cut_between_records(db: Database, org: Org, tmp_path: Path) -> None:
    """Several MiB of rows whose quoted cells hold line breaks and doubled quotes, so
    that block ends fall inside quoted cells."""
    rng = random.Random(7)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Name", "Note", "City"])
    for i in range(90_000):
        note = rng.choice(['a "quoted" word', "line one\nline two", "plain", "x,y", ""])
        writer.writerow([f"Name {i}", note * rng.randint(1, 4), rng.choice(["Köln", "Zürich"])])
    path, info = _file(tmp_path, out.getvalue().encode())
    assert path.stat().st_size > 3 * raw_copy.BLOCK_BYTES
    ours = _by_postgresql(db, org, path, info)
    assert ours is not None
    assert len(ours) == 90_000
    assert ours == _by_reader(db, org, path, info)


CELLS = st.text(alphabet=["a", "é", " ", ",", '"', "\n", "\r", ";"], max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rows=st.lists(st.lists(CELLS, min_size=2, max_size=3), min_size=1, max_size=6),
    written=st.booleans(),
)
def test_whenever_postgresql_parses_a_file_it_agrees_with_our_reader(
    db: Database, org: Org, tmp_path: Path, rows: list[list[str]], written: bool
) -> None:
    """Files written properly (csv.writer) or carelessly (cells joined as they are)."""
    header = "Name,City,Zip\n"
    if written:
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator="\n").writerows(rows)
        body = out.getvalue()
    else:
        body = "".join(",".join(cells) + "\n" for cells in rows)
    try:
        path, info = _file(tmp_path, (header + body).encode(), "any.csv")
    except CrmFerryError:  # a file sniffing refuses is not this test's matter
        return
    if not raw_copy.eligible(info) or info.headers != ("Name", "City", "Zip"):
        return
    ours = _by_postgresql(db, org, path, info)
    if ours is not None:
        assert ours == _by_reader(db, org, path, info)


def test_past_the_row_limit_the_import_fails_as_with_our_reader(
    db: Database, org: Org, tmp_path: Path
) -> None:
    path, info = _file(tmp_path, b"Name,City\n" + b"Ada,Paris\n" * 5)
    limits = ReadLimits(max_rows=4)
    with pytest.raises(ValidationFailed) as ours:
        _by_postgresql(db, org, path, info, limits)
    with pytest.raises(ValidationFailed) as reader:
        _by_reader(db, org, path, info, limits)
    assert ours.value.detail == reader.value.detail
    assert "more than 4 data rows" in ours.value.detail


@pytest.mark.parametrize(
    "content",
    [
        b"Name,Note\nAda,short\nBob,abcdefghijklmnop\n",  # one line longer than the limit
        b'Name,Note\nAda,short\nBob,"abcdefgh\nijklmnop"\n',  # lines shorter, the cell not
    ],
)
def test_a_cell_past_the_limit_fails_as_with_our_reader(
    db: Database, org: Org, tmp_path: Path, content: bytes
) -> None:
    path, info = _file(tmp_path, content)
    limits = ReadLimits(max_cell_chars=12)
    with pytest.raises(ValidationFailed) as ours:
        _by_postgresql(db, org, path, info, limits)
    with pytest.raises(ValidationFailed) as reader:
        _by_reader(db, org, path, info, limits)
    assert ours.value.detail == reader.value.detail
    assert "row 3, column 'Note'" in ours.value.detail


def test_a_long_cell_in_bytes_only_is_left_to_our_reader(
    db: Database, org: Org, tmp_path: Path
) -> None:
    path, info = _file(tmp_path, "Name,Note\nAda,ééééééé\n".encode())  # 7 chars, 14 bytes
    limits = ReadLimits(max_cell_chars=10)
    assert _by_postgresql(db, org, path, info, limits) is None
    assert _by_reader(db, org, path, info, limits)[0][2] == "ééééééé"


def test_an_import_job_stages_a_plain_csv_with_postgresql(
    importer: Importer, org: Org, caplog: pytest.LogCaptureFixture
) -> None:
    content = b'First Name,Email,Company\nAda,ada@example.com,"Acme, Inc."\nBob,bob@x.org,\n'
    upload = importer.upload(org.member, content, name="people.csv")
    mapping = {"First Name": "first_name", "Email": "email", "Company": "company"}
    with caplog.at_level(logging.DEBUG, logger="crmferry.imports.kind"):
        job = importer.run(org, importer.create(org, "contacts", upload["id"], mapping))
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"]["inserted"] == 2
    assert any("PostgreSQL's CSV parser" in r.getMessage() for r in caplog.records)
    rows = importer.rows(org, "SELECT email, company FROM contacts ORDER BY email")
    assert rows == [
        {"email": "ada@example.com", "company": "Acme, Inc."},
        {"email": "bob@x.org", "company": None},
    ]


def test_a_cancel_during_postgresqls_copy_keeps_nothing(
    importer: Importer, org: Org, caplog: pytest.LogCaptureFixture
) -> None:
    """A file larger than PROGRESS_BYTES: the cancel is seen while the COPY runs."""
    row = "Person {0},person{0}@example.com,Ville with a long name to fill the file {0}\n"
    rows = "".join(row.format(i) for i in range(150_000))
    assert len(rows) > raw_copy.PROGRESS_BYTES
    upload = importer.upload(org.member, "Name,Email,City\n" + rows, name="big.csv")
    mapping = {"Name": "name", "Email": "email", "City": "city"}
    job_id = importer.create(org, "contacts", upload["id"], mapping)
    with caplog.at_level(logging.DEBUG, logger="crmferry.imports.kind"):
        job = importer.run(org, job_id, cancel=True)
    assert job["status"] == "cancelled"
    assert not any("staged by" in r.getMessage() for r in caplog.records)
    assert importer.rows(org, "SELECT count(*) AS n FROM contacts") == [{"n": 0}]
