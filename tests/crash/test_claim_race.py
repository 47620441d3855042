"""The lease loop and a job being started in the same process must not both launch it.

``Orchestrator._start_job`` writes the record (owned by this replica) and then calls the platform; only after that
does it register the job as supervised. When the lease loop's ``_claim()`` runs in between (its period is
``lease / 3`` while jobs run, ``lease`` when idle; a platform call that takes longer than that is enough), it sees
an unfinished job of its own that nobody supervises, and starts a second supervisor, which launches the job again.
These tests make the start slow with the local platform's latency fault (40 s of virtual time, longer than the
30-second idle lease period), on the in-process harness (virtual clock, no real waiting).
"""

from __future__ import annotations

from datetime import timedelta

from orchestrator import Prompt
from orchestrator.local import Faults, latency
from orchestrator.testing import local_harness


async def test_slow_dispatch_start_is_sent_once() -> None:
    """A dispatch whose platform call outlasts the lease period is sent once, not again by the lease loop."""
    faults = Faults([latency(r"^/conversation/dispatch$", delay=40)])
    async with local_harness(faults=faults) as h:
        orc = h.orchestrator()

        @orc.job(runtime="5m")
        def slow_start() -> str:
            return "hello [[tokens 3]]"

        async with orc:
            result = await (await slow_start.start()).result()
    assert result.text
    assert faults.hits == [1], f"the platform received {faults.hits[0]} dispatch requests for one job"


async def test_slow_start_of_a_job_with_max_concurrency_succeeds() -> None:
    """A max_concurrency job whose start outlasts the lease period still runs (no second slot taken for it)."""
    faults = Faults([latency(r"^/conversation/dispatch$", delay=40)])
    async with local_harness(faults=faults) as h:
        orc = h.orchestrator()

        @orc.job(runtime="5m", max_concurrency=1)
        def serial() -> str:
            return "one at a time [[tokens 3]]"

        async with orc:
            result = await (await serial.start()).result()
    assert result.text


async def test_slow_task_create_makes_one_task_and_finishes() -> None:
    """A task job whose task creation outlasts the lease period makes one platform task and finishes."""
    faults = Faults([latency(r"^/task/create$", delay=40)])
    async with local_harness(faults=faults) as h:
        orc = h.orchestrator()

        @orc.job(runtime="1h", cancellable=True)
        def analysis() -> Prompt:
            return Prompt(text="work [[sleep 10m]]")

        async with orc:
            handle = await analysis.start()
            result = await handle.result(timeout=timedelta(hours=2))
        async with h.platform.client() as client:
            tasks = [t async for t in client.tasks.list()]
    assert result.text
    assert len(tasks) == 1, f"{len(tasks)} platform tasks for one job"
