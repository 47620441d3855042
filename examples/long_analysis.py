"""A long analysis with cancel: a 3-hour cancellable job runs as a task; an operator stops it half an hour in.

What it shows:

- ``@orc.job(runtime="3h", cancellable=True)`` is routed to a platform *task* (a dispatch is capped at 15 minutes
  and cannot be cancelled); ``analyse.explain()`` says why.
- The job's durable event log (``handle.events()``) and its status, shown as the run goes.
- ``handle.result(timeout=...)`` raising ``ResultTimeout`` while the job goes on, then ``handle.cancel()``
  stopping the run on the platform: ``result()`` raises ``JobCancelled`` and the status is ``cancelled``.

Run it::

    python examples/long_analysis.py

Without ``CHATBOTKIT_API_TOKEN`` it runs on the embedded local platform, whose simulated agent works for
2 h 30 min of platform time; the platform clock runs 300x faster than real time, so the operator cancels after
about six seconds. With ``CHATBOTKIT_API_TOKEN`` set it runs on ChatBotKit in real time (the operator then waits
30 real minutes, and a real model may well finish sooner: the example says so). Jobs are kept in
``ORCHESTRATOR_STORE`` if set, else in memory (they end with the script).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio

from orchestrator import (
    Clock,
    JobCancelled,
    JobHandle,
    JobStatus,
    Orchestrator,
    Prompt,
    ResultTimeout,
    VirtualClock,
)
from orchestrator.store import JobStore

if TYPE_CHECKING:
    from orchestrator.local import LocalPlatform
    from orchestrator.platform import PlatformClient

TIME_SCALE = 300.0  # the local platform's clock, times real time


def on_real_platform() -> bool:
    """Whether ``Orchestrator()`` will use ChatBotKit (``CHATBOTKIT_API_TOKEN`` is set) rather than the local one."""
    return bool(os.environ.get("CHATBOTKIT_API_TOKEN"))


def simulate(directives: str) -> str:
    """Directives that steer the local platform's simulated agent; nothing is sent to a real model."""
    return "" if on_real_platform() else f" {directives}"


def default_clock() -> Clock | None:
    """Wall time on the real platform; a fast virtual clock for the embedded local platform."""
    return None if on_real_platform() else VirtualClock(time_scale=TIME_SCALE)


def stamp(clock: Clock) -> str:
    return clock.now().strftime("%H:%M")


async def show_events(handle: JobHandle, clock: Clock) -> None:
    """Print the job's event log as it grows; returns when the job has ended."""
    async for event in handle.events():
        details = ", ".join(
            f"{k}={v}" for k, v in event.data.items() if k in ("route", "status", "reason", "outcome")
        )
        print(f"[{stamp(clock)}] event {event.seq}: {event.type} {details}".rstrip())


async def show_progress(handle: JobHandle, clock: Clock, every: timedelta, runtime: timedelta) -> None:
    """Print the job's status and how long it has run, every ``every`` of platform time."""
    while True:
        record = await handle.record()
        if record.status.terminal:
            return
        elapsed = timedelta(seconds=round(clock.time() - (record.started_at or record.created_at)))
        print(f"[{stamp(clock)}] progress: {record.status.value}, {elapsed} of at most {runtime}")
        await clock.sleep(every)


async def main(
    *,
    clock: Clock | None = None,
    platform: PlatformClient | LocalPlatform | None = None,
    store: str | JobStore | None = None,
    cancel_after: timedelta = timedelta(minutes=30),
    progress_every: timedelta = timedelta(minutes=10),
) -> JobStatus:
    """Start the analysis, show its progress, cancel it after ``cancel_after``; return its final status.

    Args:
        clock: the clock (tests pass a ``VirtualClock``); by default see the module docstring.
        platform: a platform client or local platform; ``None`` lets ``Orchestrator`` choose from the environment.
        store: a store URL or object; ``ORCHESTRATOR_STORE`` or ``memory://`` by default.
        cancel_after: how long, in platform time, the operator lets it run.
        progress_every: how often progress is printed, in platform time.
    """
    if clock is None and platform is None:
        clock = default_clock()
    orc = Orchestrator(
        platform=platform,
        store=store or os.environ.get("ORCHESTRATOR_STORE") or "memory://",
        clock=clock,
    )
    runtime = timedelta(hours=3)

    @orc.job(runtime=runtime, cancellable=True)
    def analyse(corpus: str) -> Prompt:
        return Prompt(
            text=(
                f"Analyse the corpus {corpus!r}: cluster the feedback by theme, rank the themes by how often "
                "they occur, and quote two representative comments per theme." + simulate("[[sleep 2h30m]]")
            ),
            backstory="You are a careful research analyst. Report findings with evidence.",
        )

    print(f"analyse is routed to a {analyse.route.value}:\n{analyse.explain()}\n")
    async with orc:
        handle = await analyse.start("customer-feedback-2025")
        print(f"[{stamp(orc.clock)}] started {handle.id} ({handle.route.value})")
        async with anyio.create_task_group() as tg:
            tg.start_soon(show_events, handle, orc.clock)
            async with anyio.create_task_group() as ticker:
                ticker.start_soon(show_progress, handle, orc.clock, progress_every, runtime)
                try:
                    result = await handle.result(timeout=cancel_after)
                    print(f"[{stamp(orc.clock)}] it finished before the operator stepped in:\n{result.text}")
                except ResultTimeout:
                    print(f"[{stamp(orc.clock)}] operator: {cancel_after} is enough, cancelling {handle.id}")
                    await handle.cancel()
                    try:
                        await handle.result()
                    except JobCancelled as exc:
                        print(f"[{stamp(orc.clock)}] result() raised JobCancelled: {exc}")
                ticker.cancel_scope.cancel()
        status = await handle.status()
        print(f"[{stamp(orc.clock)}] status: {status.value}")
    return status


if __name__ == "__main__":
    anyio.run(main)
