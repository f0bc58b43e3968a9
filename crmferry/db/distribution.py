"""How the schema would be spread over many PostgreSQL nodes (Citus), by organization.

Every table is in one of three groups (docs/scaling.md says why):

* distributed by `organization_id`: the tenant data, every record table (those in
  `crmferry_record_tables`) and every other table with an `organization_id` that is not
  listed below; their keys all include `organization_id`, so each organization's rows
  live together on one node and every statement of the import and export paths is
  routed to that node;
* REFERENCE_TABLES: small, read everywhere, copied to every node;
* COORDINATOR_TABLES: the job queue (claimed across organizations with FOR UPDATE SKIP
  LOCKED, which wants one node) and authentication (looked up by a token's hash before
  the organization is known), kept on the coordinator.

`distribution_statements` gives the Citus calls that would distribute an existing
database: a configuration step, not a rewrite.
"""

from __future__ import annotations

from crmferry.db import Conn

DISTRIBUTION_COLUMN = "organization_id"

REFERENCE_TABLES = ("organizations", "users", "crmferry_record_tables")

COORDINATOR_TABLES = (
    "scheduled_jobs",
    "job_status_tallies",
    # the outbox: written by the trigger on scheduled_jobs in the job's transaction
    "events",
    "notifications",
    "idempotency_keys",
    "memberships",
    "api_tokens",
    "web_sessions",
    "invitations",
    "login_attempts",
    "crmferry_migrations",
)

TABLES_WITH_ORGANIZATION = """
SELECT c.relname AS table_name
  FROM pg_class AS c
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attname = %(column)s AND NOT a.attisdropped
 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
 ORDER BY c.relname
"""

ALL_TABLES = """
SELECT c.relname AS table_name
  FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
 ORDER BY c.relname
"""


def distributed_tables(conn: Conn) -> list[str]:
    """The tables that would be distributed by organization_id: every table with the
    column that is neither a reference nor a coordinator table."""
    rows = conn.execute(TABLES_WITH_ORGANIZATION, {"column": DISTRIBUTION_COLUMN}).fetchall()
    kept = set(REFERENCE_TABLES) | set(COORDINATOR_TABLES)
    return [r["table_name"] for r in rows if r["table_name"] not in kept]


def unclassified_tables(conn: Conn) -> list[str]:
    """Tables that are in none of the three groups (a new table nobody placed)."""
    placed = set(distributed_tables(conn)) | set(REFERENCE_TABLES) | set(COORDINATOR_TABLES)
    return [
        r["table_name"]
        for r in conn.execute(ALL_TABLES).fetchall()
        if r["table_name"] not in placed
    ]


def distribution_statements(conn: Conn) -> list[str]:
    """The Citus calls, in an order Citus accepts (reference tables first, then the
    distributed ones co-located with the first)."""
    statements = [f"SELECT create_reference_table('{t}');" for t in REFERENCE_TABLES]
    tables = distributed_tables(conn)
    for index, table in enumerate(tables):
        colocate = "" if index == 0 else f", colocate_with => '{tables[0]}'"
        statements.append(
            f"SELECT create_distributed_table('{table}', '{DISTRIBUTION_COLUMN}'{colocate});"
        )
    return statements
