"""Task supervision: one task run (one execution) followed to its outcome.

The supervisor waits on the :class:`~orchestrator.supervise.TaskTracker` (the shared event-log subscription, with
polling as the fallback) and reads the execution's outcome and conversation when it ends.
"""

from __future__ import annotations

from typing import Any

from .._errors import AuthenticationError, NotFoundError, OrchestratorError, RateLimitedError
from ..jobs import EventType
from ..platform import TaskExecution
from ..store import JobRecord, JobStatus
from ._context import Outcome, SupervisorContext, excerpt, log, succeeded
from ._tracker import execution_finished

__all__ = ["TaskSupervisor", "is_running"]

# a failed execution that ran this close to its maxTime (or longer) was stopped at its bound
_BOUND_TOLERANCE = 5.0


class TaskSupervisor:
    """Tracks one task run (one execution) to its outcome. ``await run()`` returns the :class:`Outcome`."""

    def __init__(self, ctx: SupervisorContext, record: JobRecord) -> None:
        self._ctx = ctx
        self._record = record
        self._state = dict(record.state)
        self._task_id = str(self._state["task_id"])
        self._execution_id: str | None = self._state.get("execution_id")
        self._triggered_ms = float(self._state.get("triggered_at") or 0) * 1000 - 5000
        self._last_seen: tuple[Any, ...] | None = None
        self._log = log.bind(job_id=record.id, job=record.job_name, route="task", task_id=self._task_id)

    async def run(self) -> Outcome:
        async with self._ctx.tracker.track(self._task_id) as waiter:
            while True:
                try:
                    execution = await self._find_execution()
                    waiter.failures = 0
                    if execution is not None:
                        # a store write failing here is retried at the next wake, like a failed poll
                        await self._note(execution)
                        if execution_finished(execution):
                            return await self._outcome(execution)
                except RateLimitedError as exc:
                    self._ctx.tracker.rate_limited(exc.retry_after)
                    waiter.failures += 1
                except AuthenticationError as exc:
                    return Outcome.failed(f"the platform refused the credential: {exc}", retryable=False)
                except NotFoundError as exc:
                    # the task (or its executions) is gone: nothing will ever end this run on the platform
                    return Outcome.failed(
                        f"task {self._task_id} was not found on the platform (deleted, or expired): {exc.message}",
                        code=exc.code,
                        retryable=False,
                    )
                except OrchestratorError as exc:
                    self._log.info("execution poll failed", error=excerpt(str(exc)))
                    waiter.failures += 1
                await waiter.wait()

    async def _find_execution(self) -> TaskExecution | None:
        newest: TaskExecution | None = None
        async for execution in self._ctx.client.tasks.executions(self._task_id, order="desc", take=10):
            if self._execution_id is not None:
                if execution.id == self._execution_id:
                    return execution
                continue
            previous = self._state.get("previous_execution")
            if execution.id != previous and (previous or (execution.created_at or 0) >= self._triggered_ms):
                newest = execution
            break
        if newest is not None and self._execution_id is None:
            # known only once the store holds it: a retry after this run finds it there (previous_execution)
            await self._ctx.store.update_job(self._record.id, state={"execution_id": newest.id})
            self._execution_id = newest.id
        return newest

    async def _note(self, execution: TaskExecution) -> None:
        seen = (execution.id, execution.status, execution.outcome)
        if seen == self._last_seen:
            return
        await self._ctx.store.append_event(
            self._record.id,
            EventType.TASK_EXECUTION,
            {
                "task_id": self._task_id,
                "execution_id": execution.id,
                "status": execution.status,
                "outcome": execution.outcome,
                "conversation_id": execution.conversation_id,
            },
            key=f"ex:{execution.id}:{execution.status}:{execution.outcome}",
        )
        if execution.conversation_id and not self._state.get("conversation_id"):
            await self._ctx.store.update_job(
                self._record.id, state={"conversation_id": execution.conversation_id}
            )
            self._state["conversation_id"] = execution.conversation_id
        self._last_seen = (
            seen  # seen once the store holds all of it (the event's key makes a rewrite a no-op)
        )

    async def _outcome(self, execution: TaskExecution) -> Outcome:
        summary = execution.summary or ""
        if execution.status in ("canceled", "cancelled"):
            return Outcome.cancelled(f"the task execution was cancelled{': ' + summary if summary else ''}")
        if execution.outcome == "failure":
            max_time = await self._passed_max_time(execution)
            if max_time is not None:
                partial = await self._last_bot_message(execution.conversation_id) or ""
                return Outcome.timed_out(
                    partial_output=partial,
                    timeout=max_time,
                    reason=f"the run passed its {max_time:g}s bound (maxTime){': ' + summary if summary else ''}",
                )
            return Outcome.failed(summary or "the task execution failed")
        text = await self._last_bot_message(execution.conversation_id) or summary
        record = await self._ctx.store.get_job(self._record.id)
        started = (record.started_at if record else None) or self._record.started_at
        return succeeded(
            self._record,
            text=text,
            finished_at=self._ctx.clock.time(),
            end_reason="stop",
            conversation_id=execution.conversation_id,
            task_id=self._task_id,
            execution_id=execution.id,
            summary=summary,
            started_at=started,
            attempt=int(self._state.get("attempt") or 1),
        )

    async def _passed_max_time(self, execution: TaskExecution) -> float | None:
        """The task's ``maxTime`` in seconds when this failed execution ran for it (stopped at its bound)."""
        if execution.created_at is None or execution.updated_at is None:
            return None
        ran = (execution.updated_at - execution.created_at) / 1000
        try:
            max_time = (await self._ctx.client.tasks.fetch(self._task_id)).max_time
        except OrchestratorError as exc:
            self._log.info("could not read the task's maxTime", error=excerpt(str(exc)))
            return None
        if max_time is None or ran < max_time / 1000 - _BOUND_TOLERANCE:
            return None
        return max_time / 1000

    async def _last_bot_message(self, conversation_id: str | None) -> str | None:
        if not conversation_id:
            return None
        try:
            async for message in self._ctx.client.conversations.messages(
                conversation_id, order="desc", take=20
            ):
                if message.type == "bot" and message.text:
                    return message.text
        except OrchestratorError as exc:
            self._log.info("could not read the run's conversation", error=excerpt(str(exc)))
        return None


def is_running(record: JobRecord) -> bool:
    return record.status is JobStatus.RUNNING
