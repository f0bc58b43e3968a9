"""JSON columns read through our connections hold what the standard library's parser
reads from the same text (crmferry/db/json_values.py swaps the parser for speed)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from crmferry.db import Database

# What jsonb can hold: no NUL in text, numbers that are finite (jsonb stores numeric).
_TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)))
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_TEXT, inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(value=_JSON)
def test_json_columns_read_as_the_standard_parser_reads_them(db: Database, value: Any) -> None:
    with db.autocommit() as conn:
        row = conn.execute(
            "SELECT v AS jsonb, v::text AS text, v::json AS json FROM (SELECT %s::jsonb AS v) AS s",
            [Jsonb(value)],
        ).fetchone()
    assert row is not None
    expected = json.loads(row["text"])
    # dumped again: the same types (1 is not 1.0) and the same key order throughout
    assert json.dumps(row["jsonb"]) == json.dumps(expected)
    assert json.dumps(row["json"]) == json.dumps(expected)
