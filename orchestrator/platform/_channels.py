"""``client.channels``: subscribe to and publish on a channel (reference §3)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from .._errors import UsageError
from ._events import StreamEvent
from ._http import HttpCore
from ._wire import StreamFormat, history_body, segment

__all__ = ["Channels"]


class Channels:
    """Channel endpoints. Reached as ``client.channels``.

    Channels are scoped to the credential: subscribe and publish with the token that dispatched.
    """

    def __init__(self, http: HttpCore) -> None:
        self._http = http

    def subscribe(
        self, channel_id: str, *, history_length: int | None = None, format: StreamFormat = "jsonl"
    ) -> AbstractAsyncContextManager[AsyncIterator[StreamEvent]]:
        """Stream a channel's messages: items ``{type: "message", data: <published object>}``, plus ``nop``.

        On a dispatch channel the published objects are completion events: ``event.inner()`` unwraps them, and
        ``collect_completion(events)`` waits for the result. Opening is retried. The platform does not close
        the stream: leave the ``async with`` to stop.

        Args:
            channel_id: the channel.
            history_length: replay up to this many stored messages first (dispatch channels keep 1000, 1 h).
            format: ask for ``"jsonl"`` or ``"sse"``.
        """
        cid = segment(channel_id, "channel_id")
        return self._http.stream(
            f"/channel/{cid}/subscribe",
            history_body(history_length),
            format=format,
            retry=True,
            channel_items=True,
        )

    async def publish(self, channel_id: str, message: Mapping[str, Any]) -> None:
        """Publish ``message`` (sent as ``{"message": message}``); only current subscribers receive it.

        Never retried: a repeated publish would deliver the message twice.
        """
        cid = segment(channel_id, "channel_id")
        if not isinstance(message, Mapping):
            raise UsageError(
                f"message must be a mapping (the JSON object to publish), got {type(message).__name__}"
            )
        await self._http.call("POST", f"/channel/{cid}/publish", body={"message": dict(message)})
