"""A small data type of the test suite's own, registered for a test: `kit_lines`, the
lines of a kit, with a composite natural key (kit + position), a link to inventory by
SKU that keeps the item's id, a computed line total, and an export-only field read
through the link. Its table is made by the test's own SQL, as the owner, with
`crmferry_make_record_table` (row-level security, grants and triggers like the others),
and dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crmferry.db import Database
from crmferry.records import DATA_TYPES, DataType, Field, Link, Through
from tests.imports.conftest import importer

__all__ = ["importer", "kit_lines"]

KIT_LINES = DataType(
    name="kit_lines",
    label="Kit lines",
    table="kit_lines",
    search_fields=("kit", "sku", "note"),
    links=(
        Link(
            "item",
            fields=("sku",),
            target="inventory",
            key=("sku",),
            message="matches no inventory item of this organization",
            id_column="inventory_id",
        ),
    ),
    fields=(
        Field("kit", "Kit", required=True, key=True, max_length=50),
        Field("position", "Position", "integer", required=True, key=True, sql_type="integer"),
        Field("sku", "SKU", synonyms=("item",)),
        Field(
            "quantity", "Quantity", "integer", default="1", sql_type="integer", synonyms=("qty",)
        ),
        Field("unit_price", "Unit price", "decimal", sql_type="numeric(12,2)", synonyms=("price",)),
        Field("line_total", "Line total", "decimal", sql_type="numeric(14,2)", computed=True),
        Field("note", "Note"),
    ),
    extra_export_fields=(Field("item_name", "Item name", through=Through("item", "name")),),
)

CREATE_TABLE = """
CREATE TABLE kit_lines (
    id              uuid NOT NULL DEFAULT crmferry_new_id(),
    organization_id uuid NOT NULL,
    kit             text NOT NULL,
    position        integer NOT NULL,
    sku             text,
    inventory_id    uuid,
    quantity        integer NOT NULL DEFAULT 1,
    unit_price      numeric(12, 2),
    line_total      numeric(14, 2) GENERATED ALWAYS AS (quantity * unit_price) STORED,
    note            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    import_job_id   uuid,
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, kit, position),
    FOREIGN KEY (organization_id, inventory_id) REFERENCES inventory (organization_id, id)
        ON DELETE SET NULL (inventory_id)
);
SELECT crmferry_make_record_table('kit_lines', ARRAY['kit', 'sku', 'note']);
"""

DROP_TABLE = """
DROP TRIGGER delete_kit_lines ON organizations;
DROP TABLE kit_lines;
DELETE FROM crmferry_record_tables WHERE table_name = 'kit_lines';
"""


@pytest.fixture
def kit_lines(db: Database) -> Iterator[DataType]:
    """`kit_lines` registered, with its table, for one test."""
    with db.owner_connect() as conn:
        conn.execute(CREATE_TABLE)
    DATA_TYPES.register(KIT_LINES)
    try:
        yield KIT_LINES
    finally:
        DATA_TYPES.unregister(KIT_LINES.name)
        with db.owner_connect() as conn:
            conn.execute(DROP_TABLE)
