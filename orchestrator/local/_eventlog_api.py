"""The event log's routes: ``POST /event/log/subscribe`` and ``GET /event/log/list`` (records: :mod:`._eventlog`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._body import read_body
from ._channel_api import history_length, subscription
from ._core import core_of
from ._eventlog import CHANNEL
from ._lists import ListQuery, id_filter, list_response, select
from ._wire import Frame

__all__ = ["routes"]


async def subscribe(request: Request) -> Response:
    """``POST /event/log/subscribe {historyLength?}``: the last N items, then live ones."""
    body = await read_body(request)
    count = history_length(body)
    core = core_of(request)
    stored = list(core.state.events)[-count:] if count else []
    prefix = [Frame("item", record) for record in stored]
    # no leading nop by default (reference §9)
    return subscription(request, CHANNEL, history=0, prefix=prefix, nop=core.settings.subscribe_nop == "all")


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
