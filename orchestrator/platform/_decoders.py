"""Sans-IO stream decoding: the JSON-lines decoder, and what the SSE decoder shares with it.

The decoders take chunks split anywhere (inside a line, inside a UTF-8 sequence for bytes, between
``\\r`` and ``\\n``) and keep only a small carry buffer; a line of megabytes arriving in small chunks costs
linear time.
Neither touches the network, so they are tested and benchmarked on their own.

- :class:`JSONLDecoder` (``application/jsonl``): one JSON object per line, blank lines skipped. It splits with
  ``str.split`` and parses each line with the C scanner of :mod:`json`, which is why it keeps up with a bare
  ``json.loads`` loop.
- :class:`~orchestrator.platform.SSEDecoder` (``text/event-stream``) lives in ``_sse.py`` and shares
  :func:`malformed` and :func:`scanner` with this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from .._errors import StreamProtocolError, UsageError
from ._events import StreamEvent, ms_or_none

__all__ = ["JSONLDecoder", "malformed", "scanner"]

_QUOTE = 200


def malformed(line: str | bytes, reason: str) -> StreamProtocolError:
    """A :class:`StreamProtocolError` saying what was wrong, quoting the first 200 characters of the line."""
    if isinstance(line, bytes):
        line = line[: _QUOTE * 4].decode("utf-8", "replace")
    quoted = line[:_QUOTE]
    more = f" ... ({len(line)} chars)" if len(line) > _QUOTE else ""
    return StreamProtocolError(f"malformed stream line: {reason}: {quoted!r}{more}")


def scanner() -> Callable[[str, int], tuple[Any, int]]:
    """The C scanner behind json.loads (JSONDecoder sets it per instance), without json.loads' per-call
    Python overhead: it parses one value from an index and returns where the value ends."""
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

    Args:
        max_line: the longest line held back waiting for its newline (characters or bytes); a longer one
            raises :class:`StreamProtocolError`, so that a stream without newlines cannot use unbounded memory.
    """

    __slots__ = ("_bytes", "_error", "_max_line", "_scan", "_text")

    def __init__(self, *, max_line: int = 64 * 1024 * 1024) -> None:
        self._text: list[str] = []
        self._bytes: list[bytes] = []
        self._error: StreamProtocolError | None = None
        self._scan = scanner()
        self._max_line = max_line

    def _bound(self, events: list[StreamEvent]) -> list[StreamEvent]:
        """``events``; past ``max_line`` held back, the decoder fails (after delivering ``events``)."""
        if self.pending > self._max_line:
            start = (self._text[0] if self._text else self._bytes[0])[:80]
            self._text.clear()
            self._bytes.clear()
            self._error = malformed(start, f"a line of over {self._max_line} without a newline")
            if not events:
                raise self._error
        return events

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
                return self._bound([])
            if self._text:
                self._text.append(chunk)
                chunk = "".join(self._text)
                self._text.clear()
            lines = chunk.split("\n")
            rest = lines.pop()
            if rest:
                self._text.append(rest)
            return self._bound(self._decode(lines))
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
            return self._bound([])
        if self._bytes:
            cut += sum(map(len, self._bytes))
            self._bytes.append(data)
            data = b"".join(self._bytes)
            self._bytes.clear()
        if cut + 1 < len(data):
            self._bytes.append(data[cut + 1 :])
        # a newline byte never occurs inside a UTF-8 sequence, so everything before the last one decodes whole
        return self._bound(self._decode_bytes(data[:cut]))

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
