"""Schedules and the scheduler: fires task schedules at ``nextRunAt`` and deletes tasks and conversations at
``expiresAt``.

A schedule is a cron expression (5 fields, or croniter's 6-field and ``@hourly``-style forms), one of the presets
``never, quarterhourly, halfhourly, hourly, daily, twicedaily, weekly, twiceweekly, monthly, twicemonthly``, or an
ISO-8601 date-time for a single run (naive = in the task's timezone), evaluated in the task's timezone with DST
respected: ``0 7 * * 1-5`` in ``Europe/London`` is 07:00 UTC in winter and 06:00 UTC in summer.

The scheduler is one task with one heap of deadlines and one clock timer for the earliest: no polling. Entries are
checked when they come due against the record's current value, so an update simply pushes a new entry and the old
one is ignored.
"""

from __future__ import annotations

import heapq
import itertools
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
import structlog
from croniter import croniter

from ._core import Core

__all__ = ["PRESETS", "DueTasks", "Scheduler", "next_run", "validate_schedule", "zone"]

log = structlog.get_logger(__name__)

PRESETS: dict[str, str | None] = {
    "never": None,
    "quarterhourly": "*/15 * * * *",
    "halfhourly": "*/30 * * * *",
    "hourly": "0 * * * *",
    "daily": "0 0 * * *",
    "twicedaily": "0 0,12 * * *",
    "weekly": "0 0 * * 0",
    "twiceweekly": "0 0 * * 0,3",
    "monthly": "0 0 1 * *",
    "twicemonthly": "0 0 1,15 * *",
}


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name`` (UTC when ``None``).

    Raises:
        ValueError: unknown zone.
    """
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"timezone {name!r} is not an IANA timezone name (e.g. 'Europe/London', 'UTC')"
        ) from exc


def _one_off(expression: str, tz: ZoneInfo) -> datetime | None:
    if not expression[:4].isdigit() or "-" not in expression:
        return None
    try:
        when = datetime.fromisoformat(expression.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=tz)


def validate_schedule(expression: str) -> None:
    """Raises ``ValueError`` saying what is wrong with ``expression``."""
    text = expression.strip()
    if text.lower() in PRESETS:
        return
    if _one_off(text, ZoneInfo("UTC")) is not None:
        return
    if not croniter.is_valid(text):
        presets = ", ".join(PRESETS)
        raise ValueError(
            f"schedule {expression!r} is not a cron expression (e.g. '0 7 * * 1-5'), "
            f"an ISO date-time, or a preset ({presets})"
        )


def next_run(expression: str | None, timezone: str | None, after: float) -> float | None:
    """The first run time strictly after ``after`` (epoch seconds), or ``None`` when there is none."""
    if not expression:
        return None
    text = expression.strip()
    cron = PRESETS.get(text.lower(), text)
    if cron is None:
        return None
    tz = zone(timezone)
    once = _one_off(cron, tz)
    if once is not None:
        return once.timestamp() if once.timestamp() > after else None
    start = datetime.fromtimestamp(after, tz)
    following = croniter(cron, start).get_next(datetime)
    return float(following.timestamp())


class DueTasks(Protocol):
    """What the scheduler does to a task when its time comes (the task runner, bound at composition)."""

    def trigger(self, task_id: str) -> None: ...

    def delete(self, task_id: str) -> None: ...


class Scheduler:
    """Runs in the platform's task group while the platform is up."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self._tasks: DueTasks | None = None
        self._heap: list[tuple[float, int, str, str, int]] = []
        self._seq = itertools.count()
        self._wake: anyio.Event | None = None

    def bind(self, tasks: DueTasks) -> None:
        """Hand the scheduler what runs and deletes due tasks (once, when the engines are composed)."""
        self._tasks = tasks

    @property
    def tasks(self) -> DueTasks:
        if self._tasks is None:
            raise RuntimeError(
                "the scheduler is not bound to a task runner: compose it with Services.compose"
            )
        return self._tasks

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
            self.tasks.trigger(ident)
            self.plan(task, after=when_ms / 1000)
        elif action == "expire-task":
            task = state.tasks.get(ident)
            if task is not None and task.get("expiresAt") == when_ms:
                self.tasks.delete(ident)
        elif action == "expire-conversation":
            conversation = state.conversations.get(ident)
            if conversation is not None and conversation.get("expiresAt") == when_ms:
                state.conversations.delete(ident)
                self._core.forget_conversation(ident)
