"""The event log: ``task.interact`` (started), ``task.interact.completed`` (success or failure),
``task.interact.aborted`` (canceled, killed, no bot) and ``task.interact.skipped`` items, kept as records and
pushed live to ``/event/log/subscribe``; listed by ``/event/log/list``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._body import read_body
from ._channel_api import history_length, subscription
from ._core import Core, core_of
from ._lists import ListQuery, id_filter, list_response, select
from ._wire import Frame

__all__ = ["EVENT_TYPES", "EventLog", "routes"]

EVENT_TYPES = ("task.interact", "task.interact.completed", "task.interact.aborted", "task.interact.skipped")
_CHANNEL = "\0eventlog"
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
        record: dict[str, Any] = {
            "id": core.state.ids(),
            "type": type,
            "createdAt": core.now_ms(),
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
        core.hub.publish(_CHANNEL, Frame("item", record), now=core.clock.time(), keep=False)
        return record


async def subscribe(request: Request) -> Response:
    """``POST /event/log/subscribe {historyLength?}``: the last N items, then live ones."""
    body = await read_body(request)
    count = history_length(body)
    stored = list(core_of(request).state.events)[-count:] if count else []
    prefix = [Frame("item", record) for record in stored]
    return subscription(request, _CHANNEL, history=0, prefix=prefix)


async def list_events(request: Request) -> Response:
    """``GET /event/log/list``: ``{items, cursor}``; filters ``taskId``, ``type`` (comma-separated)."""
    query = ListQuery.from_request(request)
    core = core_of(request)
    items = select(
        core.state.events, query, [id_filter(request, "taskId", "taskId"), id_filter(request, "type", "type")]
    )
    return list_response(request, items, query)


def routes() -> list[BaseRoute]:
    return [
        Route("/event/log/subscribe", subscribe, methods=["POST"]),
        Route("/event/log/list", list_events, methods=["GET"]),
    ]
