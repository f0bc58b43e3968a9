"""The schema is ready to be distributed by organization_id (Citus, docs/scaling.md):
checked in the catalog and in the SQL of the import and export paths, so that
distribution stays a configuration step, not a rewrite."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import pytest

from crmferry.db import Database
from crmferry.db.distribution import (
    COORDINATOR_TABLES,
    DISTRIBUTION_COLUMN,
    REFERENCE_TABLES,
    distributed_tables,
    distribution_statements,
    unclassified_tables,
)
from crmferry.exports.options import parse_export_options
from crmferry.exports.query import build_export_query
from crmferry.records import DATA_TYPES
from tests.conftest import Org

# every constraint that makes rows unique, and the columns it covers
UNIQUE_KEYS = """
SELECT c.relname AS table_name, i.relname AS index_name, ix.indisprimary AS is_primary,
       array(SELECT a.attname FROM unnest(ix.indkey) AS k(attnum)
               JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum)::text[]
           AS columns
  FROM pg_index AS ix
  JOIN pg_class AS c ON c.oid = ix.indrelid
  JOIN pg_class AS i ON i.oid = ix.indexrelid
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
 WHERE n.nspname = current_schema() AND ix.indisunique AND c.relname = ANY(%s)
"""

FOREIGN_KEYS = """
SELECT c.relname AS table_name, r.relname AS referenced, con.conname,
       array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, n)
               JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum
              ORDER BY k.n)::text[] AS columns,
       array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, n)
               JOIN pg_attribute AS a ON a.attrelid = r.oid AND a.attnum = k.attnum
              ORDER BY k.n)::text[] AS referenced_columns
  FROM pg_constraint AS con
  JOIN pg_class AS c ON c.oid = con.conrelid
  JOIN pg_class AS r ON r.oid = con.confrelid
 WHERE con.contype = 'f' AND c.relname = ANY(%s)
"""


# the modules whose statements make up the import and export paths
PATH_MODULES = (
    "crmferry.imports.uploads",
    "crmferry.imports.staging",
    "crmferry.imports.validate",
    "crmferry.imports.merge",
    "crmferry.imports.revert",
    "crmferry.imports.report",
    "crmferry.imports.s3_source",
    "crmferry.exports.kind",
    "crmferry.exports.changes",
    "crmferry.exports.deleted",
    "crmferry.exports.query",
    "crmferry.exports.snapshot",
    "crmferry.exports.split",
    "crmferry.jobs.firing",
    "crmferry.jobs.schedules",
    "crmferry.jobs.templates",
)
# statements whose {table} is the import's staging table (a temporary table of the
# session), not a record table
STAGING_ONLY = ("crmferry.imports.validate._DATE_FIT",)
_STATEMENT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|COPY)\b", re.IGNORECASE)
_TABLE = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE|USING)\s+(\{table\}|[a-z_]+)", re.IGNORECASE)


@pytest.fixture(scope="module")
def distributed(db: Database) -> list[str]:
    with db.owner_connect() as conn:
        return distributed_tables(conn)


def test_every_table_is_placed_distributed_reference_or_coordinator(db: Database) -> None:
    with db.owner_connect() as conn:
        assert unclassified_tables(conn) == []
    assert set(REFERENCE_TABLES).isdisjoint(COORDINATOR_TABLES)


def test_the_tenant_data_is_distributed_and_every_record_table_with_it(
    db: Database, distributed: list[str]
) -> None:
    with db.owner_connect() as conn:
        records = [
            r["table_name"] for r in conn.execute("SELECT table_name FROM crmferry_record_tables")
        ]
    assert set(records) <= set(distributed)
    for table in (
        "uploads",
        "import_changes",
        "schedules",
        "schedule_occurrences",
        "source_objects",
        "templates",
    ):
        assert table in distributed
    assert "scheduled_jobs" not in distributed


def test_every_primary_key_and_unique_key_of_tenant_data_includes_organization_id(
    db: Database, distributed: list[str]
) -> None:
    with db.owner_connect() as conn:
        keys = conn.execute(UNIQUE_KEYS, [distributed]).fetchall()
    missing = [k for k in keys if DISTRIBUTION_COLUMN not in k["columns"]]
    assert missing == []
    with_primary = {k["table_name"] for k in keys if k["is_primary"]}
    assert with_primary == set(distributed)


def test_foreign_keys_between_tenant_tables_include_organization_id_on_both_sides(
    db: Database, distributed: list[str]
) -> None:
    with db.owner_connect() as conn:
        keys = conn.execute(FOREIGN_KEYS, [distributed]).fetchall()
    assert keys, "the tenant tables have foreign keys to check"
    for key in keys:
        if key["referenced"] in REFERENCE_TABLES:
            continue  # to a table copied to every node: allowed as it is
        assert key["referenced"] in distributed, key  # never to a coordinator table
        assert DISTRIBUTION_COLUMN in key["columns"], key
        position = key["columns"].index(DISTRIBUTION_COLUMN)
        assert key["referenced_columns"][position] == DISTRIBUTION_COLUMN, key


def _path_statements() -> list[tuple[str, str]]:
    """Each module's named statements, with a `{fragment}` that names another of the
    module's constants (merge's `{match}` → `_MATCH`) written out."""
    found = []
    for name in PATH_MODULES:
        module = importlib.import_module(name)
        constants = {a: v for a, v in vars(module).items() if isinstance(v, str)}
        for attr, value in constants.items():
            if attr.lstrip("_").isupper() and _STATEMENT.match(value):
                text = re.sub(
                    r"\{([a-z_]+)\}",
                    lambda m, c=constants: c.get("_" + m[1].upper(), c.get(m[1].upper(), m[0])),
                    value,
                )
                if f"{name}.{attr}" not in STAGING_ONLY:
                    found.append((f"{name}.{attr}", text))
    return found


def test_every_statement_of_the_import_and_export_paths_filters_by_organization(
    distributed: list[str],
) -> None:
    statements = _path_statements()
    assert len(statements) > 20  # the modules were read
    unfiltered = []
    for where, text in statements:
        tables = {t.lower() for t in _TABLE.findall(text)}
        touches = {t for t in tables if t in distributed or t == "{table}"}
        if touches and not re.search(r"organization_id|crmferry_current_org\(\)", text):
            unfiltered.append(where)
    assert unfiltered == [], "\n".join(unfiltered)


def _scans(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes.extend(_scans(child))
    return nodes


@pytest.mark.parametrize("type_name", list(DATA_TYPES))
def test_the_export_query_scans_each_tenant_table_by_organization(
    db: Database, org: Org, distributed: list[str], type_name: str
) -> None:
    data_type = DATA_TYPES[type_name]
    options = parse_export_options(data_type, {})
    query, params = build_export_query(data_type, options, None)
    with db.tenant(org.id) as conn:
        (row,) = conn.execute(b"EXPLAIN (FORMAT JSON) " + query.as_bytes(conn), params).fetchall()
    plan = row["QUERY PLAN"][0]["Plan"]
    scans = [n for n in _scans(plan) if n.get("Relation Name") in distributed]
    assert scans
    for scan in scans:
        conditions = json.dumps([scan.get(k) for k in ("Filter", "Index Cond", "Recheck Cond")])
        assert DISTRIBUTION_COLUMN in conditions, scan


def test_the_citus_statements_name_every_table_once(db: Database, distributed: list[str]) -> None:
    with db.owner_connect() as conn:
        statements = distribution_statements(conn)
    assert len(statements) == len(REFERENCE_TABLES) + len(distributed)
    assert statements[len(REFERENCE_TABLES)].startswith("SELECT create_distributed_table(")
