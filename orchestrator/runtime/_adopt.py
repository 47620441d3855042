"""Adopting a task execution the platform started on its own (a schedule fired) as a job of the orchestrator.

The job's id and idempotency key come from the execution, so every replica that notices the run records the same
job once; only the call that created the record logs ``job.started`` and supervises it (the others find it).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import structlog

from .._errors import NotFoundError, OrchestratorError
from ..jobs import EventType, Route
from ..platform import TaskExecution
from ..store import JobRecord, JobStatus

if TYPE_CHECKING:
    from ._runloop import RunLoop
    from ._state import Shared

__all__ = ["adopt_execution", "next_check"]


async def adopt_execution(
    orc: Shared,
    runs: RunLoop,
    task_id: str,
    execution: TaskExecution,
    *,
    job_name: str,
    parent_id: str | None = None,
    spec: Mapping[str, Any] | None = None,
) -> tuple[JobRecord, bool]:
    """The job of a scheduled run (recorded once, and supervised here if this call recorded it).

    Returns:
        The record, and whether this call created it.
    """
    now = orc.clock.time()
    started = (execution.created_at or now * 1000) / 1000
    nonce = f"{orc.replica_id}:{secrets.token_hex(6)}"
    record = JobRecord(
        id=f"job_{execution.id}"[:64],
        job_name=job_name,
        route="task",
        status=JobStatus.RUNNING,
        created_at=now,
        updated_at=now,
        idempotency_key=f"exec:{task_id}:{execution.id}",
        spec={"scheduled": True, "task_id": task_id, **(spec or {})},
        state={
            "task_id": task_id,
            "execution_id": execution.id,
            "triggered_at": started,
            "started_at": started,
            "adopted_by": nonce,
        },
        parent_id=parent_id,
        started_at=started,
        owner=orc.replica_id,
        lease_expires_at=now + orc.lease,
    )
    stored = await orc.store.create_job(record)
    created = stored.state.get("adopted_by") == nonce  # not another replica's, not an earlier call's
    if created:
        orc.remember(stored.id, job_name, Route.TASK)
        await orc.store.append_event(
            stored.id,
            EventType.STARTED,
            {
                "route": "task",
                "task_id": task_id,
                "execution_id": execution.id,
                "scheduled": True,
                "attempt": 1,
            },
            key="started:1",
        )
        runs.spawn(stored, holds_slot=False)
    return stored, created


log = structlog.get_logger("orchestrator.schedules")


async def next_check(
    orc: Shared,
    task_ids: Iterable[str],
    reconcile: Callable[[str], Awaitable[object]],
    *,
    gone: Callable[[str], object] | None = None,
) -> float:
    """Adopt the scheduled tasks' new runs now; returns when to look again (just after the next ``nextRunAt``).

    The fallback for when the event log is quiet or down: with it up, runs are noticed as they start, so the next
    look is hours away; without it, at most 15 minutes. ``gone(task_id)`` is told of a task the platform no longer
    has.
    """
    cap = 6 * 3600 if orc.context.tracker.healthy else 900
    wake_at = orc.clock.time() + cap
    for task_id in list(task_ids):
        try:
            await reconcile(task_id)
            task = await orc.client.tasks.fetch(task_id)
        except NotFoundError as exc:
            if gone is not None:
                gone(task_id)
            else:
                log.info("schedule check failed", task_id=task_id, error=str(exc))
            continue
        except OrchestratorError as exc:
            log.info("schedule check failed", task_id=task_id, error=str(exc))
            continue
        if task.next_run_at:
            wake_at = min(wake_at, task.next_run_at / 1000 + 2)
    return max(wake_at, orc.clock.time() + 1)
