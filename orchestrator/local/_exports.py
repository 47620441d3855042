"""Export endpoints: ``GET /task/export`` and ``GET /event/log/export`` (reference §4.1, §4.5, §9).

Both page like the lists (``cursor``, ``take``, ``order``, ``meta.*``): JSON ``{items, cursor}``, or every item
as ``{type:"item", data}`` frames in JSONL / SSE. Task export items are the task's definition only (no
``status``, ``outcome``, run times, ``blueprintId`` or ``expiresAt``) and also come as ``text/csv``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._core import core_of
from ._lists import ListQuery, id_filter, list_response, select

__all__ = ["TASK_EXPORT_FIELDS", "routes", "task_export_csv"]

TASK_EXPORT_FIELDS = (
    "id",
    "createdAt",
    "updatedAt",
    "name",
    "description",
    "meta",
    "botId",
    "contactId",
    "schedule",
    "timezone",
    "maxTime",
    "maxIterations",
    "sessionDuration",
)


def _task_item(task: dict[str, Any]) -> dict[str, Any]:
    return {key: task[key] for key in TASK_EXPORT_FIELDS if key in task}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list | bool):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def task_export_csv(items: list[dict[str, Any]]) -> Response:
    """Task export items as ``text/csv``: a header row of :data:`TASK_EXPORT_FIELDS`, objects as JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TASK_EXPORT_FIELDS)
    for item in items:
        writer.writerow([_cell(item.get(key)) for key in TASK_EXPORT_FIELDS])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")


async def export_tasks(request: Request) -> Response:
    """``GET /task/export``: the tasks' definitions, as JSON pages, streamed items or CSV (``Accept: text/csv``)."""
    query = ListQuery.from_request(request)
    items = [_task_item(t) for t in select(core_of(request).state.tasks, query)]
    if "text/csv" in request.headers.get("accept", "").lower():
        return task_export_csv(items[: query.take] if query.take is not None else items)
    return list_response(request, items, query)


async def export_events(request: Request) -> Response:
    """``GET /event/log/export``: event-log items, as JSON pages or streamed items; filters as the list's."""
    query = ListQuery.from_request(request)
    checks = [id_filter(request, "taskId", "taskId"), id_filter(request, "type", "type")]
    return list_response(request, select(core_of(request).state.events, query, checks), query)


def routes() -> list[BaseRoute]:
    return [
        Route("/task/export", export_tasks, methods=["GET"]),
        Route("/event/log/export", export_events, methods=["GET"]),
    ]
