"""Sans-IO stream decoders: bytes or text in, :class:`StreamEvent` values out.

Both decoders take chunks split anywhere (inside a line, inside a UTF-8 sequence for bytes, between
``\\r`` and ``\\n``) and keep only a small carry buffer; a line of megabytes arriving in small chunks costs
linear time.
Neither touches the network, so they are tested and benchmarked on their own.

- :class:`JSONLDecoder` (``application/jsonl``): one JSON object per line, blank lines skipped. It splits with
  ``str.split`` and parses each line with the C scanner of :mod:`json`, which is why it keeps up with a bare
  ``json.loads`` loop.
- :class:`SSEDecoder` (``text/event-stream``): httpx-sse's incremental line and field decoders, then the
  item rules of the wire protocol (``event: <type>`` with ``data:`` holding the item's data, or ``data:``
  holding the whole item).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from httpx_sse._decoders import SSEDecoder as _SSEFieldDecoder
from httpx_sse._decoders import SSELineDecoder as _SSELineDecoder

from .._errors import StreamProtocolError, UsageError
from ._events import StreamEvent, ms_or_none

__all__ = ["JSONLDecoder", "SSEDecoder"]

_QUOTE = 200
# chat message types (reference §2.9): the data of a completion `message` event is a chat message
_MESSAGE_TYPES = frozenset(
    {"user", "bot", "context", "activity", "instruction", "backstory", "reasoning", "checkpoint"}
)


def malformed(line: str | bytes, reason: str) -> StreamProtocolError:
    """A :class:`StreamProtocolError` saying what was wrong, quoting the first 200 characters of the line."""
    if isinstance(line, bytes):
        line = line[: _QUOTE * 4].decode("utf-8", "replace")
    quoted = line[:_QUOTE]
    more = f" ... ({len(line)} chars)" if len(line) > _QUOTE else ""
    return StreamProtocolError(f"malformed stream line: {reason}: {quoted!r}{more}")


def _scanner() -> Callable[[str, int], tuple[Any, int]]:
    # the C scanner behind json.loads (JSONDecoder sets it per instance), without json.loads' per-call Python
    # overhead; it parses one value from an index and returns where the value ends
    scan: Callable[[str, int], tuple[Any, int]] = vars(json.JSONDecoder())["scan_once"]
    return scan


def _parse_slow(line: str) -> Any:
    # the rare path: surrounding whitespace, a blank line of spaces/\r, or an error to explain
    stripped = line.strip()
    if not stripped:
        return None
    try:
        return json.loads(stripped)
    except RecursionError as exc:
        raise malformed(line, "JSON nested too deeply") from exc
    except ValueError as exc:
        raise malformed(line, f"not valid JSON ({exc})") from exc


class JSONLDecoder:
    """Incremental decoder of a JSON-lines stream (``application/jsonl``).

    Feed it ``str`` or ``bytes`` chunks (one kind per stream) and call :meth:`flush` at the end of the
    stream::

        decoder = JSONLDecoder()
        async for chunk in response.aiter_bytes():
            for event in decoder.feed(chunk):
                ...
        for event in decoder.flush():
            ...

    Each non-blank line must be a JSON object with a string ``type``; anything else raises
    :class:`StreamProtocolError` quoting the start of the line. The events of the lines before a malformed
    one are returned first; the error is raised by the next call (and every call after it). Unknown types,
    ``ping`` and ``nop`` are yielded.
    """

    __slots__ = ("_bytes", "_error", "_scan", "_text")

    def __init__(self) -> None:
        self._text: list[str] = []
        self._bytes: list[bytes] = []
        self._error: StreamProtocolError | None = None
        self._scan = _scanner()

    @property
    def pending(self) -> int:
        """The length of the incomplete line held back (characters or bytes)."""
        return sum(map(len, self._text)) + sum(map(len, self._bytes))

    def feed(self, chunk: str | bytes | bytearray | memoryview) -> list[StreamEvent]:
        """Decode a chunk; return the events of every line it completes.

        Raises:
            StreamProtocolError: a completed line is not a JSON object with a string ``type``.
            UsageError: ``str`` and ``bytes`` chunks were mixed within one line.
        """
        if self._error is not None:
            raise self._error
        if isinstance(chunk, str):
            if self._bytes:
                raise UsageError(
                    "JSONLDecoder: a str chunk arrived in the middle of a bytes line; feed one kind"
                )
            if "\n" not in chunk:
                if chunk:
                    self._text.append(chunk)
                return []
            if self._text:
                self._text.append(chunk)
                chunk = "".join(self._text)
                self._text.clear()
            lines = chunk.split("\n")
            rest = lines.pop()
            if rest:
                self._text.append(rest)
            return self._decode(lines)
        if isinstance(chunk, bytes | bytearray | memoryview):
            return self._feed_bytes(bytes(chunk))
        raise TypeError(f"JSONLDecoder.feed() takes str or bytes, got {type(chunk).__name__}")

    def _feed_bytes(self, data: bytes) -> list[StreamEvent]:
        if self._text:
            raise UsageError("JSONLDecoder: a bytes chunk arrived in the middle of a str line; feed one kind")
        cut = data.rfind(b"\n")
        if cut < 0:
            if data:
                self._bytes.append(data)
            return []
        if self._bytes:
            cut += sum(map(len, self._bytes))
            self._bytes.append(data)
            data = b"".join(self._bytes)
            self._bytes.clear()
        if cut + 1 < len(data):
            self._bytes.append(data[cut + 1 :])
        # a newline byte never occurs inside a UTF-8 sequence, so everything before the last one decodes whole
        return self._decode_bytes(data[:cut])

    def flush(self) -> list[StreamEvent]:
        """Decode the last line when the stream did not end with a newline; reset the decoder.

        Raises:
            StreamProtocolError: the last line, or an earlier one, was malformed.
        """
        if self._error is not None:
            raise self._error
        if self._bytes:
            data = b"".join(self._bytes)
            self._bytes.clear()
            return self._decode_bytes(data)
        if self._text:
            text = "".join(self._text)
            self._text.clear()
            return self._decode([text])
        return []

    def _decode_bytes(self, data: bytes) -> list[StreamEvent]:
        try:
            return self._decode(data.decode("utf-8").split("\n"))
        except UnicodeDecodeError:
            lines = data.split(b"\n")
        good: list[str] = []
        for line in lines:
            try:
                good.append(line.decode("utf-8"))
            except UnicodeDecodeError as exc:
                events = self._decode(good)
                if self._error is not None:  # an earlier line was already malformed: that error stands
                    return events
                return self._fail(
                    malformed(line, f"not valid UTF-8 ({exc.reason} at byte {exc.start})"), events
                )
        raise AssertionError("unreachable: the bytes failed to decode, so one line must")  # pragma: no cover

    def _fail(self, error: StreamProtocolError, events: list[StreamEvent]) -> list[StreamEvent]:
        # deliver what came before the bad line; the stream is broken from here on
        self._error = error
        if not events:
            raise error
        return events

    def _decode(self, lines: Iterable[str]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        try:
            self._decode_into(lines, events)
        except StreamProtocolError as exc:
            return self._fail(exc, events)
        return events

    def _decode_into(self, lines: Iterable[str], events: list[StreamEvent]) -> None:
        append = events.append
        scan = self._scan
        event = StreamEvent
        for line in lines:
            if not line:
                continue
            try:
                obj, end = scan(line, 0)
            except (StopIteration, ValueError, RecursionError):
                obj = _parse_slow(line)
                if obj is None:
                    continue
            else:
                if end != len(line) and not line[end:].isspace():
                    _parse_slow(line)  # raises, naming what follows the object
                    raise malformed(line, "more than one JSON value on the line")
            if type(obj) is not dict:
                raise malformed(line, f"expected a JSON object, got {type(obj).__name__}")
            kind = obj.get("type")
            if type(kind) is not str:
                raise malformed(line, "the object has no string 'type'")
            created = obj.get("createdAt")
            if created is not None and type(created) is not int:
                created = ms_or_none(created)
            append(event(kind, obj.get("data"), created, obj))


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


def sse_item(event: str | None, data: str, *, channel_items: bool = False) -> StreamEvent | None:
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


class SSEDecoder:
    """Incremental decoder of a server-sent-events stream (``text/event-stream``), built on httpx-sse.

    Accepts both item encodings: ``event: <type>`` + ``data: <json of the item's data>`` (what the local
    platform sends), and ``data: <json of the whole item>`` with or without an ``event:`` field. Comments,
    ``id:`` and ``retry:`` fields are ignored. A message still open at the end of the stream is delivered by
    :meth:`flush`.

    Args:
        channel_items: see :func:`sse_item`.
    """

    __slots__ = ("_channel_items", "_error", "_event_seen", "_fields", "_lines")

    def __init__(self, *, channel_items: bool = False) -> None:
        self._channel_items = channel_items
        self._lines = _SSELineDecoder()
        self._fields = _SSEFieldDecoder()
        self._event_seen = False
        self._error: StreamProtocolError | None = None

    def feed(self, text: str) -> list[StreamEvent]:
        """Decode a chunk of text; return the events of every message it completes.

        Raises:
            StreamProtocolError: a message's data is not what the wire protocol says (the events before it
                are returned first, the error by the next call).
        """
        if self._error is not None:
            raise self._error
        return self._process(self._lines.decode(text)) if text else []

    def flush(self) -> list[StreamEvent]:
        """Deliver the message still open at the end of the stream, if any; reset the decoder."""
        if self._error is not None:
            raise self._error
        lines = self._lines.flush()
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
        for line in lines:
            if line.startswith("event") and line.partition(":")[0] == "event":
                self._event_seen = True
            message = self._fields.decode(line)
            if line:
                continue
            if message is not None:
                name = message.event if self._event_seen else None
                item = sse_item(name, message.data, channel_items=self._channel_items)
                if item is not None:
                    events.append(item)
            self._event_seen = False
