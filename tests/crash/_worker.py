"""An orchestrator worker process for the crash tests: started, killed with SIGKILL, and started again by them.

    python -m tests.crash._worker --platform URL --token T --store URL --scale N --lease SECONDS
        [--replica ID] [--dispatches K] [--tasks M] [--continues C] [--sleep 4m] [--await-ids ID,ID]
        [--await-stdin] [--exit-after created|dispatched|part-recorded|part-sent|flushing]

It starts K dispatch jobs and M task jobs (each streams a few tokens and works ``--sleep`` of platform time), also
awaits the jobs named by ``--await-ids`` (and, with ``--await-stdin``, by the lines read from stdin until a line
``end``), and exits once every one of them has finished. It prints one JSON object per line on stdout:
``{"event": "ready", "replica"}``, ``{"event": "started", "job_id", "route", "channel_id"}``,
``{"event": "result", "job_id", "status", "text", "channel_id"}``, ``{"event": "done"}``; its logs go to stderr.

``--exit-after created`` ends the process (``os._exit(9)``, as abrupt as SIGKILL) as soon as the first job's
record is written, before anything is sent to the platform; ``--exit-after dispatched`` ends it once the
platform accepted the first dispatch, before the record says so. ``--continues C`` starts C dispatch jobs declared
``on_ceiling="continue"`` that work 17 minutes (two parts); ``--exit-after part-recorded`` ends the process once the
second part is recorded (before it is sent), ``--exit-after part-sent`` once the platform accepted the second part
(before the record says so). The hooks wrap the SQLite store.
``--exit-after flushing`` ends it in the middle of the second flush of event appends that holds a token event:
its rows are inserted, its transaction is open, the commit never comes (SQLite or PostgreSQL).

The clock: the platform process runs on ``VirtualClock(time_scale=N)``. This worker runs on a
``VirtualClock(time_scale=N, autojump=False)`` too, started at the platform's current time (read from the
platform), so that every process reads the same time: leases are written by one replica and compared by another
(a plain ``VirtualClock(time_scale=N)`` starts from the wall time of its own construction and then runs N times
faster, so two replicas started a second apart disagree by N-1 seconds), and the task supervisor matches
executions by comparing the platform's timestamps with its own trigger time. The calibration errs on the late
side: this clock is never ahead of the platform's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import structlog

from orchestrator import EventType, Job, JobStatus, Orchestrator, OrchestratorError, Prompt, VirtualClock
from orchestrator.platform import PlatformClient
from orchestrator.store import JobRecord, JobStore, PostgresStore, SQLiteStore, open_store
from orchestrator.store._batch import Append, AppendOutcome
from orchestrator.store._pg_events import write_events as write_pg_events
from orchestrator.store._sqlite_events import write_events as write_sqlite_events
from orchestrator.store._url import parse_sqlite_url

DISPATCH_JOB = "crash_dispatch"
TASK_JOB = "crash_task"
CONTINUE_JOB = "crash_continue"


def emit(event: str, **fields: Any) -> None:
    """One JSON line on stdout, flushed at once (the test reads it while this process runs)."""
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


async def platform_clock(base_url: str, token: str, scale: float) -> VirtualClock:
    """A clock that reads what the platform's time-scaled clock reads, and runs at the same speed."""
    async with PlatformClient(base_url, token) as client:
        conversation = await client.conversations.create({"name": "clock calibration"})
        after = time.time()
        stamped = (await client.conversations.fetch(conversation.id)).created_at
    if stamped is None:
        raise RuntimeError("the platform returned a conversation without createdAt: cannot read its clock")
    # the platform stamped the conversation before `after`: taking `after` as the moment keeps us behind it
    return VirtualClock(
        start=stamped / 1000 + (time.time() - after) * scale, time_scale=scale, autojump=False
    )


