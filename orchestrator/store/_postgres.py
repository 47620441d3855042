"""``postgresql://``: the :class:`JobStore` for many replicas, on an asyncpg pool.

- Event seq: appends lock their jobs' rows (``FOR UPDATE``, or the ``UPDATE`` that bumps ``jobs.last_seq``)
  until their events are inserted, so concurrent appenders on any number of replicas get 1, 2, 3, ... with no
  gap. An append with a ``key`` that was used already consumes no seq.
- Group commit: concurrent ``append_event`` calls are written together, one transaction, one multi-row
  ``INSERT`` and one ``NOTIFY`` per flush (see :mod:`._batch`, :mod:`._pg_events`); ``batch_events=False``
  gives every append a transaction of its own instead.
- Changes notify: every write sends ``pg_notify('orchestrator_jobs', ...)`` in its own transaction; watches on
  other replicas learn of changes only from that (see :mod:`._pg_listener`), never by polling. Watches in the
  process that appended are also woken as soon as the flush commits, without waiting for the notification.
- Leases: ``claim_jobs`` takes rows with ``FOR UPDATE SKIP LOCKED``, so concurrent claimers get disjoint jobs.
- ``lock(name)``: a session advisory lock on a 64-bit hash of the name, on a connection (from a pool kept for
  locks) held for the block.
- Connections, migrations, ``?schema=NAME`` and error translation: see :mod:`._pg_pools`.

Longer than 300 lines because it implements the whole :class:`~orchestrator.store.JobStore` protocol on its pools;
the shared SQL is in ``_sql.py``, the grouped event appends in ``_pg_events.py`` and the listener in
``_pg_listener.py``; what remains is one short method per protocol method.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeAlias, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from .._clock import Clock
from .._errors import StoreError
from ._base import StoreBase
from ._batch import Append, AppendOutcome, EventBatcher, batch_action
from ._checks import check_limit, event_json, job_change, job_outcome
from ._codec import JOB_COLUMNS, TERMINAL_VALUES, dumps, event_from_row, job_from_row, job_values, loads
from ._pg_events import write_events
from ._pg_listener import CHANNEL, Listener
from ._pg_pools import Pool, Pools, lock_key
from ._protocol import JobCursor, JobEvent, JobRecord, JobStatus, JobWatch
from ._schema import POSTGRES_MIGRATIONS, Migration
from ._sql import Params, count_jobs_sql, find_jobs_sql, jobs_oldest_first, jobs_where, status_counts
from ._url import parse_postgres_url
from ._watch import WatchHub

__all__ = ["PostgresStore"]

T = TypeVar("T")
Conn: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"

# the connection, not the operation, failed: killed by the server (pg_terminate_backend, a restart) while in
# use, or while idle in the pool, which leaves asyncpg's protocol waiting for an answer that never comes (the
# next use raises InternalClientError "cannot switch to state ...; another operation is in progress" before it
# sends anything). The pool drops such a connection when it gets it back (its reset fails).
_CONNECTION_LOST: tuple[type[BaseException], ...] = (
    asyncpg.InternalClientError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    ConnectionError,
)

_COLS = ", ".join(JOB_COLUMNS)
_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, len(JOB_COLUMNS) + 1))

_CREATE = f"""
WITH created AS (
    INSERT INTO jobs ({_COLS}) VALUES ({_PLACEHOLDERS})
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING {_COLS}
)
SELECT created.*, pg_notify('{CHANNEL}', created.id) FROM created
"""

# $7: the update moves the job to a terminal status; $8: the terminal statuses
_UPDATE = f"""
WITH updated AS (
    UPDATE jobs SET
        status = coalesce($2, status),
        state = CASE WHEN $3::jsonb IS NULL THEN state ELSE state || $3::jsonb END,
        started_at = coalesce($4, started_at),
        deadline = coalesce($5, deadline),
        finished_at = CASE WHEN $7 AND NOT (status = ANY($8::text[])) THEN $6 ELSE finished_at END,
        owner = CASE WHEN $7 AND NOT (status = ANY($8::text[])) THEN NULL ELSE owner END,
        lease_expires_at = CASE WHEN $7 AND NOT (status = ANY($8::text[]))
            THEN NULL ELSE lease_expires_at END,
        updated_at = $6
    WHERE id = $1 AND ($2::text IS NULL OR status = $2 OR NOT (status = ANY($8::text[])))
    RETURNING {_COLS}
)
SELECT updated.*, pg_notify('{CHANNEL}', updated.id) FROM updated
"""

_FINISH = f"""
WITH finished AS (
    UPDATE jobs SET status = $2, result = $3::jsonb, error = $4::jsonb, state = state || $5::jsonb,
        finished_at = $6, updated_at = $6, owner = NULL, lease_expires_at = NULL
    WHERE id = $1 AND NOT (status = ANY($7::text[]))
    RETURNING id
)
SELECT pg_notify('{CHANNEL}', finished.id) FROM finished
"""

# one statement: the UPDATE locks the job's row, so the next appender waits and then sees the new last_seq.
# Returns no row for an unknown job, and seq NULL when the key was used already (the caller rolls back).
_APPEND = f"""
WITH bumped AS (
    UPDATE jobs SET last_seq = last_seq + 1 WHERE id = $1 RETURNING id, last_seq
), inserted AS (
    INSERT INTO job_events (job_id, seq, type, data, created_at, key)
    SELECT id, last_seq, $2, $3::json, $4, $5 FROM bumped
    ON CONFLICT (job_id, key) WHERE key IS NOT NULL DO NOTHING
    RETURNING seq
), notified AS (
    SELECT pg_notify('{CHANNEL}', $1) FROM inserted
)
SELECT bumped.last_seq, inserted.seq, (SELECT count(*) FROM notified) FROM bumped LEFT JOIN inserted ON true
"""

_CLAIM = f"""
UPDATE jobs SET owner = $1, lease_expires_at = $2
WHERE id IN (
    SELECT id FROM jobs
    WHERE NOT (status = ANY($3::text[]))
      AND (owner IS NULL OR owner = $1 OR lease_expires_at IS NULL OR lease_expires_at <= $4)
    ORDER BY created_at, insert_order
    LIMIT $5
    FOR UPDATE SKIP LOCKED
)
RETURNING {_COLS}, insert_order
"""


# Statements that lock many job rows lock them in id order, as a flush of event appends does (see _pg_events):
# two of them waiting for each other's rows could otherwise deadlock.
_OWNED_IN_ORDER = (
    "SELECT id FROM jobs WHERE owner = $1 AND NOT (status = ANY($3::text[])) ORDER BY id FOR UPDATE"
)
_DEADLOCK_RETRIES = 3


def _count(status: str) -> int:
    """The row count in a command status such as ``UPDATE 3``."""
    return int(status.rsplit(" ", 1)[-1])


class PostgresStore(StoreBase):
    """A job store in PostgreSQL (``postgresql://user:password@host:5432/database?schema=NAME``).

    Args:
        url: a libpq connection URL; ``postgres://`` works too. ``?schema=NAME`` keeps the tables in that
            schema (created if missing). ``store.url`` is this URL without the password.
        clock: gives ``created_at``/``updated_at`` and lease times; defaults to :class:`SystemClock`. With a
            :class:`VirtualClock`, autojump is held off while a query runs.
        min_size: connections the query pool keeps open.
        max_size: most connections the query pool opens.
        max_locks: most ``lock()`` blocks held (or waiting) at once; each holds a connection of a pool kept for
            locks, opened when needed. The listener has one more connection, and so have flushes of event
            appends.
        connect_timeout: seconds to wait for a connection before failing.
        batch_events: write concurrent event appends together, one transaction per flush (group commit);
            ``False``: one transaction per append.
    """

    _migrations: ClassVar[tuple[Migration, ...]] = POSTGRES_MIGRATIONS

    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        min_size: int = 1,
        max_size: int = 10,
        max_locks: int = 10,
        connect_timeout: float = 10.0,
        batch_events: bool = True,
    ) -> None:
        super().__init__(clock=clock)
        target = parse_postgres_url(url)
        self.url = target.url
        self.schema = target.schema
        self._pools = Pools(
            target,
            clock=self.clock,
            hold=self._hold,
            min_size=min_size,
            max_size=max_size,
            max_locks=max_locks,
            connect_timeout=connect_timeout,
        )
        self._hub = WatchHub(clock=self.clock, store=self.url)
        self._sender = f"orchestrator-store:{secrets.token_hex(8)}"
        self._listener = Listener(
            connect=self._pools.connect_listener,
            hub=self._hub,
            clock=self.clock,
            store=self.url,
            sender=self._sender,
        )
        self._batcher = EventBatcher(self._write_events, store=self.url) if batch_events else None

    # -- connections -----------------------------------------------------------------------------------------

    async def _connect(self) -> None:
        await self._pools.open(self._migrations)

    async def _drain(self) -> None:
        if self._batcher is not None:
            await self._batcher.aclose()

    async def _disconnect(self) -> None:
        await self._listener.aclose()
        await self._hub.aclose()
        await self._pools.close()

    def _require_pool(self, *, locks: bool = False) -> Pool:
        return self._live(self._pools.locks if locks else self._pools.queries)

    @contextlib.asynccontextmanager
    async def _conn(
        self, action: str, *, events: bool = False
    ) -> AsyncIterator[PoolConnectionProxy[asyncpg.Record]]:
        """A pool connection for one operation, virtual time held throughout (waiting for a connection too:
        the query pool's connections are only ever busy with database work). ``events``: the connection kept
        for flushes of event appends."""
        pool = self._live(self._pools.events) if events else self._require_pool()
        with self._hold(), self._pools.errors(action):
            async with pool.acquire() as conn:
                yield conn

    async def _idempotent(self, action: str, op: Callable[[Conn], Awaitable[T]]) -> T:
        """``op`` on a pool connection, run again once on a fresh connection when the first one was lost
        (see ``_CONNECTION_LOST``); only for operations whose second run changes nothing the first made.

        A lost connection most likely means the server dropped them all (a restart, an administrator), so
        every connection idle in the pool is replaced before the second run, rather than each failing once.
        """
        try:
            async with self._conn(action) as conn:
                return await op(conn)
        except StoreError as exc:
            if not isinstance(exc.__cause__, _CONNECTION_LOST):
                raise
            with self._hold():
                await self._require_pool().expire_connections()
        async with self._conn(action) as conn:
            return await op(conn)

    # -- jobs ------------------------------------------------------------------------------------------------

    async def create_job(self, record: JobRecord) -> JobRecord:
        values = job_values(record, now=self.clock.time())
        action = f"creating job {record.id!r}"
        async with self._conn(action) as conn:
            try:
                row = await conn.fetchrow(_CREATE, *values)
            except asyncpg.UniqueViolationError as exc:
                raise self._duplicate_id(action) from exc
            if row is None:  # the idempotency key is taken: that job is the answer
                row = await conn.fetchrow(
                    f"SELECT {_COLS} FROM jobs WHERE idempotency_key = $1", record.idempotency_key
                )
                if row is None:
                    raise self._failure(
                        action, "the job holding its idempotency key was deleted meanwhile; retry"
                    )
        return job_from_row(row)

    async def get_job(self, job_id: str) -> JobRecord | None:
        row = await self._idempotent(
            f"reading job {job_id!r}",
            lambda conn: conn.fetchrow(f"SELECT {_COLS} FROM jobs WHERE id = $1", job_id),
        )
        return None if row is None else job_from_row(row)

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
        async with self._conn(action) as conn:
            row = await conn.fetchrow(
                _UPDATE,
                job_id,
                None if change.status is None else change.status.value,
                change.state,
                change.started_at,
                change.deadline,
                self.clock.time(),
                change.status is not None and change.status.terminal,
                TERMINAL_VALUES,
            )
            if row is None:  # unknown, or a terminal job asked to change status
                row = await conn.fetchrow(f"SELECT {_COLS} FROM jobs WHERE id = $1", job_id)
        if row is None:
            raise self._no_job(action, job_id)
        return job_from_row(row)

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
        async with self._conn(action) as conn:
            rows = await conn.fetch(
                _FINISH,
                job_id,
                outcome.status.value,
                outcome.result,
                outcome.error,
                outcome.state or "{}",
                self.clock.time(),
                TERMINAL_VALUES,
            )
            if rows:
                return True
            exists = await conn.fetchval("SELECT 1 FROM jobs WHERE id = $1", job_id)
        if not exists:
            raise self._no_job(action, job_id)
        return False

    async def list_jobs(
        self,
        *,
        statuses: Sequence[JobStatus] | None = None,
        job_name: str | None = None,
        parent_id: str | None = None,
        limit: int = 100,
    ) -> list[JobRecord]:
        check_limit(limit)
        params = Params(numbered=True)
        where = jobs_where(params, statuses=statuses, job_name=job_name, parent_id=parent_id)
        order = f"ORDER BY created_at DESC, insert_order DESC LIMIT {params.add(limit)}"
        async with self._conn("listing jobs") as conn:
            rows = await conn.fetch(f"SELECT {_COLS} FROM jobs {where} {order}", *params.values)
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
        params = Params(numbered=True)
        sql = find_jobs_sql(
            params, _COLS, statuses=statuses, job_name=job_name, route=route, before=before, limit=limit
        )
        async with self._conn("listing a page of jobs") as conn:
            rows = await conn.fetch(sql, *params.values)
        return [job_from_row(row) for row in rows]

    async def count_jobs(
        self, *, job_name: str | None = None, route: str | None = None
    ) -> dict[JobStatus, int]:
        params = Params(numbered=True)
        sql = count_jobs_sql(params, job_name=job_name, route=route)
        async with self._conn("counting jobs") as conn:
            rows = await conn.fetch(sql, *params.values)
        return status_counts((row[0], row[1]) for row in rows)

    async def durations(self, job_name: str, *, limit: int = 500) -> list[float]:
        check_limit(limit)
        async with self._conn(f"reading the run durations of {job_name!r}") as conn:
            rows = await conn.fetch(
                """SELECT finished_at - started_at FROM jobs
                   WHERE job_name = $1 AND finished_at IS NOT NULL AND started_at IS NOT NULL
                   ORDER BY finished_at DESC, insert_order DESC LIMIT $2""",
                job_name,
                limit,
            )
        return [float(row[0]) for row in rows]

    # -- events ----------------------------------------------------------------------------------------------

    async def append_event(
        self, job_id: str, type: str, data: Mapping[str, Any], *, key: str | None = None
    ) -> JobEvent | None:
        payload = event_json(job_id, type, data)
        now = self.clock.time()
        if self._batcher is not None:
            self._require_pool()
            return await self._batcher.append(job_id, type, payload, created_at=now, key=key)
        action = f"appending an event to job {job_id!r}"
        async with self._conn(action) as conn:
            if key is None:
                # no key, no conflict possible: one statement, one round trip
                row = await conn.fetchrow(_APPEND, job_id, type, payload, now, None)
            else:
                transaction = conn.transaction()
                await transaction.start()
                committed = False
                try:
                    row = await conn.fetchrow(_APPEND, job_id, type, payload, now, key)
                    if row is not None and row[1] is not None:
                        await transaction.commit()
                        committed = True
                finally:
                    if not committed:
                        await transaction.rollback()  # a duplicate key must not consume its seq
        if row is None:
            raise self._no_job(action, job_id)
        if row[1] is None:  # the key was used already
            return None
        return event_from_row(job_id, (row[1], type, payload, now, key))

    async def _write_events(self, batch: Sequence[Append]) -> list[AppendOutcome]:
        action = batch_action(batch)
        async with self._conn(action, events=True) as conn:
            for attempt in range(1, _DEADLOCK_RETRIES + 1):
                try:
                    outcomes, changed = await write_events(
                        conn,
                        batch,
                        no_job=lambda job_id: self._no_job(f"appending an event to job {job_id!r}", job_id),
                        sender=self._sender,
                    )
                    break
                except asyncpg.DeadlockDetectedError:
                    # rolled back whole (a statement of an older version locking rows in another order)
                    if attempt == _DEADLOCK_RETRIES:
                        raise
        # this object's watches wake now, not when the notification comes back (the listener skips it)
        self._hub.notify_many(changed, events_only=True)
        return outcomes

    async def events(self, job_id: str, *, since: int = 0, limit: int | None = None) -> list[JobEvent]:
        if limit is not None:
            check_limit(limit)
        async with self._conn(f"reading the events of job {job_id!r}") as conn:
            rows = await conn.fetch(
                "SELECT seq, type, data, created_at, key FROM job_events WHERE job_id = $1 AND seq > $2 "
                "ORDER BY seq LIMIT $3",
                job_id,
                since,
                limit,
            )
        return [event_from_row(job_id, row) for row in rows]

    @contextlib.asynccontextmanager
    async def watch(self, job_id: str) -> AsyncIterator[JobWatch]:
        self._require_pool()
        await self._listener.start()
        async with self._hub.watch(job_id) as watch:
            yield watch

    # -- leases ----------------------------------------------------------------------------------------------

    async def claim_jobs(self, owner: str, *, lease_seconds: float, limit: int = 100) -> list[JobRecord]:
        now, expires = self._lease_times(lease_seconds)
        check_limit(limit)
        # a second run takes this owner's jobs again (and any left claimable): nothing is claimed twice
        rows = await self._idempotent(
            f"claiming jobs for {owner!r}",
            lambda conn: conn.fetch(_CLAIM, owner, expires, TERMINAL_VALUES, now, limit),
        )
        return jobs_oldest_first(rows)

    async def renew_leases(self, owner: str, *, lease_seconds: float) -> int:
        _, expires = self._lease_times(lease_seconds)
        status = await self._idempotent(
            f"renewing the leases of {owner!r}",
            lambda conn: conn.execute(
                f"UPDATE jobs SET lease_expires_at = $2 WHERE id IN ({_OWNED_IN_ORDER})",
                owner,
                expires,
                TERMINAL_VALUES,
            ),
        )
        return _count(status)

    async def release_jobs(self, owner: str) -> None:
        await self._idempotent(
            f"releasing the leases of {owner!r}",
            lambda conn: conn.execute(
                "UPDATE jobs SET owner = NULL, lease_expires_at = NULL WHERE id IN "
                "(SELECT id FROM jobs WHERE owner = $1 ORDER BY id FOR UPDATE)",
                owner,
            ),
        )

    @contextlib.asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        pool = self._require_pool(locks=True)
        key = lock_key(name)
        with self._pools.errors(f"taking the lock {name!r}"):
            conn = await pool.acquire()
        try:
            # no hold (nor while waiting for a lock-pool connection): waiting for a holder is not database work,
            # and the holder may be waiting on the clock
            with self._pools.errors(f"taking the lock {name!r}"):
                await conn.execute("SELECT pg_advisory_lock($1)", key)
            try:
                yield
            finally:
                with self._hold(), self._pools.errors(f"releasing the lock {name!r}"):
                    await conn.execute("SELECT pg_advisory_unlock($1)", key)
        finally:
            # the pool resets a connection it gets back with pg_advisory_unlock_all(), so even if this task
            # was cancelled while taking or releasing the lock, the lock does not outlive the block
            await pool.release(conn)

    # -- metadata and retention ------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> Any | None:
        value = await self._idempotent(
            f"reading the meta value {key!r}",
            lambda conn: conn.fetchval("SELECT value FROM meta WHERE key = $1", key),
        )
        return loads(value)

    async def set_meta(self, key: str, value: Any) -> None:
        text = dumps(value, what=f"the meta value {key!r}")
        async with self._conn(f"writing the meta value {key!r}") as conn:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2::jsonb) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                key,
                text,
            )

    async def prune(self, *, finished_before: float) -> int:
        async with self._conn("pruning finished jobs") as conn:
            status = await conn.execute(
                "DELETE FROM jobs WHERE status = ANY($1::text[]) "
                "AND finished_at IS NOT NULL AND finished_at < $2",
                TERMINAL_VALUES,
                float(finished_before),
            )
        return _count(status)
