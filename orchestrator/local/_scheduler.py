"""The scheduler: fires task schedules at ``nextRunAt`` and deletes tasks and conversations at ``expiresAt``.

One task, one heap of deadlines, one clock timer for the earliest: no polling. Entries are checked when they
come due against the record's current value, so an update simply pushes a new entry and the old one is
ignored.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

import anyio
import structlog

from ._core import Core
from ._schedules import next_run

__all__ = ["Scheduler"]

log = structlog.get_logger(__name__)


class Scheduler:
    """Runs in the platform's task group while the platform is up."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self._heap: list[tuple[float, int, str, str, int]] = []
        self._seq = itertools.count()
        self._wake: anyio.Event | None = None

    def _push(self, when_ms: int, action: str, ident: str) -> None:
        heapq.heappush(self._heap, (when_ms / 1000, next(self._seq), action, ident, when_ms))
        if self._wake is not None:
            self._wake.set()

    def plan(self, task: dict[str, Any], *, after: float | None = None) -> None:
        """Recompute the task's ``nextRunAt`` from its schedule (after now, or ``after``) and watch it."""
        now = self._core.clock.time() if after is None else after
        try:
            when = next_run(task.get("schedule"), task.get("timezone"), now)
        except ValueError as exc:  # a zone that disappeared from tzdata since the task was stored
            log.warning("local.schedule_invalid", task=task["id"], error=str(exc))
            when = None
        if when is None:
            task.pop("nextRunAt", None)
        else:
            task["nextRunAt"] = int(when * 1000)
            self._push(task["nextRunAt"], "run", task["id"])
        self._core.state.tasks.touch(task)
        self.watch_expiry("task", task)

    def restore(self) -> None:
        """Watch every stored task and conversation (after the state was read back)."""
        for task in list(self._core.state.tasks):
            self.plan(task)
        for conversation in self._core.state.conversations:
            self.watch_expiry("conversation", conversation)

    def watch_expiry(self, kind: str, record: dict[str, Any]) -> None:
        """Delete ``record`` (a task or a conversation) when its ``expiresAt`` comes."""
        expires = record.get("expiresAt")
        if isinstance(expires, int | float):
            self._push(int(expires), "expire-" + kind, record["id"])

    async def run(self) -> None:
        clock = self._core.clock
        while True:
            wake = self._wake = anyio.Event()
            now = clock.time()
            while self._heap and self._heap[0][0] <= now:
                _, _, action, ident, when_ms = heapq.heappop(self._heap)
                self._fire(action, ident, when_ms)
            timer = clock.call_at(self._heap[0][0], wake.set) if self._heap else None
            try:
                await wake.wait()
            finally:
                if timer is not None:
                    timer.cancel()

    def _fire(self, action: str, ident: str, when_ms: int) -> None:
        state = self._core.state
        if action == "run":
            task = state.tasks.get(ident)
            if task is None or task.get("nextRunAt") != when_ms:
                return
            self._core.tasks.trigger(ident)
            self.plan(task, after=when_ms / 1000)
        elif action == "expire-task":
            task = state.tasks.get(ident)
            if task is not None and task.get("expiresAt") == when_ms:
                self._core.tasks.delete(ident)
        elif action == "expire-conversation":
            conversation = state.conversations.get(ident)
            if conversation is not None and conversation.get("expiresAt") == when_ms:
                state.conversations.delete(ident)
                self._core.forget_conversation(ident)