class CrashingStore(SQLiteStore):
    """The SQLite store, ending the process abruptly at a chosen point of the first job's start."""

    def __init__(self, path: str, *, clock: VirtualClock, exit_after: str) -> None:
        super().__init__(path, clock=clock)
        self._exit_after = exit_after

    def _exit(self, job_id: str) -> None:
        emit("exiting", job_id=job_id, at=self._exit_after)
        os._exit(9)

    async def create_job(self, record: JobRecord) -> JobRecord:
        created = await super().create_job(record)
        if self._exit_after == "created":
            self._exit(created.id)
        return created

    async def update_job(
        self,
        job_id: str,
        *,
        status: JobStatus | None = None,
        state: Mapping[str, Any] | None = None,
        started_at: float | None = None,
        deadline: float | None = None,
    ) -> JobRecord:
        sending = status is JobStatus.RUNNING and state is not None and "channel_id" in state
        if self._exit_after == "dispatched" and sending:
            self._exit(job_id)  # launch() calls this right after the platform accepted the dispatch
        if self._exit_after == "part-sent" and sending and str((state or {})["channel_id"]).endswith("-c2"):
            self._exit(job_id)  # the platform accepted the second part; the record does not say so yet
        updated = await super().update_job(
            job_id, status=status, state=state, started_at=started_at, deadline=deadline
        )
        if (
            self._exit_after == "part-recorded"
            and status is JobStatus.PENDING
            and (state or {}).get("part") == 2
        ):
            self._exit(job_id)  # the second part is recorded, not sent
        return updated


class _FlushCrash:
    """Counts the flushes that hold a token event; the second one is where the process ends."""

    def __init__(self) -> None:
        self.token_flushes = 0

    def due(self, batch: Sequence[Append]) -> bool:
        if any(item.type == EventType.TOKEN for item in batch):
            self.token_flushes += 1
        return self.token_flushes == 2

    @staticmethod
    def exit(batch: Sequence[Append]) -> None:
        emit(
            "exiting",
            job_id=next(i.job_id for i in batch if i.type == EventType.TOKEN),
            at="flushing",
            batch=[{"job_id": i.job_id, "type": i.type, "key": i.key} for i in batch],
        )
        os._exit(9)


class FlushCrashingSQLite(SQLiteStore):
    """The SQLite store, ending the process with a flush's rows inserted and its transaction not committed."""

    def __init__(self, path: str, *, clock: VirtualClock) -> None:
        super().__init__(path, clock=clock)
        self._crash = _FlushCrash()

    async def _write_events(self, batch: Sequence[Append]) -> list[AppendOutcome]:
        if not self._crash.due(batch):
            return await super()._write_events(batch)
        async with self._write("appending events") as db:
            await write_sqlite_events(db, batch, no_job=lambda job_id: self._no_job("appending", job_id))
            self._crash.exit(batch)
        raise AssertionError("unreachable")


class FlushCrashingPostgres(PostgresStore):
    """The PostgreSQL store, ending the process with a flush's rows inserted and its transaction open."""

    def __init__(self, url: str, *, clock: VirtualClock) -> None:
        super().__init__(url, clock=clock)
        self._crash = _FlushCrash()

    async def _write_events(self, batch: Sequence[Append]) -> list[AppendOutcome]:
        if not self._crash.due(batch):
            return await super()._write_events(batch)
        async with self._conn("appending events", events=True) as conn:
            transaction = conn.transaction()
            await transaction.start()  # write_events's own transaction becomes a savepoint in this one
            await write_pg_events(
                conn, batch, no_job=lambda job_id: self._no_job("appending", job_id), sender=self._sender
            )
            self._crash.exit(batch)
        raise AssertionError("unreachable")


def declare(orc: Orchestrator, sleep: str) -> tuple[Job[[int]], Job[[int]], Job[[int]]]:
    """The jobs every worker declares (the same names in every process sharing the store)."""

    @orc.job(runtime="10m", name=CONTINUE_JOB, on_ceiling="continue")
    def crash_continue(n: int) -> str:
        return f"continue {n} [[tokens 3]] [[sleep 17m]] [[tokens 2]]"

    @orc.job(runtime="10m", name=DISPATCH_JOB)
    def crash_dispatch(n: int) -> str:
        return f"dispatch {n} [[tokens 5]] [[sleep {sleep}]] [[tokens 5]]"

    @orc.job(runtime="3h", cancellable=True, name=TASK_JOB)
    def crash_task(n: int) -> Prompt:
        return Prompt(text=f"task {n} [[tokens 5]] [[sleep {sleep}]]")

    return crash_dispatch, crash_task, crash_continue


