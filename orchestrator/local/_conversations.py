"""Conversation resources: create/fetch/list/update/delete, their messages, and the conversation monitor."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._body import MESSAGE_TYPES, Body, read_body, validate_messages
from ._channel_api import history_length, subscription
from ._core import Core, core_of, monitor_channel
from ._errors import bad_request
from ._lists import ListQuery, id_filter, list_response, select
from ._services import services_of
from ._wire import json_response

__all__ = ["routes"]

_STRINGS = ("name", "description", "contactId", "spaceId", "taskId")


def _apply(core: Core, record: dict[str, Any], body: Body, *, update: bool) -> None:
    for key in _STRINGS:
        if body.text(key) is not None:
            record[key] = body.data[key]
    if body.mapping("meta") is not None:
        record["meta"] = body.data["meta"]
    bot = body.bot_config()
    if "botId" in bot:
        core.state.bots.require(bot["botId"])
    record.update(bot)
    if update and body.has("expiresAt") and body.data["expiresAt"] is None:
        record.pop("expiresAt", None)
    elif (expires := body.integer("expiresAt", minimum=0)) is not None:
        record["expiresAt"] = expires


def conversation(request: Request) -> dict[str, Any]:
    """The conversation named by the path, or 404."""
    return core_of(request).state.conversations.require(str(request.path_params["conversation_id"]))


async def create(request: Request) -> Response:
    core = core_of(request)
    body = await read_body(request)
    messages = validate_messages(body.data["messages"]) if body.data.get("messages") is not None else []
    now = core.now_ms()
    record: dict[str, Any] = {"id": core.state.ids(), "createdAt": now, "updatedAt": now}
    _apply(core, record, body, update=False)
    core.state.conversations.put(record)
    services_of(request).scheduler.watch_expiry("conversation", record)
    answer: dict[str, Any] = {"id": record["id"]}
    if messages:
        stored = [core.add_message(record["id"], m["type"], m["text"], meta=m.get("meta")) for m in messages]
        answer["messages"] = [{"id": m["id"], "type": m["type"], "text": m["text"]} for m in stored]
    return json_response(answer)


async def fetch(request: Request) -> Response:
    return json_response(conversation(request))


async def list_conversations(request: Request) -> Response:
    query = ListQuery.from_request(request)
    core = core_of(request)
    checks = [id_filter(request, key, key) for key in ("botId", "taskId", "contactId")]
    return list_response(request, select(core.state.conversations, query, checks), query)


async def update(request: Request) -> Response:
    core = core_of(request)
    record = conversation(request)
    body = await read_body(request)
    _apply(core, record, body, update=True)
    record["updatedAt"] = core.now_ms()
    core.state.conversations.touch(record)
    services_of(request).scheduler.watch_expiry("conversation", record)
    return json_response({"id": record["id"]})


async def delete(request: Request) -> Response:
    core = core_of(request)
    record = conversation(request)
    core.state.conversations.delete(record["id"])
    core.forget_conversation(record["id"])
    return json_response({"id": record["id"]})


# -- messages -------------------------------------------------------------------------------------------


def _message(request: Request) -> tuple[str, dict[str, Any]]:
    conv = conversation(request)
    box = core_of(request).state.messages(conv["id"])
    return conv["id"], box.require(str(request.path_params["message_id"]))


def _message_fields(body: Body, record: dict[str, Any], *, required: bool) -> None:
    kind = body.text("type", required=required)
    if kind is not None:
        if kind not in MESSAGE_TYPES:
            raise bad_request(f"type {kind!r} is not one of {', '.join(sorted(MESSAGE_TYPES))}")
        record["type"] = kind
    text = body.text("text", required=required)
    if text is not None:
        record["text"] = text
    for key in ("name", "description"):
        if body.text(key) is not None:
            record[key] = body.data[key]
    if body.mapping("meta") is not None:
        record["meta"] = body.data["meta"]
    if body.array("entities") is not None:
        record["entities"] = body.data["entities"]


async def list_messages(request: Request) -> Response:
    query = ListQuery.from_request(request)
    conv = conversation(request)
    items = select(core_of(request).state.messages(conv["id"]), query)
    return list_response(request, items, query)


async def fetch_message(request: Request) -> Response:
    return json_response(_message(request)[1])


async def create_message(request: Request) -> Response:
    core = core_of(request)
    conv = conversation(request)
    body = await read_body(request)
    fields: dict[str, Any] = {}
    _message_fields(body, fields, required=True)
    meta = fields.pop("meta", None)
    record = core.add_message(conv["id"], fields.pop("type"), fields.pop("text"), meta=meta, **fields)
    return json_response({"id": record["id"], "entities": record.get("entities", [])})


async def update_message(request: Request) -> Response:
    core = core_of(request)
    conv_id, record = _message(request)
    body = await read_body(request)
    _message_fields(body, record, required=False)
    record["updatedAt"] = core.now_ms()
    core.state.messages(conv_id).touch(record)
    return json_response({"id": record["id"]})


async def delete_message(request: Request) -> Response:
    core = core_of(request)
    conv_id, record = _message(request)
    core.state.messages(conv_id).delete(record["id"])
    return json_response({"id": record["id"]})


async def monitor(request: Request) -> Response:
    """``POST /conversation/{id}/channel/subscribe``: the conversation's engine events (last 100 kept)."""
    conv = conversation(request)
    body = await read_body(request)
    count = history_length(body)
    return subscription(request, monitor_channel(conv["id"]), history=count, history_limit=100)


def routes() -> list[BaseRoute]:
    base = "/conversation/{conversation_id}"
    message = base + "/message/{message_id}"
    return [
        Route("/conversation/create", create, methods=["POST"]),
        Route("/conversation/list", list_conversations, methods=["GET"]),
        Route(base + "/fetch", fetch, methods=["GET"]),
        Route(base + "/update", update, methods=["POST"]),
        Route(base + "/delete", delete, methods=["POST"]),
        Route(base + "/message/list", list_messages, methods=["GET"]),
        Route(base + "/message/create", create_message, methods=["POST"]),
        Route(message + "/fetch", fetch_message, methods=["GET"]),
        Route(message + "/update", update_message, methods=["POST"]),
        Route(message + "/delete", delete_message, methods=["POST"]),
        Route(base + "/channel/subscribe", monitor, methods=["POST"]),
    ]
