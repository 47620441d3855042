"""Two replicas on one PostgreSQL schema: one is killed, the other takes its jobs over and finishes them once.

Workers are separate processes (``_worker.py``) on a local platform process running 60 times faster than real
time; the lease is ``LEASE`` real seconds. A replica supervising jobs renews its leases and looks for orphans every
``LEASE / 3``, so a dead replica's jobs are taken over at most ``LEASE + LEASE / 3`` after it died.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import anyio
import pytest

from orchestrator import Orchestrator, Prompt
from orchestrator.store import PostgresStore

from ._support import (
    PlatformProcess,
    Worker,
    assert_once,
    assert_one_dispatch_run,
    assert_one_task_run,
    in_flight,
    until,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LEASE = 2.0  # real seconds
MARGIN = 1.0  # real seconds: process scheduling, a claim query, polling in this test


async def test_replica_takes_over_a_killed_replica(
    platform: PlatformProcess, postgres_url: str, tmp_path: Path
) -> None:
    """Replica B takes over killed replica A's dispatch and task within the lease; B's handles on them resolve."""
    a = await Worker.start(
        platform,
        postgres_url,
        tmp_path / "a.err",
        *("--replica", "replica-a", "--dispatches", "2", "--tasks", "1", "--sleep", "6m"),
        lease=LEASE,
    )
    b = await Worker.start(
        platform,
        postgres_url,
        tmp_path / "b.err",
        *("--replica", "replica-b", "--dispatches", "1", "--sleep", "7m", "--await-stdin"),
        lease=LEASE,
    )
    try:
        a_started = await a.expect("started", 3)
        (b_started,) = await b.expect("started")
        a_ids = [line["job_id"] for line in a_started]
        async with PostgresStore(postgres_url) as store:
            await until(lambda: in_flight(store, [*a_ids, b_started["job_id"]]), within=20, what="in flight")
            await b.send_ids(a_ids)  # B awaits A's jobs through handles, from before A dies
            for job_id in a_ids:
                record = await store.get_job(job_id)
                assert record is not None
                assert record.owner == "replica-a"
            await a.kill()
            killed = time.monotonic()

            async def taken_over() -> bool:
                for job_id in a_ids:
                    record = await store.get_job(job_id)
                    assert record is not None
                    if record.owner != "replica-b" and not record.status.terminal:
                        return False
                return True

            await until(taken_over, within=4 * LEASE, what="B owns A's jobs")
            took = time.monotonic() - killed
            assert took <= LEASE + LEASE / 3 + MARGIN, f"takeover took {took:.2f}s"
            results = await b.results(within=40)
            assert sorted(results) == sorted([*a_ids, b_started["job_id"]])
            for job_id, result in results.items():
                await assert_once(store, job_id, result)
        async with platform.client() as client:
            await asyncio.gather(
                *(
                    assert_one_dispatch_run(client, line["channel_id"])
                    if line["route"] == "dispatch"
                    else assert_one_task_run(client, line["job_id"])
                    for line in [*a_started, b_started]
                )
            )
    finally:
        await a.stop()
        await b.stop()


async def test_two_replicas_started_at_once_upsert_one_scheduled_task(
    platform: PlatformProcess, postgres_url: str
) -> None:
    """Two orchestrators entering at once on one schema create one platform task (and one bot) per schedule."""
    name = f"yearly_{secrets.token_hex(4)}"
    backstory = f"The yearly reporter {name}."
    orchestrators = [
        Orchestrator(platform=platform.client(), store=postgres_url, replica_id=f"replica-{i}")
        for i in range(2)
    ]
    for orc in orchestrators:

        @orc.job(schedule="0 0 1 1 *", timezone="UTC", runtime="20m", name=name)
        def yearly() -> Prompt:
            return Prompt(text="Summarise the year.", backstory=backstory)

    entered = [anyio.Event() for _ in orchestrators]
    stop = anyio.Event()
    task_ids: list[str] = []

    async def hold(orc: Orchestrator, ready: anyio.Event) -> None:
        async with orc:
            task_ids.append(orc.schedules.task_ids[name])
            ready.set()
            await stop.wait()

    async with anyio.create_task_group() as tg:
        for orc, ready in zip(orchestrators, entered, strict=True):
            tg.start_soon(hold, orc, ready)
        with anyio.fail_after(20):
            for ready in entered:
                await ready.wait()
        stop.set()
    async with platform.client() as client:
        tasks = [t async for t in client.tasks.list(meta={"orchestratorSchedule": name})]
        bots = [b async for b in client.bots.list() if b.backstory == backstory]
    assert len(tasks) == 1, tasks
    assert task_ids == [tasks[0].id, tasks[0].id]
    assert len(bots) == 1
    assert tasks[0].bot_id == bots[0].id
    assert tasks[0].schedule == "0 0 1 1 *"
