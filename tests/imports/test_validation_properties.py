"""Whatever the cells hold, validation answers with values or row errors, never an exception."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmferry.db import Database
from crmferry.imports import merge, staging, validate
from crmferry.imports.options import ImportOptions
from crmferry.records import DATA_TYPES
from tests.conftest import Org

TRICKY = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1e400",
        "99999999999999",
        "1,234.5",
        "1.234,5",
        "2024-02-30",
        "31/12/2024",
        "12/31/2024",
        "0000-00-00",
        "9999-12-31",
        "yes",
        "N/A",
        "é@x.fr",
        "a@b",
        "+1 (555) 010-0101 x9",
        "ACCEPTED",
        "=1+1",
        "\x00",
        "x" * 600,
    ]
)
CELL = st.one_of(TRICKY, st.text(max_size=30))


class _Rollback(Exception):
    pass


@pytest.mark.parametrize("type_name", sorted(DATA_TYPES))
@pytest.mark.parametrize("mark", [".", ","])
def test_any_cells_give_a_result_not_an_exception(
    db: Database, org: Org, type_name: str, mark: str
) -> None:
    data_type = DATA_TYPES[type_name]
    fields = [f.name for f in data_type.importable_fields]  # a computed field takes no cell

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(st.lists(CELL, min_size=len(fields), max_size=len(fields)), min_size=1, max_size=8)
    )
    def check(rows: list[list[str]]) -> None:
        options = ImportOptions(decimal=mark)  # type: ignore[arg-type]
        try:
            with db.tenant(org.id) as conn:
                numbered = [(i + 2, cells) for i, cells in enumerate(rows)]
                staging.create_raw_table(conn, fields)
                staging.copy_rows(conn, fields, list(range(len(fields))), numbered, lambda _: None)
                plan = validate.build_rows(conn, data_type, fields, options)
                counts = merge.count_rows(conn)
                assert counts.total == len(rows)
                merge.write_rows(conn, plan, options, uuid.uuid4(), counts)
                assert counts.inserted + counts.updated + counts.unchanged + counts.failed == len(
                    rows
                )
                raise _Rollback
        except _Rollback:
            pass

    check()


# The phone rule as migration 0006 first wrote it (0012 made it faster, not different).
_FIRST_PHONE_RULE = r"""
SELECT v, CASE
    WHEN v ~ '^\+?[0-9 ().\-/]+$' THEN length(translate(v, '+ ().-/', '')) BETWEEN 7 AND 15
    WHEN lower(v) ~ '^\+?[0-9 ().\-/]+(ext\.?|x|#) *[0-9]+$'
        THEN length(translate(regexp_replace(lower(v), '(ext\.?|x|#) *[0-9]+$', ''),
                              '+ ().-/', '')) BETWEEN 7 AND 15
    ELSE false END AS first, crmferry_phone_ok(v) AS now
  FROM unnest(%s::text[]) AS v
"""


def test_the_phone_check_accepts_exactly_what_it_first_accepted(db: Database) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.text(alphabet="0123456789 ().-/+xXt#é", max_size=24), max_size=40))
    def check(values: list[str]) -> None:
        with db.owner_connect() as conn:
            rows = conn.execute(_FIRST_PHONE_RULE, [values]).fetchall()
        assert [r["now"] for r in rows] == [r["first"] for r in rows], rows

    check()
    samples = ["+1 (555) 010-0101", "555-010", "+44 20 7946 0958 ext. 12", "+1+555 0101 22"]
    with db.owner_connect() as conn:
        answers = conn.execute(
            "SELECT crmferry_phone_ok(v) AS ok FROM unnest(%s::text[]) AS v", [samples]
        ).fetchall()
    assert [a["ok"] for a in answers] == [True, False, True, False]
