"""Data sets the benchmarks build with set-based SQL as the schema owner (fast:
`generate_series`, one statement each), so that only what is measured takes time."""

from __future__ import annotations

from typing import Any

FIRST = [
    "Anaïs",
    "Björn",
    "Chloé",
    "Dmitri",
    "Élodie",
    "François",
    "Gül",
    "Håkon",
    "Inès",
    "José",
    "Jürgen",
    "Léa",
    "Małgorzata",
    "Núria",
    "Øyvind",
    "Renée",
    "Søren",
    "Zoë",
    "Ann",
    "Bob",
]
LAST = [
    "Müller",
    "García",
    "Núñez",
    "O'Brien",
    "Ødegaard",
    "Łukasiewicz",
    "Dubois",
    "Šimić",
    "Smith",
    "Johnson",
    "Brown",
    "Lefèvre",
    "Tanaka",
    "Kowalski",
    "Rossi",
    "Nguyen",
]
COMPANIES = [
    "Acme, Inc.",
    'Globex "Global" Ltd.',
    "Initech",
    "Umbrella, S.A.",
    "Hooli",
    "Société Générale de Test",
    "Wayne Enterprises",
    "Stark Industries",
]
CITIES = ["Montréal", "Zürich", "São Paulo", "Kraków", "Toronto", "Paris", "Berlin", "Tokyo"]

GENERATE_CONTACTS = """
INSERT INTO contacts (organization_id, name, first_name, last_name, email, phone, company,
                      title, address, city, state, postal_code, country, status, notes,
                      owner_email, created_at)
SELECT %(org)s, f || ' ' || l, f, l,
       lower(left(f, 1)) || '.' || i || '@example' || i %% 97 || '.com',
       '+1 555 ' || lpad((i %% 1000)::text, 3, '0') || ' ' || lpad((i %% 10000)::text, 4, '0'),
       co, 'Manager', i || ' Rue de la Paix, apt. ' || i %% 50, city, 'QC', 'H2X 1Y4', 'Canada',
       (ARRAY['active', 'lead', 'customer', 'prospect'])[1 + i %% 4],
       CASE WHEN i %% 100 = 0 THEN '=HYPERLINK("http://example.com")'
            WHEN i %% 10 = 0 THEN E'Called on Monday.\\nSays "call back", maybe.'
       END,
       'owner@example.com',
       timestamptz '2024-01-01' + i * interval '10 milliseconds'
FROM generate_series(1, %(rows)s) AS i,
     LATERAL (SELECT (%(first)s::text[])[1 + i %% %(nf)s] AS f,
                     (%(last)s::text[])[1 + (i / 7) %% %(nl)s] AS l,
                     (%(companies)s::text[])[1 + (i / 3) %% %(nc)s] AS co,
                     (%(cities)s::text[])[1 + (i / 11) %% %(nci)s] AS city) AS pick
"""


def generate_contacts(conn: Any, org_id: str, rows: int) -> None:
    """`rows` realistic contacts for the organization (accents, quoted commas, unique
    e-mails, "+" phone numbers, multi-line notes, a few formula-like values), created
    10 ms apart from 2024-01-01 on."""
    conn.execute(
        GENERATE_CONTACTS,
        {
            "org": org_id,
            "rows": rows,
            "first": FIRST,
            "nf": len(FIRST),
            "last": LAST,
            "nl": len(LAST),
            "companies": COMPANIES,
            "nc": len(COMPANIES),
            "cities": CITIES,
            "nci": len(CITIES),
        },
    )
