"""``sqlite:///path``: the default :class:`JobStore`, one SQLite file in WAL mode, through aiosqlite.

Two connections per store object: one writes, one only reads. aiosqlite runs each connection's calls in order
on a thread of its own; stand-alone statements from many tasks are queued back to back, and a transaction
holds a lock that keeps other tasks' statements out of it until it ends. Reads go to the reading connection,
which sees every committed transaction (WAL) and never waits for the writing one's: a reader woken by a flush
does not queue behind the next flush. Writes that read first run in ``BEGIN IMMEDIATE`` transactions, which take SQLite's write
lock up front, so read-modify-write is atomic across processes. Concurrent event appends are written
together, one such transaction per flush (group commit, see :mod:`._batch` and :mod:`._sqlite_events`), so
seq is gap-free across processes too; ``batch_events=False`` makes each append a single
``INSERT ... SELECT max(seq) + 1`` statement instead.

Changes made by this process wake watches at once; changes made by other processes are seen by polling the
jobs' ``(revision, last seq)`` every ``poll_interval`` while someone waits (see :mod:`._watch`). ``lock()`` is
an OS file lock next to the database (see :mod:`._filelock`). Durability: ``synchronous=NORMAL``, so a
committed write survives a crash of the process; a power cut may lose the last transactions. Opening the
file (pragmas, migrations) and translating sqlite3 errors: see :mod:`._sqlite_open`.

Longer than 300 lines because it implements the whole :class:`~orchestrator.store.JobStore` protocol on its two
connections; the SQL shared with PostgreSQL is in ``_sql.py`` and the grouped event appends in
``_sqlite_events.py``; what remains is one short method per protocol method.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import aiosqlite

from .._clock import Clock
from .._errors import ConfigurationError
from ._base import NamedLocks, StoreBase
from ._batch import Append, AppendOutcome, EventBatcher, batch_action
from ._checks import check_limit, check_positive, event_json, job_change, job_outcome
from ._codec import JOB_COLUMNS, TERMINAL_VALUES, dumps, event_from_row, job_from_row, job_values, loads
from ._filelock import file_lock, lock_path
from ._protocol import JobCursor, JobEvent, JobRecord, JobStatus, JobWatch
from ._schema import SQLITE_MIGRATIONS, Migration
from ._sql import Params, count_jobs_sql, find_jobs_sql, jobs_oldest_first, jobs_where, status_counts
from ._sqlite_events import write_events
from ._sqlite_open import open_database, open_reader, sqlite_errors
from ._watch import Mark, WatchHub

__all__ = ["SQLiteStore"]

_COLS = ", ".join(JOB_COLUMNS)
_TERMINAL = ", ".join(f"'{value}'" for value in TERMINAL_VALUES)

_INSERT = (
    f"INSERT INTO jobs ({_COLS}) VALUES ({', '.join('?' * len(JOB_COLUMNS))}) RETURNING {_COLS}, revision"
)

_APPEND = """
INSERT INTO job_events (job_id, seq, type, data, created_at, key)
SELECT j.id, coalesce((SELECT max(e.seq) FROM job_events e WHERE e.job_id = j.id), 0) + 1, ?, ?, ?, ?
FROM jobs j WHERE j.id = ?
ON CONFLICT (job_id, key) WHERE key IS NOT NULL DO NOTHING
RETURNING seq
"""

_MARKS = """
SELECT j.id, j.revision, coalesce((SELECT max(e.seq) FROM job_events e WHERE e.job_id = j.id), 0)
FROM jobs j WHERE j.id IN (SELECT value FROM json_each(?))
"""

_CLAIM = f"""
UPDATE jobs SET owner = ?, lease_expires_at = ?
WHERE rowid IN (
    SELECT rowid FROM jobs
    WHERE status NOT IN ({_TERMINAL})
      AND (owner IS NULL OR owner = ? OR lease_expires_at IS NULL OR lease_expires_at <= ?)
    ORDER BY created_at, rowid
    LIMIT ?
)
RETURNING {_COLS}, rowid
"""


def _merged(job_id: str, state: Mapping[str, Any], patch: str | None) -> str:
    """``state`` with the keys of the JSON object ``patch`` (if any) merged in, as JSON text."""
    return dumps({**state, **(loads(patch) or {})}, what=f"job {job_id!r}'s state")


class SQLiteStore(StoreBase):
    """A job store in one SQLite file (``sqlite:///relative/path`` or ``sqlite:////absolute/path``).

    Args:
        path: the database file; its directory is created if missing. Relative paths are taken from the
            current directory when the store is built.
        clock: gives ``created_at``/``updated_at``, lease times and the poll interval; defaults to
            :class:`SystemClock`. With a :class:`VirtualClock`, autojump is held off while the database works.
        poll_interval: seconds between polls for changes made by other processes, while a watch waits.
        busy_timeout: seconds to wait for another process's write lock before failing.
        batch_events: write concurrent event appends together, one transaction per flush (group commit);
            ``False``: one statement per append.
    """

    _migrations: ClassVar[tuple[Migration, ...]] = SQLITE_MIGRATIONS

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock | None = None,
        poll_interval: float = 0.5,
        busy_timeout: float = 5.0,
        batch_events: bool = True,
    ) -> None:
        super().__init__(clock=clock)
        text = os.fspath(path)
        if not text or text == ":memory:" or text.startswith("file:"):
            raise ConfigurationError(
                f"the SQLite store needs a file path, got {text!r}: use sqlite:///relative/path or "
                "sqlite:////absolute/path (or memory:// for a store that keeps nothing)"
            )
        self.url = f"sqlite:///{text}"
        self.path = Path(os.path.abspath(text))
        self.poll_interval = check_positive(poll_interval, what="poll_interval")
        self._busy_ms = int(check_positive(busy_timeout, what="busy_timeout") * 1000)
        self._db: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None  # reads only: they need not wait for transactions
        self._tx_lock = asyncio.Lock()  # held by a transaction on the connection
        self._hub = WatchHub(
            clock=self.clock, fetch_marks=self._fetch_marks, poll_interval=self.poll_interval, store=self.url
        )
        self._locks = NamedLocks()
        self._lock_dir = self.path.with_name(self.path.name + "-locks")
        self._batcher = EventBatcher(self._write_events, store=self.url) if batch_events else None

    # -- connection ------------------------------------------------------------------------------------------

    def _errors(self, action: str) -> contextlib.AbstractContextManager[None]:
        return sqlite_errors(action, store=self.url)

    async def _connect(self) -> None:
        self._db = await open_database(
            self.path,
            store=self.url,
            clock=self.clock,
            hold=self._hold,
            busy_ms=self._busy_ms,
            migrations=self._migrations,
        )
        try:
            self._reader = await open_reader(
                self.path, store=self.url, hold=self._hold, busy_ms=self._busy_ms
            )
        except BaseException:
            db, self._db = self._db, None
            with self._hold():
                await db.close()
            raise

    async def _drain(self) -> None:
        if self._batcher is not None:
            await self._batcher.aclose()

    async def _disconnect(self) -> None:
        await self._hub.aclose()
        async with self._tx_lock:
            for db in (self._reader, self._db):
                if db is not None:
                    with self._hold(), self._errors("closing the database"):
                        await db.close()
            self._reader = self._db = None

    def _connection(self) -> aiosqlite.Connection:
        return self._live(self._db)

    @contextlib.asynccontextmanager
    async def _use(self, action: str) -> AsyncIterator[aiosqlite.Connection]:
        """The connection, for statements that stand alone (autocommit); only the first one may write.

        aiosqlite runs calls in the order they are made, so many tasks can queue such statements back to back.
        They must not be queued while a transaction is open on the connection (they would become part of it),
        so they first wait for the transactions holding or queued for the lock; nothing awaits between that
        and queueing the first statement.
        """
        if self._tx_lock.locked():
            async with self._tx_lock:
                pass
        db = self._connection()
        with self._hold(), self._errors(action):
            yield db

    @contextlib.asynccontextmanager
    async def _read(self, action: str) -> AsyncIterator[aiosqlite.Connection]:
        """The reading connection: statements that only read, each seeing what is committed (WAL), without
        waiting for a transaction of the writing connection (a flush, say) to end."""
        db = self._live(self._reader)
        with self._hold(), self._errors(action):
            yield db

    @contextlib.asynccontextmanager
    async def _write(self, action: str) -> AsyncIterator[aiosqlite.Connection]:
        """The connection inside a ``BEGIN IMMEDIATE`` transaction, committed if the block succeeds."""
        async with self._tx_lock:
            db = self._connection()
            with self._hold(), self._errors(action):
                await db.execute("BEGIN IMMEDIATE")
                done = False
                try:
                    yield db
                    await db.commit()
                    done = True
                finally:
                    if not done:
                        # aiosqlite queues this before anything else, even if this task is being cancelled
                        await db.rollback()

    # -- jobs ------------------------------------------------------------------------------------------------

    async def create_job(self, record: JobRecord) -> JobRecord:
        values = job_values(record, now=self.clock.time())
        action = f"creating job {record.id!r}"
        async with self._write(action) as db:
            rows: Any = await db.execute_fetchall(
                f"SELECT {_COLS}, idempotency_key = ? FROM jobs WHERE idempotency_key = ? OR id = ?",
                (record.idempotency_key, record.idempotency_key, record.id),
            )
            for row in rows:
                if row[-1]:
                    return job_from_row(row)
            if rows:
                raise self._duplicate_id(action)
            rows = await db.execute_fetchall(_INSERT, values)
        self._hub.notify(record.id, revision=rows[0][-1])
        return job_from_row(rows[0])

    async def get_job(self, job_id: str) -> JobRecord | None:
        async with self._read(f"reading job {job_id!r}") as db:
            rows: Any = await db.execute_fetchall(f"SELECT {_COLS} FROM jobs WHERE id = ?", (job_id,))
        return job_from_row(rows[0]) if rows else None

    async def update_job(
        self,
        job_id: str,
        *,
        status: JobStatus | None = None,
        state: Mapping[str, Any] | None = None,
        started_at: float | None = None,
        deadline: float | None = None,
    ) -> JobRecord:
        change = job_change(job_id, status=status, state=state, started_at=started_at, deadline=deadline)
        action = f"updating job {job_id!r}"
        async with self._write(action) as db:
            rows: Any = await db.execute_fetchall(f"SELECT {_COLS} FROM jobs WHERE id = ?", (job_id,))
            if not rows:
                raise self._no_job(action, job_id)
            current = job_from_row(rows[0])
            if change.status is not None and current.status.terminal and change.status is not current.status:
                return current  # a terminal job keeps its status
            now = self.clock.time()
            ending = change.status is not None and change.status.terminal and not current.status.terminal
            rows = await db.execute_fetchall(
                f"""UPDATE jobs SET status = ?, state = ?, started_at = ?, deadline = ?, finished_at = ?,
                    owner = ?, lease_expires_at = ?, updated_at = ?, revision = revision + 1
                    WHERE id = ? RETURNING {_COLS}, revision""",
                (
                    (change.status or current.status).value,
                    _merged(job_id, current.state, change.state),
                    current.started_at if change.started_at is None else change.started_at,
                    current.deadline if change.deadline is None else change.deadline,
                    now if ending else current.finished_at,
                    None if ending else current.owner,
                    None if ending else current.lease_expires_at,
                    now,
                    job_id,
                ),
            )
        self._hub.notify(job_id, revision=rows[0][-1])
        return job_from_row(rows[0])

    async def finish_job(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: Mapping[str, Any] | None = None,
        error: Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> bool:
        outcome = job_outcome(job_id, status, result=result, error=error, state=state)
        action = f"finishing job {job_id!r}"
        async with self._write(action) as db:
            rows: Any = await db.execute_fetchall("SELECT status, state FROM jobs WHERE id = ?", (job_id,))
            if not rows:
                raise self._no_job(action, job_id)
            if JobStatus(rows[0][0]).terminal:
                return False
            now = self.clock.time()
            rows = await db.execute_fetchall(
                """UPDATE jobs SET status = ?, result = ?, error = ?, state = ?, finished_at = ?,
                   updated_at = ?, owner = NULL, lease_expires_at = NULL, revision = revision + 1
                   WHERE id = ? RETURNING revision""",
                (
                    outcome.status.value,
                    outcome.result,
                    outcome.error,
                    _merged(job_id, loads(rows[0][1]), outcome.state),
                    now,
                    now,
                    job_id,
                ),
            )
        self._hub.notify(job_id, revision=rows[0][0])
        return True

    async def list_jobs(
        self,
        *,
        statuses: Sequence[JobStatus] | None = None,
        job_name: str | None = None,
        parent_id: str | None = None,
        limit: int = 100,
    ) -> list[JobRecord]:
        check_limit(limit)
        if statuses is not None and not statuses:
            return []  # no job can match: no need to ask the database
        params = Params(numbered=False)
        where = jobs_where(params, statuses=statuses, job_name=job_name, parent_id=parent_id)
        order = f"ORDER BY created_at DESC, rowid DESC LIMIT {params.add(limit)}"
        async with self._read("listing jobs") as db:
            rows: Any = await db.execute_fetchall(f"SELECT {_COLS} FROM jobs {where} {order}", params.values)
        return [job_from_row(row) for row in rows]

    async def find_jobs(
        self,
        *,
        statuses: Sequence[JobStatus] | None = None,
        job_name: str | None = None,
        route: str | None = None,
        before: JobCursor | None = None,
        limit: int = 50,
    ) -> list[JobRecord]:
        check_limit(limit)
        if statuses is not None and not statuses:
            return []
        params = Params(numbered=False)
        sql = find_jobs_sql(
            params, _COLS, statuses=statuses, job_name=job_name, route=route, before=before, limit=limit
        )
        async with self._read("listing a page of jobs") as db:
            rows: Any = await db.execute_fetchall(sql, params.values)
        return [job_from_row(row) for row in rows]

    async def count_jobs(
        self, *, job_name: str | None = None, route: str | None = None
    ) -> dict[JobStatus, int]:
        params = Params(numbered=False)
        sql = count_jobs_sql(params, job_name=job_name, route=route)
        async with self._read("counting jobs") as db:
            rows: Any = await db.execute_fetchall(sql, params.values)
        return status_counts(rows)

    async def durations(self, job_name: str, *, limit: int = 500) -> list[float]:
        check_limit(limit)
        async with self._read(f"reading the run durations of {job_name!r}") as db:
            rows: Any = await db.execute_fetchall(
                """SELECT finished_at - started_at FROM jobs
                   WHERE job_name = ? AND finished_at IS NOT NULL AND started_at IS NOT NULL
                   ORDER BY finished_at DESC, rowid DESC LIMIT ?""",
                (job_name, limit),
            )
        return [float(row[0]) for row in rows]

    # -- events ----------------------------------------------------------------------------------------------

    async def append_event(
        self, job_id: str, type: str, data: Mapping[str, Any], *, key: str | None = None
    ) -> JobEvent | None:
        payload = event_json(job_id, type, data)
        now = self.clock.time()
        if self._batcher is not None:
            self._connection()
            return await self._batcher.append(job_id, type, payload, created_at=now, key=key)
        action = f"appending an event to job {job_id!r}"
        async with self._use(action) as db:
            rows: Any = await db.execute_fetchall(_APPEND, (type, payload, now, key, job_id))
            if not rows:
                exists: Any = await db.execute_fetchall("SELECT 1 FROM jobs WHERE id = ?", (job_id,))
                if not exists:
                    raise self._no_job(action, job_id)
                return None  # the key was used already
        event = event_from_row(job_id, (rows[0][0], type, payload, now, key))
        self._hub.notify(job_id, seq=event.seq, events_only=True)
        return event

    async def _write_events(self, batch: Sequence[Append]) -> list[AppendOutcome]:
        action = batch_action(batch)
        async with self._write(action) as db:
            outcomes, changed = await write_events(
                db, batch, no_job=lambda job_id: self._no_job(f"appending an event to job {job_id!r}", job_id)
            )
        for job_id, seq in changed.items():
            self._hub.notify(job_id, seq=seq, events_only=True)
        return outcomes

    async def events(self, job_id: str, *, since: int = 0, limit: int | None = None) -> list[JobEvent]:
        if limit is not None:
            check_limit(limit)
        async with self._read(f"reading the events of job {job_id!r}") as db:
            rows: Any = await db.execute_fetchall(
                "SELECT seq, type, data, created_at, key FROM job_events WHERE job_id = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (job_id, since, -1 if limit is None else limit),
            )
        return [event_from_row(job_id, row) for row in rows]

    async def _fetch_marks(self, job_ids: Collection[str]) -> dict[str, Mark]:
        async with self._read("polling jobs for changes") as db:
            rows: Any = await db.execute_fetchall(_MARKS, (json.dumps(list(job_ids)),))
        return {row[0]: (int(row[1]), int(row[2])) for row in rows}

    @contextlib.asynccontextmanager
    async def watch(self, job_id: str) -> AsyncIterator[JobWatch]:
        marks = await self._fetch_marks((job_id,))
        async with self._hub.watch(job_id, mark=marks.get(job_id)) as watch:
            yield watch

    # -- leases ----------------------------------------------------------------------------------------------

    async def claim_jobs(self, owner: str, *, lease_seconds: float, limit: int = 100) -> list[JobRecord]:
        now, expires = self._lease_times(lease_seconds)
        check_limit(limit)
        async with self._use(f"claiming jobs for {owner!r}") as db:
            rows: Any = await db.execute_fetchall(_CLAIM, (owner, expires, owner, now, limit))
        return jobs_oldest_first(rows)

    async def renew_leases(self, owner: str, *, lease_seconds: float) -> int:
        _, expires = self._lease_times(lease_seconds)
        async with self._use(f"renewing the leases of {owner!r}") as db:
            cursor = await db.execute(
                f"UPDATE jobs SET lease_expires_at = ? WHERE owner = ? AND status NOT IN ({_TERMINAL})",
                (expires, owner),
            )
            return int(cursor.rowcount)

    async def release_jobs(self, owner: str) -> None:
        async with self._use(f"releasing the leases of {owner!r}") as db:
            await db.execute(
                "UPDATE jobs SET owner = NULL, lease_expires_at = NULL WHERE owner = ?", (owner,)
            )

    @contextlib.asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        self._require_open()
        async with (
            self._locks.hold(name),
            file_lock(
                lock_path(self._lock_dir, name),
                clock=self.clock,
                retry_max=self.poll_interval,
                errors=self._errors,
            ),
        ):
            yield

    # -- metadata and retention ------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> Any | None:
        async with self._read(f"reading the meta value {key!r}") as db:
            rows: Any = await db.execute_fetchall("SELECT value FROM meta WHERE key = ?", (key,))
        return loads(rows[0][0]) if rows else None

    async def set_meta(self, key: str, value: Any) -> None:
        text = dumps(value, what=f"the meta value {key!r}")
        async with self._use(f"writing the meta value {key!r}") as db:
            await db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, text),
            )

    async def prune(self, *, finished_before: float) -> int:
        where = f"status IN ({_TERMINAL}) AND finished_at IS NOT NULL AND finished_at < ?"
        async with self._write("pruning finished jobs") as db:
            await db.execute(
                f"DELETE FROM job_events WHERE job_id IN (SELECT id FROM jobs WHERE {where})",
                (finished_before,),
            )
            cursor = await db.execute(f"DELETE FROM jobs WHERE {where}", (finished_before,))
            return int(cursor.rowcount)
