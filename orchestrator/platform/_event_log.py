"""``client.events``: the account's event log, listed or streamed (reference §4.5)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from ._events import StreamEvent
from ._http import HttpCore
from ._pagination import pages
from ._records import EventLogItem
from ._wire import StreamFormat, history_body

__all__ = ["Events"]


class Events:
    """Event log endpoints. Reached as ``client.events``."""

    def __init__(self, http: HttpCore) -> None:
        self._http = http

    def subscribe(
        self, *, history_length: int | None = None, format: StreamFormat = "jsonl"
    ) -> AbstractAsyncContextManager[AsyncIterator[StreamEvent]]:
        """Stream the event log: items ``{type: "item", data: {id, type, createdAt, taskId?, ...}}``.

        ``EventLogItem.from_wire(event.data)`` types an item. Opening is retried; leave the ``async with`` to
        stop.
        """
        return self._http.stream(
            "/event/log/subscribe", history_body(history_length), format=format, retry=True
        )

    async def list(
        self, *, take: int | None = None, order: str | None = None, meta: Mapping[str, Any] | None = None
    ) -> AsyncIterator[EventLogItem]:
        """Every event log entry, page after page."""
        async for item in pages(self._http, "/event/log/list", {"order": order, "meta": meta}, take=take):
            yield EventLogItem.from_wire(item)
