"""Cancelling a job: tasks only (the platform cannot cancel a dispatch or a completion once started).

The request is recorded first (``cancel_requested`` and a ``cancel_requested`` event), so that a job still pending
(or launched by another replica meanwhile) ends cancelled; then the platform is asked to cancel the execution
(or the task, before it has one) and the task's supervisor is woken to read the outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._errors import NotCancellable, UsageError
from ..jobs import EventType
from ..store import JobStatus
from ..supervise import Outcome

if TYPE_CHECKING:
    from ._finish import Finisher
    from ._state import Shared

__all__ = ["cancel_job"]


async def cancel_job(rt: Shared, finisher: Finisher, job_id: str) -> None:
    """Cancel ``job_id`` (:class:`NotCancellable` for a dispatch or a completion; a finished job is left as is)."""
    record = await rt.store.get_job(job_id)
    if record is None:
        raise UsageError(f"no job {job_id!r} in the store {rt.store.url}")
    if not record.runs_as_task:
        raise NotCancellable(
            f"job {record.job_name!r} ({job_id}) runs as a {record.route}, which the platform cannot cancel "
            "once started. Declare it with cancellable=True (or a runtime over the dispatch budget) so that it "
            "runs as a task"
        )
    if record.status.terminal:
        return
    await rt.store.update_job(job_id, state={"cancel_requested": True})
    await rt.store.append_event(job_id, EventType.CANCEL_REQUESTED, {}, key="cancel")
    task_id = record.state.get("task_id")
    if not task_id:
        if record.status is JobStatus.PENDING:
            await finisher.finish(record, Outcome.cancelled("cancelled before it started"))
        return
    execution_id = record.state.get("execution_id")
    if execution_id:
        await rt.client.tasks.cancel_execution(str(task_id), str(execution_id))
    else:
        await rt.client.tasks.cancel(str(task_id))
    rt.context.tracker.wake(str(task_id))
