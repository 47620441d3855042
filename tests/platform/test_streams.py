"""Streams through the client: decoding by content type, chunking on the wire, closing, completions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from orchestrator import PlatformError, RateLimitedError, StreamProtocolError
from orchestrator.platform import StreamEvent, collect_completion

from ._support import Recorder, client_for, jsonl, reply, sse_frames

CHANNEL = "e" * 32

_ITEMS: list[dict[str, Any]] = [
    {"type": "nop"},
    {"type": "message", "data": {"type": "token", "data": {"token": "Hé"}}},
    {
        "type": "message",
        "data": {"type": "waitForChannelMessageBegin", "data": {"channel": "x", "function": {}}},
    },
    {"type": "message", "data": {"type": "message", "data": {"type": "bot", "text": "Hé€llo"}}},
    {"type": "message", "data": {"type": "result", "data": {"text": "Hé€llo", "end": {"reason": "stop"}}}},
]


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def _read_channel(client: Any, fmt: str = "jsonl") -> list[StreamEvent]:
    async with client.channels.subscribe(CHANNEL, format=fmt) as events:
        return [event async for event in events]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 100_000])
async def test_jsonl_stream_split_anywhere_on_the_wire(size: int) -> None:
    """A JSONL body arriving in chunks of any size (UTF-8 split included) decodes to the same items."""
    body = "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in _ITEMS).encode()
    recorder = Recorder(reply(200, chunks=_chunks(body, size), headers={"content-type": "application/jsonl"}))
    async with client_for(recorder) as client:
        events = await _read_channel(client)
    assert [dict(e.raw) for e in events] == _ITEMS


@pytest.mark.parametrize("size", [1, 5, 64, 100_000])
@pytest.mark.parametrize("whole", [False, True], ids=["event+data", "whole-item"])
async def test_sse_stream_split_anywhere_on_the_wire(size: int, whole: bool) -> None:
    """An SSE body (either data variant, chunked anywhere) decodes to the same items as JSONL."""
    frames = [(i["type"], i if whole else i.get("data", {})) for i in _ITEMS]
    body = sse_frames(*frames)
    headers = {"content-type": "text/event-stream; charset=utf-8"}
    recorder = Recorder(reply(200, chunks=_chunks(body, size), headers=headers))
    async with client_for(recorder) as client:
        events = await _read_channel(client, "sse")
    assert [e.type for e in events] == [i["type"] for i in _ITEMS]
    inner = [e.inner() for e in events[1:]]
    assert [(i.type, i.data) for i in inner if i] == [
        (i["data"]["type"], i["data"]["data"]) for i in _ITEMS[1:]
    ]


async def test_decoding_follows_the_response_content_type_not_the_request() -> None:
    """Asking for JSONL but getting SSE (and the reverse) still decodes correctly."""
    recorder = Recorder(
        reply(200, content=sse_frames(("nop", {})), headers={"content-type": "text/event-stream"}),
        reply(200, content=jsonl({"type": "nop"}), headers={"content-type": "application/x-ndjson"}),
    )
    async with client_for(recorder) as client:
        assert [e.type for e in await _read_channel(client, "jsonl")] == ["nop"]
        assert [e.type for e in await _read_channel(client, "sse")] == ["nop"]


async def test_application_json_on_a_stream() -> None:
    """A JSON answer to a stream request: an error body raises, one item becomes one event."""
    recorder = Recorder(
        reply(200, {"message": "Limits exceeded", "code": "LIMITS_REACHED"}),
        reply(200, {"type": "result", "data": {"text": "done"}}),
    )
    async with client_for(recorder) as client:
        with pytest.raises(RateLimitedError, match="Limits exceeded") as caught:
            await _read_channel(client)
        assert caught.value.status == 200
        events = await _read_channel(client)
    assert [(e.type, e.data) for e in events] == [("result", {"text": "done"})]


async def test_collect_completion_over_a_stream_and_over_a_dispatch_channel() -> None:
    """collect_completion works on a direct completion stream and on the channel a dispatch publishes to."""
    direct = jsonl(
        {"type": "token", "data": {"token": "A"}, "createdAt": 1},
        {"type": "ping", "data": {}},
        {
            "type": "result",
            "data": {"text": "AB", "usage": {"token": 2}, "end": {"reason": "stop"}},
            "createdAt": 2,
        },
    )
    recorder = Recorder(reply(200, content=direct), reply(200, content=jsonl(*_ITEMS)))
    async with client_for(recorder) as client:
        async with client.conversations.stream({"messages": []}) as events:
            first = await collect_completion(events)
        async with client.channels.subscribe(CHANNEL, history_length=1000) as events:
            second = await collect_completion(events)
    assert (first.text, first.end_reason, first.usage) == ("AB", "stop", {"token": 2})
    assert (second.text, second.end_reason) == ("Hé€llo", "stop")


async def test_error_event_mid_stream_becomes_a_platform_error() -> None:
    """An ``error`` item in a dispatch channel raises PlatformError with its message and code."""
    body = jsonl(
        {"type": "message", "data": {"type": "token", "data": {"token": "a"}}},
        {
            "type": "message",
            "data": {"type": "error", "data": {"message": "boom", "code": "no_message_received"}},
        },
    )
    recorder = Recorder(reply(200, content=body))
    async with client_for(recorder) as client, client.channels.subscribe(CHANNEL) as events:
        with pytest.raises(PlatformError) as caught:
            await collect_completion(events)
    assert (caught.value.message, caught.value.code) == ("boom", "no_message_received")


async def test_a_result_before_a_malformed_line_in_the_same_chunk_is_not_lost() -> None:
    """A result followed by garbage in one network chunk still completes; reading on raises the error."""
    body = (
        jsonl({"type": "token", "data": {"token": "a"}}, {"type": "result", "data": {"text": "a"}})
        + b"<html>\n"
    )
    recorder = Recorder(reply(200, content=body))
    async with client_for(recorder) as client:
        async with client.conversations.stream({}) as events:
            result = await collect_completion(events)
        assert result.text == "a"
        seen: list[str] = []

        async def read_all() -> None:
            async with client.conversations.stream({}) as events:
                async for event in events:
                    seen.append(event.type)

        with pytest.raises(StreamProtocolError, match="<html>"):
            await read_all()
        assert seen == ["token", "result"]


class _TrackedStream(httpx.AsyncByteStream):
    """A response body that never ends on its own and records whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield jsonl({"type": "nop"})
        yield jsonl({"type": "message", "data": {"n": 1}})
        while True:  # a live subscription: the platform does not close it
            yield b"\n"

    async def aclose(self) -> None:
        self.closed = True


async def test_leaving_the_stream_context_closes_the_response() -> None:
    """Breaking out of an endless subscription closes the HTTP response."""
    body = _TrackedStream()
    recorder = Recorder(lambda request: httpx.Response(200, stream=body, request=request))
    async with client_for(recorder) as client:
        async with client.channels.subscribe(CHANNEL) as events:
            async for event in events:
                if event.type == "message":
                    break
        assert body.closed
        async with client.channels.subscribe(CHANNEL) as events:
            pass
    assert [e async for e in events] == []
