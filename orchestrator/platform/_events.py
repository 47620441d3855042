"""Stream events and completion results: the values that platform streams carry.

A stream line is a JSON object ``{type, data, createdAt?, ...}`` (reference §2.8). :class:`StreamEvent` keeps
the whole decoded line in ``raw`` so that unknown keys and unknown event types pass through untouched.
:func:`collect_completion` turns a completion stream (direct, or the inner events of a dispatch channel) into
a :class:`CompletionResult`.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import PlatformError, StreamProtocolError

__all__ = ["CompletionResult", "StreamEvent", "collect_completion"]

_TERMINAL = frozenset({"result", "error"})


def ms_or_none(value: Any) -> int | None:
    """An epoch-milliseconds wire value as an ``int`` (``None`` when absent or not a number)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return int(value)
    return None


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One item of a platform stream.

    Attributes:
        type: the event type (``token``, ``result``, ``error``, ``message``, ``nop``, ``ping``, ``item``,
            or any other string: unknown types are passed through).
        data: the ``data`` field, or ``None`` when the line has none.
        created_at: the ``createdAt`` field in epoch milliseconds, when present.
        raw: the whole decoded line, unknown keys kept.
    """

    type: str
    data: Any = None
    created_at: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_wire(cls, item: Any) -> StreamEvent:
        """Build an event from a decoded stream item ``{type, data?, createdAt?, ...}``.

        Raises:
            StreamProtocolError: ``item`` is not an object with a string ``type``.
        """
        if not isinstance(item, Mapping):
            raise StreamProtocolError(f"a stream item must be a JSON object, got {type(item).__name__}")
        kind = item.get("type")
        if not isinstance(kind, str):
            raise StreamProtocolError(f"a stream item must have a string 'type', got {kind!r}")
        return cls(kind, item.get("data"), ms_or_none(item.get("createdAt")), item)

    def inner(self) -> StreamEvent | None:
        """The event wrapped by a channel item ``{type: "message", data: {type, data}}``.

        Returns:
            The inner event, or ``None`` when this is not a ``message`` item whose data has a string ``type``.
        """
        if self.type != "message":
            return None
        data = self.data
        if not isinstance(data, Mapping):
            return None
        kind = data.get("type")
        if not isinstance(kind, str):
            return None
        return StreamEvent(kind, data.get("data"), ms_or_none(data.get("createdAt")), data)

    @property
    def is_terminal(self) -> bool:
        """Whether this event ends a completion (``result`` or ``error``)."""
        return self.type in _TERMINAL


@dataclass(frozen=True, slots=True)
class CompletionResult:
    """The outcome of a completion: ``{text, usage, end: {reason}, id?}`` on the wire.

    Attributes:
        text: the reply text.
        end_reason: ``end.reason`` (``stop``, ``length``, ``iteration``, ``activity``, ``abort``,
            ``error``), or ``None`` when the platform gave none (``receive`` has no ``end``).
        usage: the ``usage`` object (``{token: n}``), empty when absent.
        id: the id of the created message (stateful endpoints), or ``None``.
        raw: the whole result object, unknown keys kept.
    """

    text: str
    end_reason: str | None = None
    usage: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_wire(cls, data: Any) -> CompletionResult:
        """Build a result from a JSON-mode response body or a ``result`` event's data.

        Raises:
            PlatformError: ``data`` is not a JSON object.
        """
        if not isinstance(data, Mapping):
            raise PlatformError(f"a completion result must be a JSON object, got {type(data).__name__}")
        text = data.get("text")
        end = data.get("end")
        reason = end.get("reason") if isinstance(end, Mapping) else None
        usage = data.get("usage")
        ident = data.get("id")
        return cls(
            text=text if isinstance(text, str) else "",
            end_reason=reason if isinstance(reason, str) else None,
            usage=usage if isinstance(usage, Mapping) else {},
            id=ident if isinstance(ident, str) else None,
            raw=data,
        )


def error_from_event(event: StreamEvent) -> PlatformError:
    """The :class:`PlatformError` an ``error`` event stands for (message and code from its data)."""
    data = event.data
    message: Any = None
    code: Any = None
    if isinstance(data, Mapping):
        message = data.get("message")
        code = data.get("code")
    elif isinstance(data, str):
        message = data
    return PlatformError(
        message if isinstance(message, str) and message else "the platform reported an error in the stream",
        code=code if isinstance(code, str) else None,
        data=data,
    )


async def collect_completion(events: AsyncIterable[StreamEvent]) -> CompletionResult:
    """Consume a completion stream until its ``result``.

    Works on a direct completion stream and on a dispatch channel, whose items wrap the completion events
    (``{type: "message", data: {type: "result", ...}}``). Tokens are accumulated, so a ``result`` without
    ``text`` still yields the streamed text. The iterator is not closed: the stream's context manager does
    that.

    Args:
        events: the stream, e.g. ``async with client.conversations.stream(body) as events``.

    Returns:
        The completion result.

    Raises:
        PlatformError: the stream carried an ``error`` event (its message and code are kept).
        StreamProtocolError: the stream ended without a ``result``.
    """
    tokens: list[str] = []
    async for outer in events:
        event = outer
        if outer.type == "message":
            event = outer.inner() or outer
        kind = event.type
        if kind == "token":
            data = event.data
            token = data.get("token") if isinstance(data, Mapping) else None
            if isinstance(token, str):
                tokens.append(token)
        elif kind == "result":
            result = CompletionResult.from_wire(event.data if event.data is not None else {})
            if not isinstance(result.raw.get("text"), str) and tokens:
                return CompletionResult(
                    "".join(tokens), result.end_reason, result.usage, result.id, result.raw
                )
            return result
        elif kind == "error":
            raise error_from_event(event)
    raise StreamProtocolError("the completion stream ended before a 'result' or 'error' event")
