"""``client.tasks``: tasks, their executions and their workflow events (reference §4)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from ._events import StreamEvent
from ._http import HttpCore
from ._pagination import pages
from ._records import Task, TaskExecution
from ._wire import StreamFormat, history_body, object_body, returned_id, segment

__all__ = ["Tasks"]


class Tasks:
    """Task endpoints. Reached as ``client.tasks``."""

    def __init__(self, http: HttpCore) -> None:
        self._http = http

    async def create(self, body: Mapping[str, Any]) -> str:
        """Create a task (``name``, ``description``, ``botId``, ``schedule``, ``maxTime``, ``meta``, ...).

        Never retried (the platform has no idempotency key for it): tag the task with a ``meta`` key and look
        it up with ``list(meta=...)`` to reconcile after a failure.

        Returns:
            The task id.
        """
        return returned_id(
            await self._http.call("POST", "/task/create", body=object_body(body)), what="task create"
        )

    async def update(self, task_id: str, body: Mapping[str, Any]) -> str:
        """Update a task; returns its id. Retried: setting the same fields twice is harmless."""
        tid = segment(task_id, "task_id")
        answer = await self._http.call("POST", f"/task/{tid}/update", body=object_body(body), retry=True)
        return returned_id(answer, task_id, what="task update")

    async def fetch(self, task_id: str) -> Task:
        """Fetch one task.

        Raises:
            NotFoundError: no task has that id.
        """
        tid = segment(task_id, "task_id")
        return Task.from_wire(await self._http.call("GET", f"/task/{tid}/fetch", retry=True))

    async def list(
        self,
        *,
        meta: Mapping[str, Any] | None = None,
        status: str | None = None,
        bot_id: str | None = None,
        take: int | None = None,
        order: str | None = None,
    ) -> AsyncIterator[Task]:
        """Every task, page after page, filtered by ``meta`` (``meta.k=v``), ``status`` and ``bot_id``."""
        query = {"meta": meta, "status": status, "botId": bot_id, "order": order}
        async for item in pages(self._http, "/task/list", query, take=take):
            yield Task.from_wire(item)

    async def delete(self, task_id: str) -> str:
        """Delete a task; returns its id. Retried; a 404 on a retry means the earlier attempt deleted it."""
        tid = segment(task_id, "task_id")
        answer = await self._http.call("POST", f"/task/{tid}/delete", retry=True, done_if_missing=True)
        return returned_id(answer, task_id, what="task delete")

    async def trigger(self, task_id: str) -> str:
        """Start a run now; returns the task id (the platform gives no execution id). Never retried.

        A task that is already running is not started again: the platform skips the trigger.
        """
        tid = segment(task_id, "task_id")
        return returned_id(
            await self._http.call("POST", f"/task/{tid}/trigger"), task_id, what="task trigger"
        )

    async def cancel(self, task_id: str) -> str:
        """Cancel the task's running execution; returns the task id. Retried: cancelling twice is harmless."""
        tid = segment(task_id, "task_id")
        answer = await self._http.call("POST", f"/task/{tid}/cancel", retry=True)
        return returned_id(answer, task_id, what="task cancel")

    async def executions(
        self,
        task_id: str,
        *,
        status: str | None = None,
        meta: Mapping[str, Any] | None = None,
        take: int | None = None,
        order: str | None = None,
    ) -> AsyncIterator[TaskExecution]:
        """Every execution of a task, page after page (``order="desc", take=1`` for the latest run first)."""
        tid = segment(task_id, "task_id")
        query = {"status": status, "meta": meta, "order": order}
        async for item in pages(self._http, f"/task/{tid}/execution/list", query, take=take):
            yield TaskExecution.from_wire(item)

    async def cancel_execution(self, task_id: str, execution_id: str) -> str:
        """Cancel one execution; returns its id. Retried."""
        tid = segment(task_id, "task_id")
        eid = segment(execution_id, "execution_id")
        answer = await self._http.call("POST", f"/task/{tid}/execution/{eid}/cancel", retry=True)
        return returned_id(answer, execution_id, what="execution cancel")

    def subscribe(
        self, task_id: str, *, history_length: int | None = None, format: StreamFormat = "jsonl"
    ) -> AbstractAsyncContextManager[AsyncIterator[StreamEvent]]:
        """Stream a task's workflow events (``operationBegin``, ``operationEnd``, ``error``) across its runs.

        Opening is retried. The stream stays open: leave the ``async with`` to stop.
        """
        tid = segment(task_id, "task_id")
        return self._http.stream(
            f"/task/{tid}/subscribe", history_body(history_length), format=format, retry=True
        )
