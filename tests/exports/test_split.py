"""A large CSV export as two COPY streams of one snapshot: the same bytes as one stream,
the same snapshot and organization on both connections, progress over both, and
cancellation, errors and a missing second connection handled."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from crmferry.db import Conn, Database
from crmferry.errors import JobCancelled
from crmferry.exports import split
from crmferry.exports.options import parse_export_options
from crmferry.exports.snapshot import shared_snapshot, snapshot_transaction
from crmferry.exports.writers import ExportResult, write_export
from crmferry.records import BIDS, CONTACTS, DataType

from .conftest import Insert, cancel_at_second_chunk

# more than the socket buffers hold: each COPY is still running while the other is read
ROWS = 20_000


def fill(db: Database, org: UUID, rows: int) -> None:
    """`rows` contacts (text with formulas, quotes, commas, line breaks; four at a time
    created at the same instant, so that the id decides their order), and a bid for
    each of them."""
    with db.owner_connect() as conn:
        conn.execute(
            """
            INSERT INTO contacts (organization_id, name, email, phone, company, notes, created_at)
            SELECT %(org)s, CASE WHEN i %% 7 = 0 THEN '=cmd|' || i ELSE 'Zoë ' || i END,
                   'c' || i || '@example.com', '+1 555 ' || i, 'Acme, "Inc."',
                   CASE WHEN i %% 3 = 0 THEN E'one\\ntwo' END,
                   timestamptz '2024-01-01' + (i / 4) * interval '1 second'
            FROM generate_series(1, %(rows)s) AS i
            """,
            {"org": org, "rows": rows},
        )
        conn.execute(
            """
            INSERT INTO bids (organization_id, bid_number, title, contact_id, amount, created_at)
            SELECT c.organization_id, 'B-' || c.email, '-' || c.name, c.id, 10.50, c.created_at
            FROM contacts AS c WHERE c.organization_id = %s
            """,
            [org],
        )


@pytest.fixture(scope="module")
def many_org(db: Database) -> UUID:
    """An organization with ROWS contacts and bids (`fill`)."""
    with db.owner_connect() as conn:
        row = conn.execute(
            "INSERT INTO organizations (name) VALUES ('Many') RETURNING id"
        ).fetchone()
    assert row is not None
    fill(db, row["id"], ROWS)
    return UUID(str(row["id"]))


@pytest.fixture
def split_from_ten_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(split, "SPLIT_MIN_ROWS", 10)


class Connections:
    """`Database.app_connect`, counting the second connections an export opens."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.opened: list[Conn] = []

    def __call__(self) -> Conn:
        conn = self.db.app_connect()
        self.opened.append(conn)
        return conn


@pytest.fixture
def connections(db: Database) -> Connections:
    return Connections(db)


def export_csv(
    db: Database,
    org: UUID,
    raw: dict[str, Any],
    path: Path,
    data_type: DataType = CONTACTS,
    progress: Callable[[int], None] = lambda _: None,
    **kwargs: Any,
) -> ExportResult:
    options = parse_export_options(data_type, {"format": "csv", **raw})
    with snapshot_transaction(db, org) as conn:
        if not options.filters:
            # as the export job does: the exact count when it is known (the planner's
            # estimate for one organization depends on what other tests left in the table)
            count = sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(data_type.table))
            row = conn.execute(count).fetchone()
            kwargs.setdefault("expected_rows", row["n"] if row else None)
        return write_export(conn, data_type, options, path, progress, **kwargs)


@pytest.mark.usefixtures("split_from_ten_rows")
@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"sort": "-created_at,-id", "delimiter": ";", "bom": False},
        {"filters": [{"field": "name", "op": "contains", "value": "zoë"}]},
        {"fields": ["id", "created_at", "name", "notes"], "delimiter": "\t"},
        {"format": "jsonl"},
        {"format": "jsonl", "sort": "-created_at,-id", "fields": ["notes", "id", "created_at"]},
    ],
    ids=["default", "descending", "filtered", "fields", "jsonl", "jsonl-descending"],
)
def test_two_streams_write_the_same_bytes_as_one(
    db: Database,
    many_org: UUID,
    tmp_path: Path,
    connections: Connections,
    appended: list[int],
    raw: dict[str, Any],
) -> None:
    one = export_csv(db, many_org, raw, tmp_path / "one.csv")
    two = export_csv(
        db, many_org, raw, tmp_path / "two.csv", connect=connections, expected_rows=ROWS
    )
    assert len(connections.opened) == 1 and connections.opened[0].closed
    assert len(appended) == 1 and appended[0] > 0  # the second stream wrote its half
    assert (tmp_path / "two.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    assert two == one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.csv", "two.csv"]


