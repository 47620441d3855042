"""The sans-IO server-sent-events decoder (``text/event-stream``): text in, :class:`StreamEvent` values out.

Our own, after the WHATWG event-stream rules (lines end at ``\\r\\n``, ``\\r`` or ``\\n``; ``field: value``;
``:`` starts a comment; a blank line dispatches the message), then the item rules of the wire protocol
(``event: <type>`` with ``data:`` holding the item's data, or ``data:`` holding the whole item). It makes exactly
the decisions httpx-sse's line and field decoders make (the test suite fuzzes the two against each other) at
about three times their speed: chunks are split with ``str.split``, the common fields are matched without
building a message object, and data is parsed with the C scanner of :mod:`json`.

Longer than 300 lines because the decoder's hot loop stays one function for speed, beside its memory bounds
(``max_line``, ``max_event``) and the item rules; splitting them would cost a call per line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from .._errors import InvalidArgument, StreamProtocolError
from ._decoders import malformed, scanner
from ._events import StreamEvent, ms_or_none

__all__ = ["SSEDecoder", "sse_item"]

# chat message types (reference §2.9): the data of a completion `message` event is a chat message
_MESSAGE_TYPES = frozenset(
    {"user", "bot", "context", "activity", "instruction", "backstory", "reasoning", "checkpoint"}
)


def _is_whole_item(parsed: Any, event: str, channel_items: bool) -> bool:
    if not isinstance(parsed, dict) or parsed.get("type") != event:
        return False
    if "data" not in parsed:
        return parsed.keys() <= {"type", "createdAt"}
    if channel_items and event == "message":
        # `event: message` + `data: {"type": "message", "data": X}` on a channel is ambiguous: the whole
        # item, or an item whose published object is a completion `message` event. Only in the latter case
        # is X a chat message ({type: "bot", text, ...}) rather than a published event.
        inner = parsed["data"]
        if isinstance(inner, Mapping) and inner.get("type") in _MESSAGE_TYPES and "data" not in inner:
            return False
    return True


def _parse(data: str, scan: Callable[[str, int], tuple[Any, int]]) -> Any:
    # the C scanner when the data is one JSON value and nothing else (the common case); json.loads otherwise,
    # which accepts surrounding whitespace and words the error
    try:
        parsed, end = scan(data, 0)
    except (StopIteration, ValueError, RecursionError):
        pass
    else:
        if end == len(data):
            return parsed
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise malformed(data, f"SSE data is not valid JSON ({exc})") from exc


def sse_item(
    event: str | None,
    data: str,
    *,
    channel_items: bool = False,
    _scan: Callable[[str, int], tuple[Any, int]] | None = None,
) -> StreamEvent | None:
    """The stream event one SSE message stands for (``None`` for a message that carries nothing).

    Args:
        event: the ``event:`` field, or ``None`` when the message had none.
        data: the ``data:`` lines, joined with ``\\n``.
        channel_items: the stream is a channel (items ``{type: "message", data: <published object>}``);
            settles the one ambiguous shape in favour of a wrapped completion ``message`` event.

    Raises:
        StreamProtocolError: the data is not JSON, or (without an event name) not an item with a string
            ``type``.
    """
    if not data or (data[0].isspace() and not data.strip()):
        if event:
            return StreamEvent(event, None, None, {"type": event})
        return None
    parsed = _parse(data, _SCAN if _scan is None else _scan)
    if event is None:
        if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
            raise malformed(data, "SSE data without an event name must be an object with a string 'type'")
        return StreamEvent(parsed["type"], parsed.get("data"), ms_or_none(parsed.get("createdAt")), parsed)
    if type(parsed) is dict and parsed.get("type") == event and _is_whole_item(parsed, event, channel_items):
        return StreamEvent(event, parsed.get("data"), ms_or_none(parsed.get("createdAt")), parsed)
    return StreamEvent(event, parsed, None, {"type": event, "data": parsed})


_SCAN = scanner()


class SSEDecoder:
    """Incremental decoder of a server-sent-events stream (``text/event-stream``).

    Accepts both item encodings: ``event: <type>`` + ``data: <json of the item's data>`` (what the local
    platform sends), and ``data: <json of the whole item>`` with or without an ``event:`` field. Comments,
    ``id:`` and ``retry:`` fields are ignored (beyond the event-stream rules on when a message is dispatched).
    A message still open at the end of the stream is delivered by :meth:`flush`. The carry between chunks is
    a list of pieces, so a line of megabytes arriving in small chunks costs linear time.

    Memory is bounded: a line held back waiting for its end longer than ``max_line``, or a message whose
    ``data:`` lines add up to more than ``max_event``, raises :class:`StreamProtocolError` (after the events
    before it are delivered), like :class:`JSONLDecoder` past its ``max_line``.

    Args:
        channel_items: see :func:`sse_item`.
        max_line: the longest incomplete line held back between chunks, in characters.
        max_event: the most data one message may carry (its ``data:`` lines together, one character counted
            for each line's end).
    """

    __slots__ = (
        "_channel_items",
        "_cr",
        "_data",
        "_data_size",
        "_error",
        "_event",
        "_event_seen",
        "_last_id",
        "_max_event",
        "_max_line",
        "_rest",
        "_rest_size",
        "_retry",
    )

    def __init__(
        self,
        *,
        channel_items: bool = False,
        max_line: int = 64 * 1024 * 1024,
        max_event: int = 64 * 1024 * 1024,
    ) -> None:
        for name, value in (("max_line", max_line), ("max_event", max_event)):
            if type(value) is not int or value < 1:
                raise InvalidArgument(
                    f"SSEDecoder({name}=...) takes a positive int (characters), got {value!r}"
                )
        self._channel_items = channel_items
        self._max_line = max_line
        self._max_event = max_event
        self._data_size = 0  # the characters of the open message's data lines
        self._rest: list[str] = []  # the incomplete line held back
        self._rest_size = 0  # its length
        self._cr = False  # the last chunk ended with "\r" (a "\n" may follow in the next)
        self._event = ""
        self._event_seen = False
        self._data: list[str] = []
        self._last_id = False  # a non-empty last event id is set (it outlives messages)
        self._retry = False  # a valid retry field was seen in this message
        self._error: StreamProtocolError | None = None

    @property
    def pending(self) -> int:
        """The length of the incomplete line held back, in characters."""
        return self._rest_size + self._cr

    def feed(self, text: str) -> list[StreamEvent]:
        """Decode a chunk of text; return the events of every message it completes.

        Raises:
            StreamProtocolError: a message's data is not what the wire protocol says (the events before it
                are returned first, the error by the next call).
        """
        if self._error is not None:
            raise self._error
        if not text:
            return []
        if self._cr:
            text = "\r" + text
            self._cr = False
        if text[-1] == "\r":
            self._cr = True
            text = text[:-1]
        if "\n" not in text and "\r" not in text:
            if text:
                self._rest.append(text)
                self._rest_size += len(text)
                if self._rest_size > self._max_line:
                    self._fail_line()
            return []
        if self._rest:
            self._rest.append(text)
            text = "".join(self._rest)
            self._rest.clear()
            self._rest_size = 0
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        rest = lines.pop()
        if rest:
            self._rest.append(rest)
            self._rest_size = len(rest)
        events = self._process(lines)
        if self._error is None and len(rest) > self._max_line:
            self._fail_line(events)
        return events

    def _fail_line(self, events: list[StreamEvent] | None = None) -> None:
        """Past ``max_line`` held back: fail the decoder (raising now unless ``events`` are to be delivered)."""
        start = "".join(self._rest)[:80]
        self._rest.clear()
        self._rest_size = 0
        self._cr = False
        self._error = malformed(start, f"an SSE line of over {self._max_line} characters without its end")
        if not events:
            raise self._error

    def flush(self) -> list[StreamEvent]:
        """Deliver the message still open at the end of the stream, if any; reset the line carry."""
        if self._error is not None:
            raise self._error
        lines = []
        if self._rest or self._cr:
            lines.append("".join(self._rest))
            self._rest.clear()
            self._rest_size = 0
            self._cr = False
        lines.append("")
        return self._process(lines)

    def _process(self, lines: list[str]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        try:
            self._process_into(lines, events)
        except StreamProtocolError as exc:
            self._error = exc
            if not events:
                raise
        return events

    def _process_into(self, lines: list[str], events: list[StreamEvent]) -> None:
        try:
            self._process_lines(lines, events)
        finally:
            if self._data_size > self._max_event:
                self._fail_event()

    def _fail_event(self) -> None:
        start = "\n".join(self._data)[:80]
        self._data.clear()
        self._data_size = 0
        raise malformed(start, f"an SSE message of over {self._max_event} characters of data")

    def _process_lines(self, lines: list[str], events: list[StreamEvent]) -> None:
        append = events.append
        item = sse_item
        scan = _SCAN
        event_type = StreamEvent
        channel_items = self._channel_items
        data = self._data
        size = self._data_size
        max_event = self._max_event
        for line in lines:
            if line:
                if line.startswith("data:"):  # the hot fields first, without partition()
                    piece = line[6:] if line[5:6] == " " else line[5:]
                    data.append(piece)
                    size += len(piece) + 1
                    continue
                if line.startswith("event:"):
                    self._event = line[7:] if line[6:7] == " " else line[6:]
                    self._event_seen = True
                    continue
                name, _, value = line.partition(":")
                if value and value[0] == " ":
                    value = value[1:]
                if name == "data":
                    data.append(value)
                    size += len(value) + 1
                elif name == "event":
                    self._event = value
                    self._event_seen = True
                elif name == "id":
                    if "\0" not in value:
                        self._last_id = bool(value)
                elif name == "retry":
                    try:
                        int(value)
                    except ValueError:
                        pass
                    else:
                        self._retry = True
                continue  # comments (name "") and unknown fields are ignored
            # a blank line: dispatch the message, if it holds anything
            if data or self._event or self._last_id or self._retry:
                if size > max_event:
                    self._data_size = size
                    return  # _process_into fails the message
                size = 0
                kind = (self._event or "message") if self._event_seen else None
                joined = data[0] if len(data) == 1 else "\n".join(data)
                data.clear()
                self._event = ""
                self._retry = False
                self._event_seen = False
                if kind is not None and joined:
                    # the local platform's framing, `event: <type>` + `data: <the item's data>`, inline
                    try:
                        parsed, end = scan(joined, 0)
                    except (StopIteration, ValueError, RecursionError):
                        pass
                    else:
                        if end == len(joined) and (type(parsed) is not dict or parsed.get("type") != kind):
                            append(event_type(kind, parsed, None, {"type": kind, "data": parsed}))
                            continue
                event = item(kind, joined, channel_items=channel_items)
                if event is not None:
                    append(event)
            self._event_seen = False
        self._data_size = size
