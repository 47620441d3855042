"""Bot endpoints (reference §8): the agent configuration that conversations, calls and tasks name."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._body import Body, read_body
from ._core import core_of
from ._lists import ListQuery, list_response, select
from ._wire import json_response

__all__ = ["routes"]

_STRINGS = (
    "name",
    "description",
    "alias",
    "backstory",
    "model",
    "datasetId",
    "skillsetId",
    "visibility",
    "blueprintId",
)
_FLAGS = ("privacy", "moderation")


def _apply(bot: dict[str, Any], body: Body) -> None:
    for key in _STRINGS:
        if body.text(key) is not None:
            bot[key] = body.data[key]
    for key in _FLAGS:
        if body.flag(key) is not None:
            bot[key] = body.data[key]
    if body.mapping("meta") is not None:
        bot["meta"] = body.data["meta"]


def _bot(request: Request) -> dict[str, Any]:
    return core_of(request).state.bots.require(str(request.path_params["bot_id"]))


async def create(request: Request) -> Response:
    core = core_of(request)
    body = await read_body(request)
    now = core.now_ms()
    bot: dict[str, Any] = {"id": core.state.ids(), "createdAt": now, "updatedAt": now}
    _apply(bot, body)
    core.state.bots.put(bot)
    return json_response({"id": bot["id"]})


async def fetch(request: Request) -> Response:
    return json_response(_bot(request))


async def list_bots(request: Request) -> Response:
    query = ListQuery.from_request(request)
    return list_response(request, select(core_of(request).state.bots, query), query)


async def update(request: Request) -> Response:
    core = core_of(request)
    bot = _bot(request)
    body = await read_body(request)
    _apply(bot, body)
    bot["updatedAt"] = core.now_ms()
    core.state.bots.touch(bot)
    return json_response({"id": bot["id"]})


async def delete(request: Request) -> Response:
    bot = _bot(request)
    core_of(request).state.bots.delete(bot["id"])
    return json_response({"id": bot["id"]})


def routes() -> list[BaseRoute]:
    base = "/bot/{bot_id}"
    return [
        Route("/bot/create", create, methods=["POST"]),
        Route("/bot/list", list_bots, methods=["GET"]),
        Route(base + "/fetch", fetch, methods=["GET"]),
        Route(base + "/update", update, methods=["POST"]),
        Route(base + "/delete", delete, methods=["POST"]),
    ]
