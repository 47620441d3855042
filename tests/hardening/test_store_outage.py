"""The store unavailable for a while: PostgreSQL connections killed (``pg_terminate_backend``), a SQLite file
locked by another process's transaction. Clear errors, jobs resume, nothing accepted is lost."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from orchestrator import JobHandle, StoreError
from orchestrator.testing import Harness

from .._postgres import base_url, drop_schema
from ._logs import check_logs
from ._tally import figure


def _own_postgres_ports() -> set[int]:
    """The local ports of this process's TCP connections to port 5432 (from /proc), to kill only our own."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == 5432:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


async def _kill_own_connections(url: str) -> int:
    admin = await asyncpg.connect(url)
    try:
        ports = sorted(_own_postgres_ports())
        rows = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE client_port = ANY($1::int[]) AND pid <> pg_backend_pid()",
            ports,
        )
        return sum(1 for row in rows if row[0])
    finally:
        await admin.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[tuple[str, str]]:
    url = await asyncio.to_thread(base_url)
    schema = f"t_{secrets.token_hex(6)}"
    yield url, f"{url}?schema={schema}"
    await drop_schema(url, schema)


@pytest.mark.postgres
async def test_postgres_connections_killed_mid_run(harness: Harness, pg_url: tuple[str, str]) -> None:
    """Every store connection is killed twice while 20 dispatches run: every job ends succeeded, its event
    log whole (no gap, the tokens equal the result)."""
    admin_url, store_url = pg_url
    orc = harness.orchestrator(store=store_url)

    @orc.job(runtime="10m")
    def work(n: int) -> str:
        return f"job {n} [[tokens 5]] [[sleep 2m]] [[tokens 5]] [[sleep 2m]] [[tokens 5]]"

    async with orc:
        handles: list[JobHandle] = [await work.start(n) for n in range(20)]
        killed = 0
        for _ in range(2):
            await harness.clock.sleep(timedelta(seconds=90))
            killed += await _kill_own_connections(admin_url)
        logs = await check_logs(handles)
    figure(
        "store: PostgreSQL connections killed",
        f"{killed} connections killed; ends {dict(logs.ends)}; {logs.gaps} gaps, {logs.duplicates} duplicates",
    )
    assert killed >= 2
    assert (logs.ends, logs.gaps, logs.duplicates) == ({"succeeded": 20}, 0, 0)


async def test_sqlite_file_locked_by_another_process_for_a_while(harness: Harness, tmp_path: Path) -> None:
    """Another connection holds the SQLite write lock for 3 platform-minutes while 10 dispatches run: the
    store's errors say the file is locked and what to do, and every job ends succeeded with its log whole."""
    import sqlite3

    from orchestrator.store import SQLiteStore
    from orchestrator.testing import capture_logs

    path = tmp_path / "jobs.sqlite3"
    store = SQLiteStore(path, clock=harness.clock, busy_timeout=0.05)
    orc = harness.orchestrator(store=store)

    @orc.job(runtime="10m")
    def work(n: int) -> str:
        return f"job {n} [[tokens 3]] [[sleep 1m]] [[tokens 3]] [[sleep 3m]] [[tokens 3]]"

    with capture_logs() as captured:
        async with orc:
            handles = [await work.start(n) for n in range(10)]
            await harness.clock.sleep(timedelta(seconds=30))
            blocker = sqlite3.connect(path, isolation_level=None)
            try:
                blocker.execute("BEGIN EXCLUSIVE")
                with pytest.raises(StoreError, match="write lock"):  # refused, clearly: nothing half-made
                    await work.start(99)
                await harness.clock.sleep(timedelta(minutes=3))
                blocker.execute("ROLLBACK")
            finally:
                blocker.close()
            logs = await check_logs(handles)
    # the errors say what happened and what to do ("... held the database's write lock ...: retry, and look
    # for a process that keeps a transaction open")
    locked = [line for line in captured if "write lock" in str(line)]
    figure(
        "store: SQLite file locked",
        f"{len(locked)} store errors logged while locked; ends {dict(logs.ends)}; {logs.gaps} gaps, "
        f"{logs.duplicates} duplicates",
    )
    assert locked and all("retry" in str(line) for line in locked)
    assert (logs.ends, logs.gaps, logs.duplicates) == ({"succeeded": 10}, 0, 0)


@pytest.mark.postgres
async def test_postgres_lease_calls_survive_idle_pool_connections_killed(pg_url: tuple[str, str]) -> None:
    """Pool connections killed while idle: the next lease renewals, claims, reads and releases all succeed (each
    used to fail once per dead connection, with asyncpg's "another operation is in progress")."""
    from orchestrator import VirtualClock
    from orchestrator.store import JobRecord, JobStatus, PostgresStore

    admin_url, store_url = pg_url
    store = PostgresStore(store_url, clock=VirtualClock(), min_size=4, max_size=4)
    async with store:
        record = await store.create_job(
            JobRecord(
                id="job_leases",
                job_name="work",
                route="dispatch",
                status=JobStatus.PENDING,
                created_at=0.0,
                updated_at=0.0,
                idempotency_key="key-leases",
            )
        )
        await store.claim_jobs("r1", lease_seconds=60)
        # every pool connection in use at once, then idle in the pool
        await asyncio.gather(*(store.get_job(record.id) for _ in range(8)))
        killed = 0
        failures: list[str] = []
        for _ in range(3):
            killed += await _kill_own_connections(admin_url)
            for _ in range(6):  # more calls than connections: each dead connection is met
                try:
                    assert await store.renew_leases("r1", lease_seconds=60) == 1
                    assert [j.id for j in await store.claim_jobs("r1", lease_seconds=60)] == [record.id]
                    fetched = await store.get_job(record.id)
                    assert fetched is not None
                    assert fetched.owner == "r1"
                except StoreError as exc:
                    failures.append(str(exc))
        await store.release_jobs("r1")
        released = await store.get_job(record.id)
    figure(
        "store: PostgreSQL idle pool connections killed",
        f"{killed} connections killed; {len(failures)} lease/read calls failed of 54",
    )
    assert killed >= 3
    assert failures == []
    assert released is not None
    assert released.owner is None
