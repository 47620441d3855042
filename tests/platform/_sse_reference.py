"""The SSE decoder the package used before its own: httpx-sse's line and field decoders plus the item rules.

Kept as the reference that ``SSEDecoder`` is fuzzed against (tests/platform/test_sse.py) and benchmarked
beside (bench/stream_decode.py): the two must yield the same events, and raise on the same inputs.
"""

from __future__ import annotations

import json
from typing import Any

from httpx_sse._decoders import SSEDecoder as _SSEFieldDecoder
from httpx_sse._decoders import SSELineDecoder as _SSELineDecoder

from orchestrator import StreamProtocolError
from orchestrator.platform import StreamEvent
from orchestrator.platform._decoders import malformed
from orchestrator.platform._events import ms_or_none
from orchestrator.platform._sse import _is_whole_item

__all__ = ["ReferenceSSEDecoder"]


def _reference_item(event: str | None, data: str, *, channel_items: bool) -> StreamEvent | None:
    if not data.strip():
        if event:
            return StreamEvent(event, None, None, {"type": event})
        return None
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise malformed(data, f"SSE data is not valid JSON ({exc})") from exc
    if event is None:
        if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
            raise malformed(data, "SSE data without an event name must be an object with a string 'type'")
        return StreamEvent(parsed["type"], parsed.get("data"), ms_or_none(parsed.get("createdAt")), parsed)
    if _is_whole_item(parsed, event, channel_items):
        return StreamEvent(event, parsed.get("data"), ms_or_none(parsed.get("createdAt")), parsed)
    return StreamEvent(event, parsed, None, {"type": event, "data": parsed})


class ReferenceSSEDecoder:
    """httpx-sse underneath; same interface as :class:`orchestrator.platform.SSEDecoder`."""

    def __init__(self, *, channel_items: bool = False) -> None:
        self._channel_items = channel_items
        self._lines = _SSELineDecoder()
        self._fields = _SSEFieldDecoder()
        self._event_seen = False
        self._error: StreamProtocolError | None = None

    def feed(self, text: str) -> list[StreamEvent]:
        if self._error is not None:
            raise self._error
        return self._process(self._lines.decode(text)) if text else []

    def flush(self) -> list[StreamEvent]:
        if self._error is not None:
            raise self._error
        lines = self._lines.flush()
        lines.append("")
        return self._process(lines)

    def _process(self, lines: list[str]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        try:
            for line in lines:
                if line.startswith("event") and line.partition(":")[0] == "event":
                    self._event_seen = True
                message: Any = self._fields.decode(line)
                if line:
                    continue
                if message is not None:
                    name = message.event if self._event_seen else None
                    item = _reference_item(name, message.data, channel_items=self._channel_items)
                    if item is not None:
                        events.append(item)
                self._event_seen = False
        except StreamProtocolError as exc:
            self._error = exc
            if not events:
                raise
        return events
