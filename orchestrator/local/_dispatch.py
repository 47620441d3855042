"""Dispatch: ``POST /conversation/dispatch`` and ``/conversation/{id}/dispatch`` -> ``{channelId}`` at once.

The run's every event ``{type, data}`` is published to the channel as ``{type:"message", data:<event>}`` and
kept there (last 1000, one hour). The ``channelId`` is the dedup key: a second dispatch with an id already
used within the dedup window (the run, then one hour) returns that id and starts nothing. Runs are killed at
the ceiling (``Settings.ceiling`` from the run's start), silently or with a ``TIMEOUT`` error event.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._body import Body, read_body
from ._channel_api import check_channel_id
from ._completions import agent_request
from ._conversations import conversation
from ._core import core_of
from ._runs import RunSpec
from ._services import services_of
from ._wire import json_response

__all__ = ["routes"]

_MIN_CHANNEL = 24


def _channel_id(body: Body) -> str | None:
    ident = body.text("channelId")
    return None if ident is None else check_channel_id(ident, minimum=_MIN_CHANNEL)


async def dispatch(request: Request) -> Response:
    """``POST /conversation/dispatch``: a stateless run whose events go to the channel."""
    core = core_of(request)
    body = await read_body(request)
    channel_id = _channel_id(body)
    spec = RunSpec(agent_request(request, body, kind="dispatch"))
    core.require_running()
    return json_response({"channelId": services_of(request).dispatches.start(channel_id, spec)})


async def dispatch_stateful(request: Request) -> Response:
    """``POST /conversation/{id}/dispatch {text?}``: appends the user message, then the bot reply."""
    core = core_of(request)
    record = conversation(request)
    body = await read_body(request)
    channel_id = _channel_id(body)
    spec = RunSpec(
        agent_request(request, body, kind="dispatch", record=record),
        conversation_id=record["id"],
        user_text=body.text("text"),
    )
    core.require_running()
    return json_response({"channelId": services_of(request).dispatches.start(channel_id, spec)})


def routes() -> list[BaseRoute]:
    return [
        Route("/conversation/dispatch", dispatch, methods=["POST"]),
        Route("/conversation/{conversation_id}/dispatch", dispatch_stateful, methods=["POST"]),
    ]
