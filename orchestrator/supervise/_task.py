"""Task supervision: one event-log subscription per orchestrator tells all in-flight tasks apart.

:class:`TaskTracker` holds that subscription and wakes the supervisor of the task an event names. Execution-list
polling is the fallback: each tracked task is re-checked after an interval that is long while the event log is
healthy and backs off while it is not, and every poll takes a permit from one shared rate limiter that also obeys the
platform's ``Retry-After`` on 429 (every ``*/list`` call counts against a polling rate limit).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio

from .._clock import Clock, move_on_after
from .._errors import AuthenticationError, NotFoundError, OrchestratorError, RateLimitedError
from ..jobs._events import EventType
from ..platform import PlatformClient, TaskExecution
from ..store._protocol import JobRecord, JobStatus
from ._context import Outcome, SupervisorContext, excerpt, log, succeeded

__all__ = ["TaskSupervisor", "TaskTracker", "execution_finished"]

# a failed execution that ran this close to its maxTime (or longer) was stopped at its bound
_BOUND_TOLERANCE = 5.0


def execution_finished(execution: TaskExecution) -> bool:
    """Whether a task execution reached its end (cancelled, or idle with an outcome)."""
    if execution.status in ("canceled", "cancelled"):
        return True
    return execution.status == "idle" and execution.outcome in ("success", "failure")


class _Waiter:
    def __init__(self, tracker: TaskTracker, task_id: str) -> None:
        self._tracker = tracker
        self.task_id = task_id
        self._event = anyio.Event()
        self.failures = 0

    def wake(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        """Until the event log names this task, or the fallback poll interval passes."""
        interval = self._tracker.poll_interval(self.failures)
        async with move_on_after(self._tracker.clock, interval):
            await self._event.wait()
        self._event = anyio.Event()
        await self._tracker.poll_permit()


class TaskTracker:
    """The orchestrator's single event-log subscription, fanned out to task supervisors."""

    def __init__(
        self,
        client: PlatformClient,
        clock: Clock,
        *,
        healthy_poll: float = 300.0,
        min_poll: float = 2.0,
        max_poll: float = 60.0,
        polls_per_second: float = 5.0,
    ) -> None:
        self.client = client
        self.clock = clock
        self._waiters: dict[str, set[_Waiter]] = defaultdict(set)
        self._listeners: list[Any] = []
        self._healthy = False
        self._healthy_poll = healthy_poll
        self._min_poll = min_poll
        self._max_poll = max_poll
        self._spacing = 1.0 / polls_per_second
        self._next_permit = 0.0
        self._blocked_until = 0.0
        self._log = log.bind(component="task-tracker")

    @property
    def healthy(self) -> bool:
        """Whether the event-log subscription is up (polling then only guards against lost events)."""
        return self._healthy

    def poll_interval(self, failures: int) -> float:
        if self._healthy:
            return self._healthy_poll
        return min(self._max_poll, self._min_poll * 2.0 ** min(failures, 8))

    async def poll_permit(self) -> None:
        """Wait for a slot under the shared polling rate (and any ``Retry-After`` the platform asked for)."""
        now = self.clock.time()
        slot = max(now, self._next_permit, self._blocked_until)
        self._next_permit = slot + self._spacing
        if slot > now:
            await self.clock.sleep_until(slot)

    def rate_limited(self, retry_after: float | None) -> None:
        self._blocked_until = max(self._blocked_until, self.clock.time() + (retry_after or 5.0))

    def add_listener(self, callback: Any) -> None:
        """``callback(item_data)`` for every event-log item (used for scheduled-task discovery)."""
        self._listeners.append(callback)

    @asynccontextmanager
    async def track(self, task_id: str) -> AsyncIterator[_Waiter]:
        waiter = _Waiter(self, task_id)
        self._waiters[task_id].add(waiter)
        try:
            yield waiter
        finally:
            self._waiters[task_id].discard(waiter)
            if not self._waiters[task_id]:
                del self._waiters[task_id]

    def wake(self, task_id: str) -> None:
        for waiter in list(self._waiters.get(task_id, ())):
            waiter.wake()

    def wake_all(self) -> None:
        for task_id in list(self._waiters):
            self.wake(task_id)

    async def run(self) -> None:
        """Hold the event-log subscription for the orchestrator's lifetime, re-subscribing when it drops."""
        failures = 0
        while True:
            try:
                async with self.client.events.subscribe(history_length=0) as items:
                    self._healthy = True
                    failures = 0
                    # events may have been missed while we were not subscribed: look at every task once
                    self.wake_all()
                    async for item in items:
                        if item.type != "item" or not isinstance(item.data, Mapping):
                            continue
                        data = item.data
                        task_id = data.get("taskId")
                        if task_id:
                            self.wake(str(task_id))
                        for listener in self._listeners:
                            await listener(data)
            except AuthenticationError as exc:
                # every other call fails too, and says so where it happens; keep trying, slowly
                self._log.error("event log subscription refused the credential", error=excerpt(str(exc)))
                failures = max(failures, 6)
            except OrchestratorError as exc:
                self._log.info("event log subscription lost; polling meanwhile", error=excerpt(str(exc)))
            self._healthy = False
            failures += 1
            self.wake_all()
            await self.clock.sleep(
                min(self._max_poll, 1.0 * 2 ** min(failures, 6)) * (0.5 + random.random() / 2)
            )


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
                except RateLimitedError as exc:
                    self._ctx.tracker.rate_limited(exc.retry_after)
                    waiter.failures += 1
                    execution = None
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
                    execution = None
                if execution is not None:
                    await self._note(execution)
                    if execution_finished(execution):
                        return await self._outcome(execution)
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
            self._execution_id = newest.id
            await self._ctx.store.update_job(self._record.id, state={"execution_id": newest.id})
        return newest

    async def _note(self, execution: TaskExecution) -> None:
        seen = (execution.id, execution.status, execution.outcome)
        if seen == self._last_seen:
            return
        self._last_seen = seen
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
            self._state["conversation_id"] = execution.conversation_id
            await self._ctx.store.update_job(
                self._record.id, state={"conversation_id": execution.conversation_id}
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
