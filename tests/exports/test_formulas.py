"""The formula-neutralisation rule: its cases, the SQL form against the Python form, and
the import's cleaning as its inverse."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql

from crmferry.db import Database
from crmferry.exports.formulas import neutralise_formula, neutralise_formula_sql
from crmferry.exports.snapshot import snapshot_transaction

from .samples import import_cleaned

FORMULA_CASES = [
    ("=1+1", "'=1+1"),
    ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=1", "'\t=1"),
    ("\rx", "'\rx"),
    ("+1 555 0100", "'+1 555 0100"),  # a phone number in a text field: prefixed too
    ("-5", "'-5"),  # a signed number in a text field: prefixed too
    ("'=already quoted", "''=already quoted"),  # keeps the rule reversible
    ("''+x", "'''+x"),
    ("'", "'"),
    ("'plain", "'plain"),
    ("", ""),
    ("a=1", "a=1"),
    (" =1", " =1"),
    ("Zoë 😀", "Zoë 😀"),
    ("5-3", "5-3"),
]


NEUTRALISE_ONE = sql.SQL("SELECT {} AS v FROM (SELECT %s::text AS t) AS x").format(
    neutralise_formula_sql(sql.Identifier("t"))
)


@pytest.mark.parametrize(("value", "expected"), FORMULA_CASES)
def test_neutralise_formula(value: str, expected: str) -> None:
    assert neutralise_formula(value) == expected


def test_an_import_takes_the_quote_off_again(db: Database) -> None:
    """Text as an import stores it (cleaned), exported (neutralised) and imported back, is
    the same text: the import's cleaning is the rule's inverse (also for text led by a
    tab or CR, which no import stores but records made otherwise may hold)."""
    stored = [v for v in import_cleaned(db, [v for v, _ in FORMULA_CASES]).values() if v]
    stored += ["'\t=1", "''\r+1", "\t=1", "\rx"]
    exported = {value: neutralise_formula(value) for value in stored}
    back = import_cleaned(db, list(exported.values()))
    assert {value: back[cell] for value, cell in exported.items()} == {v: v for v in stored}


def test_sql_rule_is_the_python_rule(db: Database, new_org: Callable[[], UUID]) -> None:
    values = [v for v, _ in FORMULA_CASES] + ["''", "'\t", "@", "=", "-", "\r", "x'=", None]
    with snapshot_transaction(db, new_org()) as conn:
        for value in values:
            row = conn.execute(NEUTRALISE_ONE, [value]).fetchone()
            assert row is not None
            assert row["v"] == (None if value is None else neutralise_formula(value)), value


def test_sql_rule_is_the_python_rule_for_every_first_character(db: Database) -> None:
    """Each ASCII character (and a few others) first, alone, after quotes, before text:
    every branch of the SQL's tests on the first character's code."""
    firsts = [chr(c) for c in range(1, 128)] + ["é", "Ω", "😀", "\u00a0"]
    values = [v for c in firsts for v in (c, c + "x=1", c + "=1", "'" + c, "''" + c + "1")]
    query = sql.SQL("SELECT t, {} AS v FROM unnest(%s::text[]) AS t").format(
        neutralise_formula_sql(sql.Identifier("t"))
    )
    with db.anonymous() as conn:
        rows = conn.execute(query, [values]).fetchall()
    assert [(r["t"], r["v"]) for r in rows] == [(v, neutralise_formula(v)) for v in values]


@settings(max_examples=150, deadline=None)
@given(st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")))
def test_sql_rule_matches_python_on_any_text(db: Database, value: str) -> None:
    with db.anonymous() as conn:
        row = conn.execute(NEUTRALISE_ONE, [value]).fetchone()
    assert row is not None and row["v"] == neutralise_formula(value)


IMPORTABLE = st.text(
    st.sampled_from(
        ["'", "=", "+", "-", "@", "\t", "\r", "\n", " ", "\u00a0", "\x01", "\x1f", "a"]
    ),
    max_size=6,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(IMPORTABLE, min_size=1, max_size=20))
def test_what_an_import_stores_comes_back_from_an_export(db: Database, cells: list[str]) -> None:
    """import(export(import(cell))) == import(cell): the import's cleaning undoes the
    rule on everything an import can store, control characters and all."""
    stored = [v for v in import_cleaned(db, cells).values() if v is not None]
    back = import_cleaned(db, [neutralise_formula(v) for v in stored])
    assert [back[neutralise_formula(v)] for v in stored] == stored
