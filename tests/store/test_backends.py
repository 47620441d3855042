"""What only one backend does: SQLite's WAL file and lock files, PostgreSQL's listener and schemas, and
virtual time held while a database works."""

from __future__ import annotations

import asyncio
import sqlite3

import asyncpg
import pytest

from orchestrator import StoreError, VirtualClock
from orchestrator.store import JobStatus, PostgresStore, SQLiteStore

from .conftest import START, Backend, make_record

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
postgres_only = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


@sqlite_only
async def test_sqlite_file_is_in_wal_mode(backend: Backend) -> None:
    """Opening creates the directory and the database, in WAL journal mode; lock files live next to it."""
    assert backend.path is not None
    assert not backend.path.parent.exists()
    async with backend.replica() as store, store.lock("a name / with odd chars"):
        pass
    with sqlite3.connect(str(backend.path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    locks = backend.path.with_name(backend.path.name + "-locks")
    assert [p.suffix for p in locks.iterdir()] == [".lock"]


@sqlite_only
async def test_sqlite_work_holds_virtual_time(backend: Backend, clock: VirtualClock) -> None:
    """While the SQLite thread works, autojump does not move a virtual clock (with a timer pending)."""
    async with backend.replica() as store:
        assert isinstance(store, SQLiteStore)
        sleeper = asyncio.create_task(clock.sleep(60))
        async with store._use("a slow query") as db:
            rows = await db.execute_fetchall(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300000) "
                "SELECT count(*) FROM c"
            )
        assert next(iter(rows))[0] == 300000
        assert clock.time() == START
        await sleeper
        assert clock.time() == START + 60


@postgres_only
async def test_postgres_work_holds_virtual_time(backend: Backend, clock: VirtualClock) -> None:
    """While a PostgreSQL query runs, autojump does not move a virtual clock (with a timer pending)."""
    async with backend.replica() as store:
        assert isinstance(store, PostgresStore)
        sleeper = asyncio.create_task(clock.sleep(60))
        async with store._conn("a slow query") as conn:
            await conn.execute("SELECT pg_sleep(0.03)")
        assert clock.time() == START
        await sleeper
        assert clock.time() == START + 60


@postgres_only
async def test_postgres_tables_live_in_the_schema(backend: Backend, postgres_url: str) -> None:
    """?schema=NAME creates that schema and keeps every table there, not in public."""
    async with backend.replica() as store:
        assert isinstance(store, PostgresStore)
        assert store.schema is not None
        schema = store.schema
    conn = await asyncpg.connect(postgres_url)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
        )
    finally:
        await conn.close()
    assert {row[0] for row in tables} == {"jobs", "job_events", "meta", "schema_version"}


@postgres_only
async def test_postgres_listener_reconnects(backend: Backend, postgres_url: str) -> None:
    """When the LISTEN connection dies, watchers wake, the listener reconnects, notifications flow again."""
    async with backend.replica() as store, backend.replica() as other:
        assert isinstance(store, PostgresStore)
        job_a = (await store.create_job(make_record())).id
        async with store.watch(job_a) as watch:
            listener = store._listener.connection
            assert listener is not None
            old_pid = listener.get_server_pid()
            waiter = asyncio.create_task(watch.wait())
            admin = await asyncpg.connect(postgres_url)
            try:
                assert await admin.fetchval("SELECT pg_terminate_backend($1)", old_pid)
            finally:
                await admin.close()
            await asyncio.wait_for(waiter, 5)  # woken by the loss: a change may have been missed
        for _ in range(1000):
            if store._listener.connection is not None:
                break
            await asyncio.sleep(0.005)
        reconnected = store._listener.connection
        assert reconnected is not None
        assert reconnected.get_server_pid() != old_pid
        async with store.watch(job_a) as watch:
            waiter = asyncio.create_task(watch.wait())
            await asyncio.sleep(0.005)
            assert not waiter.done()
            await other.finish_job(job_a, JobStatus.SUCCEEDED)
            await asyncio.wait_for(waiter, 5)


@sqlite_only
async def test_sqlite_statements_stay_out_of_other_transactions(backend: Backend) -> None:
    """Appends queued while other tasks' transactions roll back are never rolled back with them."""
    async with backend.replica() as store:
        job_id = (await store.create_job(make_record())).id

        async def failing_update() -> None:
            with pytest.raises(StoreError, match="no job"):
                await store.update_job("job_missing", state={"x": 1})

        results = await asyncio.gather(
            *(store.append_event(job_id, "t", {"n": n}) if n % 3 else failing_update() for n in range(300))
        )
        appended = [r for r in results if r is not None]
        assert [e.seq for e in await store.events(job_id)] == sorted(e.seq for e in appended)
        assert len(appended) == 200


@postgres_only
async def test_postgres_held_locks_do_not_starve_queries(backend: Backend) -> None:
    """Locks use connections of their own: with a one-connection query pool, queries still run under a lock."""
    async with backend.replica(max_size=1) as store:
        job_id = (await store.create_job(make_record())).id
        async with store.lock("a"), store.lock("b"):
            found = await asyncio.wait_for(store.get_job(job_id), 5)
            assert found is not None
