"""The run loop: each job supervised once in this process, from launch to its recorded outcome, with retries.

``spawn`` starts a supervision task for a record unless this process already supervises it. The task waits for a
planned start time (``not_before``) and for its concurrency slots, launches a pending record (idempotently, see
``orchestrator.supervise.launch``), runs the supervisor of its route, and either retries a retryable failure
(``retries=``, with backoff, on a fresh channel or a fresh task execution) or finishes the job. A bug or a store
failure fails that one job, never the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog

from .._clock import move_on_after
from .._errors import OrchestratorError, PlatformError
from ..jobs import EventType, Job, Tool
from ..store import JobRecord, JobStatus, JobStore
from ..supervise import (
    CompletionSupervisor,
    DispatchSupervisor,
    Outcome,
    TaskSupervisor,
    after_ceiling,
    join_parts,
    launch,
)
from ._finish import Finisher
from ._slots import Slots

if TYPE_CHECKING:
    from ._state import Shared

__all__ = ["RunLoop", "record_created"]

log = structlog.get_logger("orchestrator")


async def record_created(store: JobStore, record: JobRecord) -> None:
    """Log the job's ``created`` event (once: the event is keyed)."""
    await store.append_event(
        record.id,
        EventType.CREATED,
        {
            "route": record.route,
            "job_name": record.job_name,
            "reasons": list(record.spec.get("reasons") or ()),
        },
        key="created",
    )


class RunLoop:
    """Spawns and runs the supervision of jobs in the runtime's task group."""

    def __init__(self, rt: Shared, slots: Slots, finisher: Finisher) -> None:
        self._rt = rt
        self._slots = slots
        self._finisher = finisher

    def spawn(self, record: JobRecord, *, holds_slot: bool, reserved: bool = False) -> None:
        """Supervise ``record`` in this process, once (``reserved``: the caller already holds its place)."""
        rt = self._rt
        if rt.task_group is None or (record.id in rt.supervising and not reserved):
            return
        rt.supervising.add(record.id)
        rt.task_group.start_soon(self._supervise, record.id, holds_slot)

    async def resolve_tools(self, record: JobRecord) -> Mapping[str, Tool]:
        """The live tools of a job's prompt (rebuilt by calling the job function with its stored arguments)."""
        if not record.spec.get("tool_channels"):
            return {}
        j = self._rt.jobs.get(record.job_name)
        if j is None or not record.spec.get("args_stored"):
            log.warning("live tools cannot be rebuilt for this job", job_id=record.id, job=record.job_name)
            return {}
        prompt = await j.prompt(*record.spec.get("args", []), **record.spec.get("kwargs", {}))
        return prompt.tools

    async def _supervise(self, job_id: str, holds_slot: bool) -> None:
        rt = self._rt
        j = None
        try:
            record = await rt.store.get_job(job_id)
            if record is None or record.status.terminal:
                return
            j = rt.jobs.get(record.job_name)
            if record.status is JobStatus.PENDING and record.spec.get("not_before") is not None:
                waited = await self._wait_not_before(record)  # a planned task's start time; no slot held
                if waited is None:
                    return
                record = waited
            if not holds_slot:
                await self._slots.acquire(j, job_id)
                holds_slot = True
            await self._run_to_end(record, j)
        except Exception as exc:  # a bug or a store failure must fail this job, not every job of the process
            log.exception("supervision failed", job_id=job_id, error=str(exc))
            try:
                record = await rt.store.get_job(job_id)
                if record is not None and not record.status.terminal:
                    await self._finisher.finish(
                        record, Outcome.failed(f"supervision failed: {exc}", retryable=False)
                    )
            except OrchestratorError as again:
                # the store itself is failing: the job stays unfinished and leased; the next claim retries it
                log.error("could not record the supervision failure", job_id=job_id, error=str(again))
        finally:
            rt.supervising.discard(job_id)
            if holds_slot:
                self._slots.release(j, job_id)

    async def _wait_not_before(self, record: JobRecord) -> JobRecord | None:
        """Hold a pending record until ``spec["not_before"]``; ``None`` if it ended meanwhile (cancelled)."""
        rt = self._rt
        delay = float(record.spec["not_before"]) - rt.clock.time()
        if delay > 0:
            async with rt.store.watch(record.id) as watch, move_on_after(rt.clock, delay):
                while True:
                    current = await rt.store.get_job(record.id)
                    if current is None or current.status.terminal:
                        return None
                    await watch.wait(events=False)
        current = await rt.store.get_job(record.id)
        return None if current is None or current.status.terminal else current

    async def _run_to_end(self, record: JobRecord, j: Job[Any] | None) -> None:
        rt = self._rt
        ctx = rt.context
        while True:
            if record.status is JobStatus.PENDING:
                # the process may have stopped between recording the job and logging it: log it once
                await record_created(rt.store, record)
                if record.state.get("cancel_requested"):
                    await self._finisher.finish(record, Outcome.cancelled("cancelled before it started"))
                    return
                try:
                    record = await launch(ctx, record)
                except PlatformError as exc:
                    await self._finisher.finish(
                        record, Outcome.failed(f"the platform refused the job: {exc}", code=exc.code)
                    )
                    return
            # a dispatch's or completion's live tools are rebuilt first; the supervisor is awaited here, not in a
            # coroutine of its own (each in-flight run holds its chain of coroutines for the collector to walk)
            tools = {} if record.runs_as_task else await self.resolve_tools(record)
            outcome = await self._supervisor(record, tools).run()
            after = await after_ceiling(ctx, record, outcome)  # on_ceiling: the next part, recorded
            if isinstance(after, JobRecord):
                record = after
                continue
            outcome = join_parts(record, after)  # launch returned the record with every part's state
            attempt = int(record.state.get("attempt") or 1)
            retries = j.definition.retries if j is not None else 0
            if outcome.status is JobStatus.FAILED and outcome.retryable and attempt <= retries:
                delay = min(60.0, 2.0**attempt)
                reason = str((outcome.error or {}).get("reason"))
                await rt.store.append_event(
                    record.id, EventType.RETRY, {"attempt": attempt + 1, "reason": reason, "delay": delay}
                )
                await rt.clock.sleep(delay)
                state: dict[str, Any] = {"attempt": attempt + 1, "started_at": None}
                if record.route == "dispatch" and not record.runs_as_task:
                    state["channel_id"] = f"{record.spec['channel_id']}-r{attempt + 1}"
                    state.update(part=1, parts=[], body=None)
                elif record.runs_as_task:
                    # launch() triggers the task again unless a run newer than this one already exists
                    latest = await rt.store.get_job(record.id)  # the supervisor noted the execution there
                    previous = (latest or record).state.get("execution_id")
                    state.update(triggered_at=None, execution_id=None, previous_execution=previous)
                record = await rt.store.update_job(record.id, status=JobStatus.PENDING, state=state)
                continue
            await self._finisher.finish(record, outcome)
            return

    def _supervisor(
        self, record: JobRecord, tools: Mapping[str, Tool]
    ) -> TaskSupervisor | DispatchSupervisor | CompletionSupervisor:
        """The supervisor of the record's route."""
        ctx = self._rt.context
        if record.runs_as_task:  # routed so, or re-run so by on_ceiling="task"
            return TaskSupervisor(ctx, record)
        if record.route == "dispatch":
            return DispatchSupervisor(ctx, record, tools)
        return CompletionSupervisor(ctx, record, tools)
