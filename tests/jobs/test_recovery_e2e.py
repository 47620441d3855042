"""Restarts: a job accepted is supervised again by the next orchestrator on the same store, exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator import EventType, Job, JobStatus, Orchestrator, Prompt
from orchestrator.testing import Harness


async def test_dispatch_resumed_after_restart_without_duplicates(harness: Harness, tmp_path: Path) -> None:
    """An in-flight dispatch is re-subscribed with replay by the next orchestrator; no event lost or doubled."""
    url = f"sqlite:///{tmp_path}/jobs.sqlite3"

    def declare(orc: Orchestrator) -> Job[Any]:
        @orc.job(runtime="10m", name="long_triage")
        def long_triage() -> str:
            return "Think [[tokens 5]] [[sleep 4m]] [[tokens 5]]"

        return long_triage

    first = harness.orchestrator(store=url)
    job = declare(first)
    async with first:
        handle = await job.start()
        await harness.clock.sleep(60)
        assert await handle.status() is JobStatus.RUNNING
    second = harness.orchestrator(store=url)
    declare(second)
    async with second:
        resumed = await second.load_handle(handle.id)
        result = await resumed.result()
        events = [e async for e in resumed.events()]
    tokens = [str(e.data["token"]) for e in events if e.type == EventType.TOKEN]
    assert "".join(tokens) == result.text
    deltas = sum(len(e.data.get("parts") or [0]) for e in events if e.type == EventType.TOKEN)
    assert deltas >= 10, "one token event may hold several deltas; there were at least 10"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert sum(1 for e in events if e.type == EventType.SUCCEEDED) == 1


async def test_task_resumed_after_restart(harness: Harness, tmp_path: Path) -> None:
    """An in-flight task run is tracked again after a restart and resolves once; one task on the platform."""
    url = f"sqlite:///{tmp_path}/jobs.sqlite3"

    def declare(orc: Orchestrator) -> Job[Any]:
        @orc.job(runtime="3h", cancellable=True, name="analysis")
        def analysis(corpus: str) -> Prompt:
            return Prompt(text=f"Analyse {corpus} [[sleep 1h]]")

        return analysis

    first = harness.orchestrator(store=url)
    job = declare(first)
    async with first:
        handle = await job.start("c-1")
        await harness.clock.sleep(300)
    second = harness.orchestrator(store=url)
    declare(second)
    async with second:
        result = await (await second.load_handle(handle.id)).result()
    assert result.text
    async with harness.platform.client() as client:
        tasks = [t async for t in client.tasks.list()]
        executions = [e async for e in client.tasks.executions(tasks[0].id)]
    assert len(tasks) == 1
    assert len(executions) == 1


async def test_pending_job_is_started_by_the_next_orchestrator(harness: Harness, tmp_path: Path) -> None:
    """A job recorded but not yet sent (held by max_concurrency) is sent by the next orchestrator."""
    url = f"sqlite:///{tmp_path}/jobs.sqlite3"

    def declare(orc: Orchestrator) -> Job[Any]:
        @orc.job(runtime="5m", max_concurrency=1, name="serial")
        def serial(n: int) -> str:
            return f"n={n} [[sleep 3m]]"

        return serial

    first = harness.orchestrator(store=url)
    job = declare(first)
    async with first:
        await job.start(1)
        waiting = await job.start(2)
        assert await waiting.status() is JobStatus.PENDING
    second = harness.orchestrator(store=url)
    declare(second)
    async with second:
        result = await second.get_handle(waiting.id).result()
    assert result.text