async def report(orc: Orchestrator, job_id: str) -> None:
    """Await one job on this orchestrator and print how it ended."""
    handle = orc.get_handle(job_id)
    try:
        result = await handle.result()
    except OrchestratorError as exc:
        emit("result", job_id=job_id, status=(await handle.status()).value, text="", error=str(exc))
        return
    emit(
        "result",
        job_id=job_id,
        status="succeeded",
        text=result.text,
        channel_id=result.channel_id,
        channel_ids=list(result.channel_ids),
        parts=result.parts,
    )


async def stdin_ids() -> list[str]:
    """Job ids, one a line on stdin, until a line ``end``."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    ids: list[str] = []
    while (line := (await reader.readline()).decode().strip()) != "end":
        if not line:
            raise RuntimeError("stdin closed before the line 'end'")
        ids.append(line)
    return ids


def build_store(url: str, clock: VirtualClock, exit_after: str | None) -> JobStore | str:
    if exit_after is None:
        return open_store(url, clock=clock)
    if exit_after == "flushing":
        if url.startswith("postgres"):
            return FlushCrashingPostgres(url, clock=clock)
        return FlushCrashingSQLite(parse_sqlite_url(url), clock=clock)
    return CrashingStore(parse_sqlite_url(url), clock=clock, exit_after=exit_after)


async def main(args: argparse.Namespace) -> None:
    clock = await platform_clock(args.platform, args.token, args.scale)
    orc = Orchestrator(
        platform=PlatformClient(args.platform, args.token, clock=clock),
        store=build_store(args.store, clock, args.exit_after),
        clock=clock,
        lease=timedelta(seconds=args.lease * args.scale),
        replica_id=args.replica,
    )
    dispatch, task, continued = declare(orc, args.sleep)
    async with orc, asyncio.TaskGroup() as tg:
        emit("ready", replica=orc.replica_id)
        for n in range(args.dispatches):
            handle = await dispatch.start(n)
            record = await handle.record()
            emit("started", job_id=handle.id, route="dispatch", channel_id=record.spec.get("channel_id"))
            tg.create_task(report(orc, handle.id))
        for n in range(args.tasks):
            handle = await task.start(n)
            emit("started", job_id=handle.id, route="task", channel_id=None)
            tg.create_task(report(orc, handle.id))
        for n in range(args.continues):
            handle = await continued.start(n)
            record = await handle.record()
            emit("started", job_id=handle.id, route="dispatch", channel_id=record.spec.get("channel_id"))
            tg.create_task(report(orc, handle.id))
        for job_id in [i for i in args.await_ids.split(",") if i]:
            tg.create_task(report(orc, job_id))
        if args.await_stdin:
            for job_id in await stdin_ids():
                tg.create_task(report(orc, job_id))
    emit("done")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.crash._worker")
    parser.add_argument("--platform", required=True, help="the platform's base URL")
    parser.add_argument("--token", required=True)
    parser.add_argument("--store", required=True, help="the store URL (sqlite:///... or postgresql://...)")
    parser.add_argument("--scale", type=float, required=True, help="the platform's --time-scale")
    parser.add_argument("--lease", type=float, required=True, help="the lease, in real seconds")
    parser.add_argument("--replica", default=None, help="this replica's id in leases")
    parser.add_argument("--dispatches", type=int, default=0)
    parser.add_argument("--tasks", type=int, default=0)
    parser.add_argument("--continues", type=int, default=0, help="on_ceiling='continue' jobs (17 minutes)")
    parser.add_argument("--sleep", default="4m", help="how long each run works, in platform time")
    parser.add_argument("--await-ids", default="", help="comma-separated job ids to await as well")
    parser.add_argument("--await-stdin", action="store_true", help="also await the ids read from stdin")
    parser.add_argument(
        "--exit-after",
        choices=["created", "dispatched", "part-recorded", "part-sent", "flushing"],
        default=None,
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )
    asyncio.run(main(parse_args(sys.argv[1:])))
