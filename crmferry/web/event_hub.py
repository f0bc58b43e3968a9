"""The event streams of one web process: one LISTEN connection, fanned out in memory.

However many `GET /events` streams are open, the process holds one direct
connection that LISTENs on `crmferry_jobs`, `crmferry_access` and
`crmferry_notifications`. A job notification carries only an id and an organization;
the job is read once per organization (as that organization, so RLS decides what is
sent) and queued to each of its streams as a `job` event (the outbox's delivery jobs
are not sent). A notification's carries the organization and the member: their
streams get a `notifications` event with their unread count (the bell).

Every stream's caller is checked again before each delivery, whenever their access
may have changed (`crmferry_access`: a token revoked, a membership removed or its
role changed, a session ended; migration 0015), and every RECHECK_SECONDS anyway (a
session that expired): a caller who is no longer let in, or whose role changed, has
their stream closed. A user may hold CRMFERRY_SSE_MAX_STREAMS_PER_USER streams in
this process; past that, TooManyRequests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg

from crmferry.accounts.auth import Via, principal_from_credential
from crmferry.accounts.principal import Principal
from crmferry.db import Database
from crmferry.errors import NotFound, TooManyRequests, Unauthenticated
from crmferry.jobs.model import job_json
from crmferry.jobs.operations import get_job

log = logging.getLogger(__name__)

JOBS_CHANNEL = "crmferry_jobs"
ACCESS_CHANNEL = "crmferry_access"
NOTIFICATIONS_CHANNEL = "crmferry_notifications"

UNREAD_COUNTS = """
SELECT u.user_id, count(n.id) AS unread
  FROM unnest(%s::uuid[]) AS u(user_id)
  LEFT JOIN notifications AS n ON n.user_id = u.user_id AND n.read_at IS NULL
 GROUP BY u.user_id
