"""The event-log fan-out: one subscription per orchestrator tells all in-flight tasks apart.

:class:`TaskTracker` holds that subscription and wakes the supervisor of the task an event names. Execution-list
polling is the fallback: each tracked task is re-checked after an interval that is long while the event log is
healthy and backs off while it is not, and every poll takes a permit from one shared rate limiter that also obeys the
platform's ``Retry-After`` on 429 (every ``*/list`` call counts against a polling rate limit).
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc

from .._clock import Clock, move_on_after
from .._errors import AuthenticationError, OrchestratorError
from ..platform import PlatformClient, TaskExecution
from ._log import excerpt, log

__all__ = ["TaskTracker", "execution_finished"]


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
        async with anyio.create_task_group() as tg:
            await self._subscribe(tg)

    async def _deliver(self, listener: Any, data: Mapping[str, Any], tg: anyio.abc.TaskGroup) -> None:
        """``listener(data)``; one that fails (the store refusing a write) is run again later, in the background:
        the item is not taken as handled, and the subscription stays up for everyone else."""
        try:
            await listener(data)
        except OrchestratorError as exc:
            self._log.info("an event-log listener failed; retrying it", error=excerpt(str(exc)))
            tg.start_soon(self._redeliver, listener, data)

    async def _redeliver(self, listener: Any, data: Mapping[str, Any]) -> None:
        for attempt in itertools.count():
            await self.clock.sleep(min(self._max_poll, self._min_poll * 2.0 ** min(attempt, 8)))
            try:
                await listener(data)
                return
            except OrchestratorError as exc:
                self._log.info(
                    "an event-log listener failed again", error=excerpt(str(exc)), attempt=attempt + 2
                )

    async def _subscribe(self, tg: anyio.abc.TaskGroup) -> None:
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
                            await self._deliver(listener, data, tg)
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
