"""Helpers for the platform client tests: a recording MockTransport handler and wire-format builders."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any

import httpx

from orchestrator._clock import VirtualClock
from orchestrator.platform import PlatformClient, RetryPolicy

LOCAL = "http://127.0.0.1:8787"
PUBLIC = "https://api.chatbotkit.com"
TOKEN = "cbk-secret-token-0123456789"
START = 1_700_000_000.0

Reply = Callable[[httpx.Request], httpx.Response]


def reply(
    status: int = 200,
    body: Any = None,
    *,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    chunks: Sequence[bytes] | None = None,
    fail_after: Exception | None = None,
) -> Reply:
    """A response factory: JSON ``body``, raw ``content``, or ``chunks`` streamed one by one, then
    ``fail_after`` raised."""

    def make(request: httpx.Request) -> httpx.Response:
        hdrs = dict(headers or {})
        if chunks is not None or fail_after is not None:
            return httpx.Response(
                status, headers=hdrs, content=_stream(chunks or [], fail_after), request=request
            )
        if content is not None:
            return httpx.Response(status, headers=hdrs, content=content, request=request)
        if body is None:
            return httpx.Response(status, headers=hdrs, request=request)
        return httpx.Response(status, headers=hdrs, json=body, request=request)

    return make


async def _stream(chunks: Iterable[bytes], fail_after: Exception | None) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
    if fail_after is not None:
        raise fail_after


def raises(exc_type: type[httpx.HTTPError], message: str = "boom") -> Reply:
    """A response factory that raises an httpx error instead of answering."""

    def make(request: httpx.Request) -> httpx.Response:
        if issubclass(exc_type, httpx.RequestError):
            raise exc_type(message, request=request)
        raise exc_type(message)  # pragma: no cover - every case used is a RequestError

    return make


class Recorder:
    """A ``MockTransport`` handler: records every request (and its virtual time, given a clock) and
    answers with the next reply (the last one repeats)."""

    def __init__(self, *replies: Reply, clock: VirtualClock | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []
        self._clock = clock
        self._replies = list(replies) or [reply(200, {"id": "x"})]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self._clock is not None:
            self.times.append(self._clock.time() - START)
        make = self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]
        return make(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self, index: int = -1) -> Any:
        """The JSON body of a recorded request."""
        return json.loads(self.requests[index].content)


def client_for(
    recorder: Recorder,
    *,
    base_url: str = LOCAL,
    token: str | None = TOKEN,
    clock: VirtualClock | None = None,
    retry: RetryPolicy | None = None,
    **kwargs: Any,
) -> PlatformClient:
    """A client over ``recorder`` with a virtual clock and deterministic retries (no jitter)."""
    return PlatformClient(
        base_url,
        token,
        transport=httpx.MockTransport(recorder),
        clock=clock if clock is not None else VirtualClock(start=START),
        retry=retry
        if retry is not None
        else RetryPolicy(attempts=4, initial_backoff=1.0, max_backoff=8.0, jitter=0),
        **kwargs,
    )


def jsonl(*items: Any) -> bytes:
    """JSON lines, one per item."""
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def sse_frames(*frames: tuple[str | None, Any]) -> bytes:
    """SSE messages: ``(event, data)`` pairs; ``event=None`` leaves the ``event:`` field out."""
    out = []
    for event, data in frames:
        head = f"event: {event}\n" if event is not None else ""
        out.append(f"{head}data: {json.dumps(data)}\n\n")
    return "".join(out).encode()


def elapsed(clock: VirtualClock) -> float:
    """Virtual seconds since :data:`START`."""
    return clock.time() - START


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def split_at(data: Any, cuts: list[int]) -> list[Any]:
    """``data`` (text or bytes) cut at the given offsets (taken modulo its length + 1), every piece kept."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = []
    previous = 0
    for point in [*points, len(data)]:
        pieces.append(data[previous:point])
        previous = point
    return pieces