"""
RECHECK_SECONDS = 30.0
KEEP_ALIVE_SECONDS = 15.0
RECONNECT_SECONDS = 1.0
QUEUE_FRAMES = 1000  # a stream this far behind is closed (its client reconnects)


@dataclass(eq=False)
class Stream:
    """One open event stream: its caller and the frames waiting to be sent."""

    principal: Principal
    listening: asyncio.Event  # the hub's: set while its LISTEN connection is up
    frames: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_FRAMES))
    closed: bool = False

    def push(self, frame: str | None) -> None:
        """Queue a frame (None: close after what is queued); a full queue closes."""
        if self.closed:
            return
        if frame is None:
            self.closed = True
        try:
            self.frames.put_nowait(frame)
        except asyncio.QueueFull:
            self.closed = True
            while not self.frames.empty():
                self.frames.get_nowait()
            self.frames.put_nowait(None)

    async def sse(self) -> AsyncIterator[str]:
        """The stream as Server-Sent Events text, with keep-alive comments, until closed.
        ": connected" comes once the hub listens: no event after it is missed."""
        while not self.listening.is_set():
            try:
                await asyncio.wait_for(self.listening.wait(), KEEP_ALIVE_SECONDS)
            except TimeoutError:
                yield ": waiting for the database\n\n"
        yield ": connected\n\n"
        while True:
            try:
                frame = await asyncio.wait_for(self.frames.get(), KEEP_ALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if frame is None:
                return
            yield frame


class EventHub:
    """Streams by organization, the process's LISTEN connection and the re-checks."""

    def __init__(self, db: Database, max_streams_per_user: int) -> None:
        self.db = db
        self.max_streams_per_user = max_streams_per_user
        self._streams: dict[UUID, set[Stream]] = defaultdict(set)
        self._pending: dict[UUID, dict[str, None]] = defaultdict(dict)  # job ids, in order
        self._unread: dict[UUID, set[UUID]] = defaultdict(set)  # users whose bell changed
        self._recheck: set[UUID] = set()
        self._deliveries: dict[UUID, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.listening = asyncio.Event()

    def open_stream(self, principal: Principal) -> Stream:
        """A new stream for `principal` (the hub starts listening with the first);
        TooManyRequests past the per-user cap."""
        self._start()
        held = sum(
            1
            for streams in self._streams.values()
            for s in streams
            if s.principal.user_id == principal.user_id
        )
        if held >= self.max_streams_per_user:
            raise TooManyRequests(
                f"You already have {held} event streams open, the most allowed "
                "(CRMFERRY_SSE_MAX_STREAMS_PER_USER); close one first."
            )
        stream = Stream(principal, self.listening)
        self._streams[principal.organization_id].add(stream)
        return stream

    def close_stream(self, stream: Stream) -> None:
        """Forget a stream (idempotent): its slot is free again."""
        streams = self._streams.get(stream.principal.organization_id)
        if streams is not None:
            streams.discard(stream)
            if not streams:
                del self._streams[stream.principal.organization_id]
        stream.closed = True

    def stream_count(self) -> int:
        return sum(len(s) for s in self._streams.values())

    async def close(self) -> None:
        """Stop listening and end every stream (the app is shutting down)."""
        for streams in list(self._streams.values()):
            for stream in list(streams):
                stream.push(None)
        for task in [*self._tasks, *self._deliveries.values()]:
            task.cancel()
        for task in [*self._tasks, *self._deliveries.values()]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks, self._deliveries, self._loop = [], {}, None

    # the listener ---------------------------------------------------------------

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        # first stream, or a new event loop (test clients run one per request)
        self._loop, self._streams, self._deliveries = loop, defaultdict(set), {}
        self._pending, self._recheck = defaultdict(dict), set()
        self._unread = defaultdict(set)
        self.listening = asyncio.Event()
        self._tasks = [loop.create_task(self._listen()), loop.create_task(self._tick())]

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.db.app_url, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {JOBS_CHANNEL}")
                    await conn.execute(f"LISTEN {ACCESS_CHANNEL}")
                    await conn.execute(f"LISTEN {NOTIFICATIONS_CHANNEL}")
                    self.listening.set()
                    self._recheck_all()  # what was missed while not listening
                    async for note in conn.notifies():
                        self._notified(note.channel, note.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("event streams: %s; listening again in %s s", exc, RECONNECT_SECONDS)
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            self._recheck_all()

    def _notified(self, channel: str, payload: str) -> None:
        if channel == ACCESS_CHANNEL:
            org = _uuid(payload)
            if org is not None and org in self._streams:
                self._recheck.add(org)
                self._deliver(org)
            return
        message = _json(payload)
        org = _uuid(message.get("org"))
        if channel == NOTIFICATIONS_CHANNEL:
            user = _uuid(message.get("user"))
            if org is not None and org in self._streams and user is not None:
                self._unread[org].add(user)
                self._deliver(org)
            return
        job_id = message.get("id")
        if org is not None and org in self._streams and isinstance(job_id, str):
            self._pending[org][job_id] = None
            self._deliver(org)

    def _recheck_all(self) -> None:
        for org in list(self._streams):
            self._recheck.add(org)
            self._deliver(org)

    # delivery: one task per organization at a time, so its events stay in order ---

    def _deliver(self, org: UUID) -> None:
        running = self._deliveries.get(org)
        if running is None or running.done():
            assert self._loop is not None
            self._deliveries[org] = self._loop.create_task(self._deliver_all(org))

    async def _deliver_all(self, org: UUID) -> None:
        while self._pending.get(org) or org in self._recheck or self._unread.get(org):
            job_ids = list(self._pending.pop(org, {}))
            users = list(self._unread.pop(org, ()))
            self._recheck.discard(org)
            streams = list(self._streams.get(org, ()))
            if not streams:
                return
            try:
                allowed = await asyncio.to_thread(_still_allowed, self.db, streams)
                jobs = await asyncio.to_thread(_read_jobs, self.db, org, job_ids) if job_ids else []
                counts = await asyncio.to_thread(_unread, self.db, org, users) if users else {}
            except psycopg.Error as exc:
                log.warning("event streams: %s; checking again shortly", exc)
                await asyncio.sleep(RECONNECT_SECONDS)
                self._recheck.add(org)
                continue
            frames = [f"event: job\ndata: {json.dumps(job)}\n\n" for job in jobs]
            for stream in streams:
                if stream not in allowed:
                    stream.push(None)
                    self.close_stream(stream)
                    continue
                for frame in frames:
                    stream.push(frame)
                if stream.principal.user_id in counts:
                    count = {"unread_count": counts[stream.principal.user_id]}
                    stream.push(f"event: notifications\ndata: {json.dumps(count)}\n\n")


def _still_allowed(db: Database, streams: Iterable[Stream]) -> set[Stream]:
    """The streams whose caller is still let in with the same role; each distinct
    credential is looked up once."""
    verdicts: dict[tuple[str, bytes], Principal | None] = {}
    allowed: set[Stream] = set()
    for stream in streams:
        then = stream.principal
        if then.credential is None or then.via == "cli":
            continue
        via: Via = then.via
        key = (via, then.credential)
        if key not in verdicts:
            try:
                verdicts[key] = principal_from_credential(db, via, then.credential)
            except Unauthenticated:
                verdicts[key] = None
        now = verdicts[key]
        if now is not None and (now.user_id, now.organization_id, now.role) == (
            then.user_id,
            then.organization_id,
            then.role,
        ):
            allowed.add(stream)
    return allowed


def _read_jobs(db: Database, org: UUID, job_ids: list[str]) -> list[dict[str, Any]]:
    jobs = []
    with db.tenant(org) as conn:
        for job_id in job_ids:
            try:
                row = get_job(conn, job_id)
            except NotFound:
                continue  # deleted meanwhile
            if row["event_id"] is None:  # a notification's delivery is not a job to show
                jobs.append(job_json(row))
    return jobs


def _unread(db: Database, org: UUID, users: list[UUID]) -> dict[UUID, int]:
    """Each user's unread notifications in the organization (one statement)."""
    with db.tenant(org) as conn:
        rows = conn.execute(UNREAD_COUNTS, [users]).fetchall()
    return {r["user_id"]: int(r["unread"]) for r in rows}


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _uuid(value: object) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None
