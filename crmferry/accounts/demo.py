"""The demo organization `crmferry up` creates on a first start with an empty database."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from crmferry.accounts.admin import create_organization, create_user
from crmferry.accounts.secrets import random_password
from crmferry.db import Conn

DEMO_EMAIL = "admin@demo.example"

DEMO_CONTACTS = [
    (
        "Ada Lovelace",
        "Ada",
        "Lovelace",
        "ada@analytical.example",
        "+44 20 7946 0001",
        "Analytical Engines",
        "customer",
    ),
    (
        "René Descartes",
        "René",
        "Descartes",
        "rene@cogito.example",
        "+33 1 70 36 00 02",
        "Cogito SARL",
        "lead",
    ),
    (
        "Grace Hopper",
        "Grace",
        "Hopper",
        "grace@cobol.example",
        "+1 202 555 0103",
        "Compilers Inc",
        "active",
    ),
]
DEMO_INVENTORY = [
    ("SKU-1001", "Oak desk", "Furniture", 12, "349.00", "210.50"),
    ("SKU-1002", "Desk lamp", "Lighting", 40, "39.90", "18.25"),
    ("SKU-1003", "Ergonomic chair", "Furniture", 7, "289.00", "160.00"),
]
DEMO_BIDS = [
    ("BID-2026-001", "Office fit-out", "ada@analytical.example", "12500.00", "sent"),
    ("BID-2026-002", "Lighting refresh", "grace@cobol.example", "2300.50", "pending"),
]


@dataclass(frozen=True)
class DemoLogin:
    organization_id: UUID
    email: str
    password: str


def seed_demo_if_empty(conn: Conn) -> DemoLogin | None:
    """Create the demo organization, its admin and a little data, only in an empty database."""
    with conn.transaction():
        conn.execute("LOCK TABLE organizations IN EXCLUSIVE MODE")
        if conn.execute("SELECT 1 FROM organizations LIMIT 1").fetchone():
            return None
        org = create_organization(conn, "Demo Organization")
        password = random_password()
        create_user(conn, org, DEMO_EMAIL, "admin", name="Demo Admin", password=password)
        _seed_records(conn, org)
    return DemoLogin(org, DEMO_EMAIL, password)


def _seed_records(conn: Conn, org: UUID) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO contacts (organization_id, name, first_name, last_name, email, phone,
                                     company, status)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            [(org, *c) for c in DEMO_CONTACTS],
        )
        cur.executemany(
            """INSERT INTO inventory
                   (organization_id, sku, name, category, quantity, unit_price, cost)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            [(org, *i) for i in DEMO_INVENTORY],
        )
        cur.executemany(
            """INSERT INTO bids (organization_id, bid_number, title, contact_email, contact_id,
                                 amount, status)
               SELECT %s, %s, %s, %s, c.id, %s, %s
                 FROM (SELECT 1) one
                 LEFT JOIN contacts c ON c.organization_id = %s AND lower(c.email) = lower(%s)""",
            [(org, b[0], b[1], b[2], b[3], b[4], org, b[2]) for b in DEMO_BIDS],
        )