@pytest.mark.usefixtures("split_from_ten_rows")
def test_two_streams_of_bids_joined_to_their_contacts(
    db: Database, many_org: UUID, tmp_path: Path, connections: Connections, appended: list[int]
) -> None:
    raw = {"fields": ["bid_number", "title", "contact_name", "amount"]}
    raw["filters"] = [{"field": "contact_name", "op": "contains", "value": "cmd"}]
    export_csv(db, many_org, raw, tmp_path / "one.csv", BIDS)
    export_csv(
        db, many_org, raw, tmp_path / "two.csv", BIDS, connect=connections, expected_rows=3000
    )
    assert appended and appended[0] > 0
    assert (tmp_path / "two.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()


@pytest.mark.usefixtures("split_from_ten_rows")
def test_one_stream_when_the_export_is_small_or_its_sort_cannot_be_split(
    db: Database, many_org: UUID, tmp_path: Path, connections: Connections
) -> None:
    export_csv(db, many_org, {}, tmp_path / "a.csv", connect=connections, expected_rows=10)
    export_csv(db, many_org, {"sort": "name"}, tmp_path / "b.csv", connect=connections)
    export_csv(db, many_org, {"sort": "-created_at"}, tmp_path / "c.csv", connect=connections)
    assert connections.opened == []  # 10 rows; sorted by name; created_at DESC, id ASC


def test_the_planner_estimate_decides_without_a_count(
    db: Database,
    many_org: UUID,
    tmp_path: Path,
    connections: Connections,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = {"filters": [{"field": "email", "op": "contains", "value": "9@"}]}  # bound values
    monkeypatch.setattr(split, "SPLIT_MIN_ROWS", 0)  # any estimate (at least 1 row) splits
    export_csv(db, many_org, raw, tmp_path / "a.csv", connect=connections)
    assert len(connections.opened) == 1
    monkeypatch.setattr(split, "SPLIT_MIN_ROWS", 10**9)
    export_csv(db, many_org, raw, tmp_path / "b.csv", connect=connections)
    assert len(connections.opened) == 1
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert len((tmp_path / "a.csv").read_text("utf-8-sig").splitlines()) > ROWS // 10


@pytest.mark.usefixtures("split_from_ten_rows")
def test_both_streams_read_one_snapshot(
    db: Database,
    new_org: Callable[[], UUID],
    insert: Insert,
    tmp_path: Path,
    connections: Connections,
    appended: list[int],
) -> None:
    """A contact created after the export began is in neither half (it would sort last,
    into the second stream's range, if that stream took a snapshot of its own)."""
    org = new_org()
    fill(db, org, 100)
    options = parse_export_options(CONTACTS, {"fields": ["email"]})
    with snapshot_transaction(db, org) as conn:
        insert("contacts", org, [{"name": "Late", "email": "late@example.com"}])
        result = write_export(
            conn,
            CONTACTS,
            options,
            tmp_path / "s.csv",
            lambda _: None,
            connect=connections,
            expected_rows=100,
        )
    assert appended and appended[0] > 0
    assert result.record_count == 100
    assert "late@example.com" not in (tmp_path / "s.csv").read_text("utf-8-sig")


def test_the_second_connection_shares_snapshot_organization_and_settings(
    db: Database, many_org: UUID, new_org: Callable[[], UUID], insert: Insert
) -> None:
    insert("contacts", new_org(), [{"name": "Elsewhere"}])  # another organization's row
    probe = (
        "SELECT count(*) AS n, current_setting('transaction_isolation') AS iso,"
        " current_setting('transaction_read_only') AS ro, current_setting('TimeZone') AS tz,"
        " current_setting('app.current_organization_id') AS org FROM contacts"
    )
    with snapshot_transaction(db, many_org) as conn:
        with shared_snapshot(conn, db.app_connect) as second:
            assert second.execute(probe).fetchone() == conn.execute(probe).fetchone()
            row = second.execute(probe).fetchone()
        assert second.closed
    assert row == {
        "n": ROWS,
        "iso": "repeatable read",
        "ro": "on",
        "tz": "UTC",
        "org": str(many_org),
    }


@pytest.mark.usefixtures("split_from_ten_rows")
def test_progress_counts_the_rows_of_both_streams(
    db: Database, many_org: UUID, tmp_path: Path, connections: Connections, appended: list[int]
) -> None:
    calls: list[int] = []
    result = export_csv(
        db,
        many_org,
        {},
        tmp_path / "p.csv",
        connect=connections,
        progress=calls.append,
        chunk_rows=300,
    )
    assert appended and result.record_count == ROWS
    assert calls == [*range(300, ROWS, 300), ROWS]  # every 300 rows, then the last 200


@pytest.mark.usefixtures("split_from_ten_rows")
def test_cancel_stops_both_streams_and_removes_every_file(
    db: Database, many_org: UUID, tmp_path: Path, connections: Connections
) -> None:
    calls: list[int] = []
    out = tmp_path / "out"
    with pytest.raises(JobCancelled):
        export_csv(
            db,
            many_org,
            {},
            out / "c.csv",
            progress=cancel_at_second_chunk(calls),
            chunk_rows=50,
            connect=connections,
        )
    assert calls == [50, 100]
    assert list(out.iterdir()) == []
    assert len(connections.opened) == 1 and connections.opened[0].closed
    with db.tenant(many_org) as conn:  # the export's pool connection is clean again
        row = conn.execute(
            "SELECT current_setting('transaction_isolation') AS iso,"
            " current_setting('transaction_read_only') AS ro"
        ).fetchone()
    assert row == {"iso": "read committed", "ro": "off"}


# Asked for from another session while the export holds its share of contacts: every
# later reader of contacts, the second stream's COPY among them, queues behind it.
LOCK_CONTACTS = "LOCK TABLE contacts IN ACCESS EXCLUSIVE MODE"
LOCK_ASKED = """
SELECT count(*) AS n FROM pg_locks
 WHERE relation = 'contacts'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted
"""
WAITS_FOR_A_LOCK = "SELECT wait_event_type = 'Lock' AS waits FROM pg_stat_activity WHERE pid = %s"


class QueuedSecondStream(Connections):
    """Opens the second connection once another session has asked for contacts
    exclusively, so that the second COPY waits to start while the first one runs; a
    thread terminates the second backend as soon as it waits. (Terminated while it
    streamed instead, the whole second half could already sit in the socket buffers,
    and the export then rightly ended well.)"""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.threads: list[threading.Thread] = []

    def __call__(self) -> Conn:
        self._start(self._lock_contacts)
        deadline = time.monotonic() + 20
        with self.db.owner_connect() as owner:
            while owner.execute(LOCK_ASKED).fetchone() != {"n": 1}:
                assert time.monotonic() < deadline, "the lock was never asked for"
                time.sleep(0.01)
        conn = super().__call__()
        self._start(lambda: self._terminate_when_waiting(conn.info.backend_pid))
        return conn

    def join(self) -> None:
        for thread in self.threads:
            thread.join(30)

    def _start(self, target: Callable[[], None]) -> None:
        self.threads.append(threading.Thread(target=target, daemon=True))
        self.threads[-1].start()

    def _lock_contacts(self) -> None:
        with self.db.owner_connect() as locker, locker.transaction():
            locker.execute("SET LOCAL lock_timeout = '20s'")  # never a hang
            locker.execute(LOCK_CONTACTS)  # granted once the failed export rolls back

    def _terminate_when_waiting(self, pid: int) -> None:
        deadline = time.monotonic() + 20
        with self.db.owner_connect() as owner:
            while owner.execute(WAITS_FOR_A_LOCK, [pid]).fetchone() != {"waits": True}:
                if time.monotonic() > deadline:
                    return  # the export then ends well, and the test fails
                time.sleep(0.01)
            owner.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.usefixtures("split_from_ten_rows")
def test_an_error_in_the_second_stream_stops_the_export(
    db: Database, many_org: UUID, tmp_path: Path
) -> None:
    """The second backend is terminated while the first COPY runs: its error
    propagates, the first COPY is cancelled, no file is left, the export's pool
    connection is usable."""
    queued = QueuedSecondStream(db)
    out = tmp_path / "out"
    try:
        with pytest.raises(psycopg.OperationalError):
            export_csv(db, many_org, {}, out / "e.csv", chunk_rows=50, connect=queued)
    finally:
        queued.join()
    assert len(queued.opened) == 1
    assert list(out.iterdir()) == []
    with db.tenant(many_org) as conn:
        assert conn.execute("SELECT count(*) AS n FROM contacts").fetchone() == {"n": ROWS}


@pytest.mark.usefixtures("split_from_ten_rows")
def test_an_error_starting_the_second_copy_stops_the_export(
    db: Database, many_org: UUID, tmp_path: Path
) -> None:
    def connect_without_our_tables() -> Conn:
        conn = db.app_connect()
        conn.execute("SET search_path = pg_catalog")
        return conn

    out = tmp_path / "out"
    with pytest.raises(psycopg.errors.UndefinedTable):
        export_csv(db, many_org, {}, out / "e.csv", connect=connect_without_our_tables)
    assert list(out.iterdir()) == []


@pytest.mark.usefixtures("split_from_ten_rows")
def test_one_stream_when_no_second_connection_opens(
    db: Database, many_org: UUID, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse() -> Conn:
        raise psycopg.OperationalError("too many clients already")

    one = export_csv(db, many_org, {}, tmp_path / "one.csv")
    fallback = export_csv(db, many_org, {}, tmp_path / "two.csv", connect=refuse)
    assert fallback == one
    assert (tmp_path / "two.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    assert "too many clients already" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.csv", "two.csv"]
