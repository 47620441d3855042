"""The event log: ``task.interact`` (started), ``task.interact.completed`` (success or failure),
``task.interact.aborted`` (canceled, killed, no bot) and ``task.interact.skipped`` items, kept as records and
pushed live to ``/event/log/subscribe``; listed by ``/event/log/list`` (routes in :mod:`._eventlog_api`)."""

from __future__ import annotations

from typing import Any

from ._core import Core
from ._wire import Frame

__all__ = ["CHANNEL", "EVENT_TYPES", "EventLog"]

EVENT_TYPES = ("task.interact", "task.interact.completed", "task.interact.aborted", "task.interact.skipped")
CHANNEL = "\0eventlog"
_KEEP = 10_000


class EventLog:
    """Appends event records (the last 10,000 are kept) and publishes each as an ``item``."""

    def __init__(self, core: Core) -> None:
        self._core = core

    def append(
        self,
        type: str,
        *,
        task_id: str,
        execution_id: str | None = None,
        conversation_id: str | None = None,
        bot_id: str | None = None,
    ) -> dict[str, Any]:
        core = self._core
        now = core.now_ms()
        record: dict[str, Any] = {
            "id": core.state.ids(),
            "type": type,
            "createdAt": now,
            "updatedAt": now,  # the Node SDK's types require it (reference §9)
            "taskId": task_id,
        }
        for key, value in (
            ("executionId", execution_id),
            ("conversationId", conversation_id),
            ("botId", bot_id),
        ):
            if value is not None:
                record[key] = value
        events = core.state.events
        events.put(record)
        while len(events) > _KEEP:
            events.delete(next(iter(events.items)))
        core.hub.publish(CHANNEL, Frame("item", record), now=core.clock.time(), keep=False)
        return record
