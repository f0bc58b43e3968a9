"""An import job from file to tables: validation, the three modes, error policies, dry run."""

from __future__ import annotations

import csv
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crmferry.errors import ValidationFailed
from tests.conftest import Org
from tests.imports.conftest import Importer
from tests.stored import download

pytestmark = pytest.mark.usefixtures("each_backend")

CONTACTS = """First Name,Last Name,E-mail,Phone,Company
Ann,Lee,ann@example.com,+1 555 010 0001,"Lee, Ltd"
Bob,Ray,BOB@Example.com,555-010-0002,Ray Co
Émile,Zola,emile@example.fr,,Rougon
"""

MAPPING = {
    "First Name": "first_name",
    "Last Name": "last_name",
    "E-mail": "email",
    "Phone": "phone",
    "Company": "company",
}


def contacts(importer: Importer, org: Org) -> list[dict[str, object]]:
    return importer.rows(
        org, "SELECT name, email, phone, company, status FROM contacts ORDER BY email"
    )


def test_upsert_inserts_new_contacts_with_composed_names_and_lowercased_emails(
    importer: Importer, org: Org
) -> None:
    job = importer.import_csv(org, "contacts", CONTACTS, MAPPING)
    assert job["status"] == "completed", job["error_message"]
    assert job["counts"] == {"inserted": 3, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    assert job["record_count"] == 3
    assert contacts(importer, org) == [
        {
            "name": "Ann Lee",
            "email": "ann@example.com",
            "phone": "+1 555 010 0001",
            "company": "Lee, Ltd",
            "status": "active",
        },
        {
            "name": "Bob Ray",
            "email": "bob@example.com",
            "phone": "555-010-0002",
            "company": "Ray Co",
            "status": "active",
        },
        {
            "name": "Émile Zola",
            "email": "emile@example.fr",
            "phone": None,
            "company": "Rougon",
            "status": "active",
        },
    ]


def test_upsert_again_counts_unchanged_rows_and_does_not_rewrite_them(
    importer: Importer, org: Org
) -> None:
    first = importer.import_csv(org, "contacts", CONTACTS, MAPPING)
    before = importer.rows(org, "SELECT id, updated_at, import_job_id FROM contacts ORDER BY id")
    changed = CONTACTS.replace("Ray Co", "Ray Group")
    again = importer.import_csv(org, "contacts", changed, MAPPING)
    assert again["counts"] == {
        "inserted": 0,
        "updated": 1,
        "unchanged": 2,
        "skipped": 0,
        "failed": 0,
    }
    after = importer.rows(org, "SELECT id, updated_at, import_job_id FROM contacts ORDER BY id")
    rewritten = [b["id"] for b, a in zip(before, after, strict=True) if b != a]
    assert len(rewritten) == 1
    assert {a["import_job_id"] for a in after} == {first["id"], again["id"]}
    logged = importer.rows(
        org,
        "SELECT action, previous->>'company' AS company FROM import_changes WHERE job_id = %s",
        [again["id"]],
    )
    assert logged == [{"action": "update", "company": "Ray Co"}]


BAD = """Name,Email,Phone,Status
Good One,good@example.com,555 123 4567,lead
,noname@example.com,,
Bad Mail,bob@,,
Bad Phone,phone@example.com,12ab,
Bad Status,status@example.com,,friend
"""


@pytest.mark.parametrize("mode", ["insert", "update", "upsert"])
def test_skip_policy_writes_good_rows_and_reports_each_bad_cell(
    importer: Importer, org: Org, mode: str
) -> None:
    if mode == "update":
        importer.import_csv(org, "contacts", "Name,Email\nOld,good@example.com\n")
    job = importer.import_csv(org, "contacts", BAD, None, mode=mode, on_error="skip")
    assert job["status"] == "completed"
    expected = {"insert": (1, 0), "update": (0, 1), "upsert": (1, 0)}[mode]
    assert (job["counts"]["inserted"], job["counts"]["updated"]) == expected
    assert job["counts"]["failed"] == 4
    assert job["error_message"].startswith(
        "4 rows have errors and they were skipped: Row 3, column 'Name' is required"
    )
    assert "Row 4, column 'Email': 'bob@' is not a valid e-mail address" in job["error_message"]
    with Path(job["report_file"]).open(encoding="utf-8-sig") as report:
        lines = list(csv.reader(report))
    assert lines[0] == [
        "row_number",
        "column",
        "value",
        "message",
        "Name",
        "Email",
        "Phone",
        "Status",
    ]
    assert lines[1:] == [
        ["3", "Name", "", "is required", "", "noname@example.com", "", ""],
        ["4", "Email", "bob@", "is not a valid e-mail address", "Bad Mail", "bob@", "", ""],
        [
            "5",
            "Phone",
            "12ab",
            "is not a valid phone number",
            "Bad Phone",
            "phone@example.com",
            "12ab",
            "",
        ],
        [
            "6",
            "Status",
            "friend",
            "is not one of: active, inactive, lead, prospect, customer",
            "Bad Status",
            "status@example.com",
            "",
            "friend",
        ],
    ]
    names = [r["name"] for r in importer.rows(org, "SELECT name FROM contacts")]
    assert names == ["Good One"]


@pytest.mark.parametrize("mode", ["insert", "update", "upsert"])
def test_abort_policy_writes_nothing_and_fails_with_a_report(
    importer: Importer, org: Org, mode: str
) -> None:
    job = importer.import_csv(org, "contacts", BAD, None, mode=mode, on_error="abort")
    assert job["status"] == "failed"
    assert job["counts"]["failed"] == 4
    assert job["counts"]["inserted"] == job["counts"]["updated"] == 0
    assert "nothing was imported" in job["error_message"]
    assert Path(job["report_file"]).exists()
    assert importer.rows(org, "SELECT * FROM contacts") == []
    assert importer.rows(org, "SELECT * FROM import_changes") == []


@pytest.mark.parametrize(
    ("mode", "counts"),
    [
        ("insert", {"inserted": 1, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 1}),
        ("update", {"inserted": 0, "updated": 1, "unchanged": 1, "skipped": 1, "failed": 0}),
        ("upsert", {"inserted": 1, "updated": 1, "unchanged": 1, "skipped": 0, "failed": 0}),
    ],
)
def test_dry_run_counts_what_each_mode_would_do_and_writes_nothing(
    importer: Importer, org: Org, mode: str, counts: dict[str, int]
) -> None:
    importer.import_csv(
        org, "contacts", "Name,Email\nSame,same@example.com\nOld,changed@example.com\n"
    )
    before = importer.rows(org, "SELECT * FROM contacts ORDER BY id")
    new_file = (
        "Name,Email\nSame,same@example.com\nNew,changed@example.com\nFresh,fresh@example.com\n"
    )
    if mode == "insert":
        new_file = "Name,Email\nSame,same@example.com\nFresh,fresh@example.com\n"
    job = importer.import_csv(org, "contacts", new_file, None, mode=mode, dry_run=True)
    assert job["status"] == "completed"
    assert job["counts"] == counts
    assert importer.rows(org, "SELECT * FROM contacts ORDER BY id") == before
    assert importer.rows(org, "SELECT * FROM import_changes WHERE job_id = %s", [job["id"]]) == []


def test_update_mode_skips_unknown_keys_and_touches_only_mapped_fields(
    importer: Importer, org: Org
) -> None:
    importer.import_csv(org, "contacts", "Name,Email,Company\nAnn,ann@example.com,Acme\n")
    job = importer.import_csv(
        org,
        "contacts",
        "Email,Phone\nANN@example.com,555 000 1111\nnobody@example.com,555 000 2222\n",
        {"Email": "email", "Phone": "phone"},
        mode="update",
    )
    assert job["counts"] == {"inserted": 0, "updated": 1, "unchanged": 0, "skipped": 1, "failed": 0}
    assert importer.rows(org, "SELECT name, company, phone FROM contacts") == [
        {"name": "Ann", "company": "Acme", "phone": "555 000 1111"}
    ]


def test_a_key_repeated_in_the_file_is_an_error_on_the_later_rows(
    importer: Importer, org: Org
) -> None:
    job = importer.import_csv(
        org,
        "inventory",
        "SKU,Name,Qty\nA-1,Bolt,5\nA-2,Nut,6\nA-1,Bolt again,7\nA-1,Bolt thrice,8\n",
    )
    assert job["counts"]["inserted"] == 2
    assert job["counts"]["failed"] == 2
    assert "Row 4, column 'SKU': 'A-1' repeats row 2 of this file" in job["error_message"]
    assert importer.rows(org, "SELECT sku, name, quantity FROM inventory ORDER BY sku") == [
        {"sku": "A-1", "name": "Bolt", "quantity": 5},
        {"sku": "A-2", "name": "Nut", "quantity": 6},
    ]


def test_insert_mode_refuses_existing_keys_as_row_errors(importer: Importer, org: Org) -> None:
    importer.import_csv(org, "inventory", "SKU,Name\nA-1,Bolt\n")
    job = importer.import_csv(
        org, "inventory", "SKU,Name\nA-1,Other\nA-2,Nut\n", None, mode="insert"
    )
    assert job["counts"]["inserted"] == 1 and job["counts"]["failed"] == 1
    assert "already exists" in job["error_message"]


def test_decimal_comma_and_thousands_separators(importer: Importer, org: Org) -> None:
    job = importer.import_csv(
        org,
        "inventory",
        "SKU;Name;Price;Cost;Qty\nA-1;Bolt;1.234,50;0,75;1.000\nA-2;Nut;12,5;abc;2\n",
        None,
        decimal=",",
    )
    assert job["counts"]["inserted"] == 1 and job["counts"]["failed"] == 1
    assert "'abc' is not a number (decimal mark ',')" in job["error_message"]
    rows = importer.rows(org, "SELECT sku, unit_price::text, cost::text, quantity FROM inventory")
    assert rows == [{"sku": "A-1", "unit_price": "1234.50", "cost": "0.75", "quantity": 1000}]


def test_integers_refuse_fractions(importer: Importer, org: Org) -> None:
    mapping = {"SKU": "sku", "Name": "name", "Qty": "quantity"}  # not suggested: no value fits
    job = importer.import_csv(org, "inventory", "SKU,Name,Qty\nA-1,Bolt,2.5\nA-2,Nut,\n", mapping)
    assert job["counts"]["failed"] == 1 and "is not a whole number" in job["error_message"]
    assert importer.rows(org, "SELECT quantity FROM inventory") == [{"quantity": 0}]


def _bids(valid_until: list[str]) -> str:
    lines = ["Bid #,Title,Amount,Valid Until"]
    lines += [f"B-{i},Job {i},100,{v}" for i, v in enumerate(valid_until)]
    return "\n".join(lines) + "\n"


def test_auto_date_format_uses_the_one_layout_the_column_fits(importer: Importer, org: Org) -> None:
    job = importer.import_csv(org, "bids", _bids(["05/06/2024", "25/12/2024"]))
    assert job["status"] == "completed" and job["counts"]["inserted"] == 2
    dates = importer.rows(org, "SELECT valid_until::text FROM bids ORDER BY bid_number")
    assert [d["valid_until"] for d in dates] == ["2024-06-05", "2024-12-25"]


def test_ambiguous_auto_dates_are_errors_that_ask_for_a_format(
    importer: Importer, org: Org
) -> None:
    job = importer.import_csv(org, "bids", _bids(["05/06/2024", "01/02/2024"]))
    assert job["counts"]["failed"] == 2
    assert "ambiguous" in job["error_message"] and "date_format" in job["error_message"]
    chosen = importer.import_csv(
        org, "bids", _bids(["05/06/2024", "01/02/2024"]), None, date_format="MM/DD/YYYY"
    )
    assert chosen["counts"]["inserted"] == 2
    assert importer.rows(org, "SELECT valid_until::text FROM bids WHERE bid_number = 'B-0'") == [
        {"valid_until": "2024-05-06"}
    ]


def test_impossible_dates_are_errors(importer: Importer, org: Org) -> None:
    job = importer.import_csv(
        org, "bids", _bids(["2024-02-30", "2024-02-29"]), None, date_format="YYYY-MM-DD"
    )
    assert job["counts"] == {"inserted": 1, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 1}
    assert "'2024-02-30' is not a date in the format YYYY-MM-DD" in job["error_message"]


def test_bids_link_to_contacts_of_the_same_organization_only(importer: Importer, make_org) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = make_org("Mine"), make_org("Theirs")
    importer.import_csv(mine, "contacts", "Name,Email\nAnn,ann@example.com\n")
    importer.import_csv(theirs, "contacts", "Name,Email\nZed,zed@example.com\n")
    job = importer.import_csv(
        mine,
        "bids",
        "Bid #,Title,Amount,Contact Email,Status,Currency\n"
        'B-1,Roof,"1,200.00",ANN@example.com,Accepted,\n'
        "B-2,Door,50,zed@example.com,,eur\n",
        {
            "Bid #": "bid_number",
            "Title": "title",
            "Amount": "amount",
            "Contact Email": "contact_email",
            "Status": "status",
            "Currency": "currency",
        },
    )
    assert job["counts"]["inserted"] == 1 and job["counts"]["failed"] == 1
    assert "'zed@example.com' matches no contact of this organization" in job["error_message"]
    rows = importer.rows(
        mine,
        "SELECT b.amount::text, b.status, b.currency, c.email FROM bids b JOIN contacts c ON c.id = b.contact_id",
    )
    assert rows == [
        {"amount": "1200.00", "status": "accepted", "currency": "USD", "email": "ann@example.com"}
    ]


def test_unmapped_currency_defaults_to_the_organization_currency(
    importer: Importer, org: Org
) -> None:
    with importer.db.owner_connect() as conn:
        conn.execute("UPDATE organizations SET currency = 'EUR' WHERE id = %s", [org.id])
    importer.import_csv(org, "bids", "Bid #,Title,Amount\nB-1,Roof,10\n")
    assert importer.rows(org, "SELECT currency FROM bids") == [{"currency": "EUR"}]


def test_an_upload_of_another_organization_is_not_found(importer: Importer, make_org) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = make_org("Mine"), make_org("Theirs")
    upload = importer.upload(theirs.member, "Name,Email\nA,a@example.com\n")
    from crmferry.errors import NotFound

    with pytest.raises(NotFound):
        importer.create(mine, "contacts", upload["id"], {"Name": "name", "Email": "email"})


def test_bad_options_are_refused_at_creation(importer: Importer, org: Org) -> None:
    upload = importer.upload(org.member, "Name,Email\nA,a@example.com\n")
    with pytest.raises(ValidationFailed) as raised:
        importer.create(
            org, "contacts", upload["id"], {"Name": "name", "Email": "email"}, mode="merge"
        )
    assert raised.value.errors == [
        {"field": "options.mode", "message": "must be one of 'insert', 'update', 'upsert'"}
    ]


def test_cancel_at_a_batch_boundary_keeps_nothing(importer: Importer, org: Org) -> None:
    rows = "".join(f"P{i},p{i}@example.com\n" for i in range(25_000))
    upload = importer.upload(org.member, "Name,Email\n" + rows)
    job_id = importer.create(org, "contacts", upload["id"], {"Name": "name", "Email": "email"})
    job = importer.run(org, job_id, cancel=True)
    assert job["status"] == "cancelled"
    assert importer.rows(org, "SELECT count(*) AS n FROM contacts") == [{"n": 0}]


def test_a_few_thousand_rows_import_in_one_job(importer: Importer, org: Org) -> None:
    body = "".join(f"Person {i},person{i}@example.com,Ville {i % 7}\n" for i in range(3_000))
    job = importer.import_csv(org, "contacts", "Name,Email,City\n" + body)
    assert job["counts"]["inserted"] == 3_000
    # every inserted record logged once, in lists of at most 100 ids
    assert importer.rows(
        org,
        "SELECT count(DISTINCT c.id) AS lists, max(cardinality(record_ids)) AS longest,"
        " count(DISTINCT logged.id) FILTER (WHERE logged.id IN (SELECT id FROM contacts)) AS ids"
        " FROM import_changes AS c CROSS JOIN unnest(c.record_ids) AS logged(id)"
        " WHERE c.job_id = %s AND c.action = 'insert'",
        [job["id"]],
    ) == [{"lists": 30, "longest": 100, "ids": 3_000}]


def test_an_empty_name_is_composed_from_first_and_last_name_per_row(
    importer: Importer, org: Org
) -> None:
    job = importer.import_csv(
        org,
        "contacts",
        "Name,First,Last,Email\nGiven Name,Ann,Lee,ann@example.com\n,Bob,Ray,bob@example.com\n,,,nobody@example.com\n",
        {"Name": "name", "First": "first_name", "Last": "last_name", "Email": "email"},
    )
    assert job["counts"]["inserted"] == 2 and job["counts"]["failed"] == 1
    assert "Row 4, column 'Name' is required" in job["error_message"]
    names = importer.rows(org, "SELECT name FROM contacts ORDER BY email")
    assert names == [{"name": "Given Name"}, {"name": "Bob Ray"}]


def test_owner_email_must_be_a_member_and_lengths_are_checked(importer: Importer, org: Org) -> None:
    body = (
        "Name,Email,Owner,Zip\n"
        f"Ann,ann@example.com,{org.member.email.upper()},75001\n"
        "Bob,bob@example.com,stranger@example.com,75002\n"
        f"Cy,cy@example.com,,{'9' * 21}\n"
    )
    job = importer.import_csv(
        org,
        "contacts",
        body,
        {"Name": "name", "Email": "email", "Owner": "owner_email", "Zip": "postal_code"},
    )
    assert job["counts"]["inserted"] == 1 and job["counts"]["failed"] == 2
    assert "'stranger@example.com' is not a member of this organization" in job["error_message"]
    assert "is longer than 20 characters" in job["error_message"]
    assert importer.rows(org, "SELECT owner_email FROM contacts") == [
        {"owner_email": org.member.email.lower()}
    ]


def test_post_jobs_checks_the_import_and_the_errors_csv_is_served(
    importer: Importer, app_client: TestClient, make_org
) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = make_org("Mine"), make_org("Theirs")
    upload = importer.upload(mine.member, "Name,Email\nAnn,ann@\n")
    body = {
        "job_type": "import",
        "data_type": "contacts",
        "upload_id": upload["id"],
        "mapping": {"Name": "name", "Email": "email"},
    }
    assert (
        app_client.post("/api/v1/jobs", headers=theirs.member.headers, json=body).status_code == 404
    )
    unknown = {**body, "mapping": {"Name": "nickname"}}
    assert (
        app_client.post("/api/v1/jobs", headers=mine.member.headers, json=unknown).status_code
        == 422
    )
    created = app_client.post("/api/v1/jobs", headers=mine.member.headers, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["file_name"] == "file.csv"
    importer.run(mine, uuid.UUID(created.json()["id"]))
    errors = download(
        app_client, f"/api/v1/jobs/{created.json()['id']}/errors", mine.viewer.headers
    )
    assert errors.status_code == 200
    lines = errors.text.lstrip("\ufeff").splitlines()
    assert lines == [
        "row_number,column,value,message,Name,Email",
        "2,Email,ann@,is not a valid e-mail address,Ann,ann@",
    ]


def test_an_upsert_racing_a_concurrent_insert_of_the_same_key_updates_that_record(
    importer: Importer, org: Org
) -> None:
    """The new rows' plain INSERT waits on another transaction's uncommitted insert of
    the same e-mail; when that commits, the INSERT fails on the unique key, is rolled
    back to its savepoint, and the ON CONFLICT form writes the rows: the raced record
    is updated (and logged as such), nothing is duplicated or lost."""
    upload = importer.upload(
        org.member,
        "Name,Email,Company\nAnn,ann@example.com,Acme\nBob,bob@example.com,Bobco\n",
        data_type="contacts",
    )
    job_id = importer.create(org, "contacts", upload["id"], upload["suggested_mapping"])
    finished: dict[str, Any] = {}
    with importer.db.app_connect() as rival, importer.db.owner_connect() as watcher:
        rival.execute("BEGIN")
        rival.execute("SELECT set_config('app.current_organization_id', %s, true)", [str(org.id)])
        rival.execute(
            "INSERT INTO contacts (organization_id, name, email, company)"
            " VALUES (crmferry_current_org(), 'Bob', 'bob@example.com', 'Rival')"
        )
        runner = threading.Thread(target=lambda: finished.update(importer.run(org, job_id)))
        runner.start()
        deadline = time.monotonic() + 60
        while not watcher.execute(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE '%%INSERT INTO \"contacts\"%%'"
        ).fetchone():
            assert time.monotonic() < deadline, "the import never waited on the rival insert"
            time.sleep(0.05)
        rival.execute("COMMIT")
        runner.join(60)
    assert finished["status"] == "completed", finished["error_message"]
    assert finished["counts"] == {
        "inserted": 1,
        "updated": 1,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
    }
    rows = importer.rows(org, "SELECT email, company FROM contacts ORDER BY email")
    assert rows == [
        {"email": "ann@example.com", "company": "Acme"},
        {"email": "bob@example.com", "company": "Bobco"},
    ]
    log = importer.rows(
        org,
        "SELECT c.action, c.previous->>'company' AS before FROM import_changes AS c"
        " CROSS JOIN unnest(coalesce(c.record_ids, ARRAY[c.record_id])) AS logged(id)"
        " JOIN contacts AS t ON t.id = logged.id WHERE c.job_id = %s ORDER BY t.email",
        [job_id],
    )
    assert log == [{"action": "insert", "before": None}, {"action": "update", "before": "Rival"}]
