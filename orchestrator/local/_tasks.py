"""Task endpoints: create/update/fetch/list/delete, trigger, cancel, executions, and the workflow stream."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._body import Body, read_body
from ._channel_api import history_length, subscription
from ._core import Core, core_of, workflow_channel
from ._errors import bad_request
from ._lists import ListQuery, id_filter, list_response, select
from ._scheduler import validate_schedule, zone
from ._services import services_of
from ._wire import json_response

__all__ = ["routes"]

_STRINGS = ("name", "description", "contactId", "blueprintId")
_MIN_MAX_TIME = 1_000
_MAX_MAX_TIME = 90 * 86_400_000


def _apply(core: Core, task: dict[str, Any], body: Body, *, update: bool) -> None:
    for key in _STRINGS:
        if body.text(key) is not None:
            task[key] = body.data[key]
    if body.mapping("meta") is not None:
        task["meta"] = body.data["meta"]
    if (bot_id := body.text("botId")) is not None:
        core.state.bots.require(bot_id)
        task["botId"] = bot_id
    elif update and body.has("botId"):
        task.pop("botId", None)
    if update and body.has("schedule") and body.data["schedule"] is None:
        task.pop("schedule", None)
    elif (schedule := body.text("schedule")) is not None:
        try:
            validate_schedule(schedule)
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
        task["schedule"] = schedule
    if (timezone := body.text("timezone")) is not None:
        try:
            zone(timezone)
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
        task["timezone"] = timezone
    max_time = body.integer("maxTime", minimum=1)
    if max_time is not None or not update:
        default = int(core.settings.default_max_time * 1000)
        task["maxTime"] = min(max(max_time or default, _MIN_MAX_TIME), _MAX_MAX_TIME)
    for key, minimum in (("maxIterations", 1), ("maxCalls", 0), ("sessionDuration", 0)):
        if (number := body.integer(key, minimum=minimum)) is not None:
            task[key] = number
    if update and body.has("expiresAt") and body.data["expiresAt"] is None:
        task.pop("expiresAt", None)
    elif (expires := body.integer("expiresAt", minimum=0)) is not None:
        task["expiresAt"] = expires


def _task(request: Request) -> dict[str, Any]:
    return core_of(request).state.tasks.require(str(request.path_params["task_id"]))


async def create(request: Request) -> Response:
    core = core_of(request)
    body = await read_body(request)
    now = core.now_ms()
    task: dict[str, Any] = {
        "id": core.state.ids(),
        "createdAt": now,
        "updatedAt": now,
        "status": "idle",
        "outcome": "pending",
    }
    _apply(core, task, body, update=False)
    core.state.tasks.put(task)
    services_of(request).scheduler.plan(task)
    return json_response({"id": task["id"]})


async def update(request: Request) -> Response:
    core = core_of(request)
    task = _task(request)
    body = await read_body(request)
    _apply(core, task, body, update=True)
    task["updatedAt"] = core.now_ms()
    services_of(request).scheduler.plan(task)
    return json_response({"id": task["id"]})


async def fetch(request: Request) -> Response:
    return json_response(_task(request))


async def list_tasks(request: Request) -> Response:
    query = ListQuery.from_request(request)
    checks = [id_filter(request, key, key) for key in ("status", "botId", "contactId", "blueprintId")]
    return list_response(request, select(core_of(request).state.tasks, query, checks), query)


async def delete(request: Request) -> Response:
    task = _task(request)
    services_of(request).tasks.delete(task["id"])
    return json_response({"id": task["id"]})


async def trigger(request: Request) -> Response:
    """``POST /task/{id}/trigger``: run now; a no-op (``task.interact.skipped``) while it runs."""
    task = _task(request)
    await read_body(request)
    services_of(request).tasks.trigger(task["id"])
    return json_response({"id": task["id"]})


async def cancel(request: Request) -> Response:
    task = _task(request)
    await read_body(request)
    services_of(request).tasks.cancel(task["id"])
    return json_response({"id": task["id"]})


async def list_executions(request: Request) -> Response:
    query = ListQuery.from_request(request)
    task = _task(request)
    core = core_of(request)
    checks = [lambda e: e["taskId"] == task["id"], id_filter(request, "status", "status")]
    return list_response(request, select(core.state.executions, query, checks), query)


async def cancel_execution(request: Request) -> Response:
    task = _task(request)
    tasks = services_of(request).tasks
    execution = tasks.require_execution(task["id"], str(request.path_params["execution_id"]))
    await read_body(request)
    tasks.cancel(task["id"], execution["id"])
    return json_response({"id": execution["id"], "taskId": task["id"]})


async def subscribe(request: Request) -> Response:
    """``POST /task/{id}/subscribe {historyLength?}``: ``{type, createdAt, data}`` items, across runs."""
    task = _task(request)
    body = await read_body(request)
    count = history_length(body, maximum=1000)
    # no leading nop by default: the reference gives one only to channel and conversation-monitor subscribes (§9)
    nop = core_of(request).settings.subscribe_nop == "all"
    return subscription(request, workflow_channel(task["id"]), history=count, history_limit=1000, nop=nop)


def routes() -> list[BaseRoute]:
    base = "/task/{task_id}"
    return [
        Route("/task/create", create, methods=["POST"]),
        Route("/task/list", list_tasks, methods=["GET"]),
        Route(base + "/fetch", fetch, methods=["GET"]),
        Route(base + "/update", update, methods=["POST"]),
        Route(base + "/delete", delete, methods=["POST"]),
        Route(base + "/trigger", trigger, methods=["POST"]),
        Route(base + "/cancel", cancel, methods=["POST"]),
        Route(base + "/execution/list", list_executions, methods=["GET"]),
        Route(base + "/execution/{execution_id}/cancel", cancel_execution, methods=["POST"]),
        Route(base + "/subscribe", subscribe, methods=["POST"]),
    ]
