"""Error mapping at the boundary: statuses, bodies, 200 error bodies, transport failures, misuse."""

from __future__ import annotations

import httpx
import pytest

from orchestrator import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    OrchestratorError,
    PlatformConnectionError,
    PlatformError,
    PlatformTimeout,
    PlatformUnavailable,
    RateLimitedError,
    StreamProtocolError,
    UsageError,
)
from orchestrator._clock import VirtualClock
from orchestrator.platform import RetryPolicy

from ._support import START, Recorder, client_for, jsonl, raises, reply

CHANNEL = "c" * 32


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (301, PlatformError),
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, PlatformError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (409, PlatformError),
        (422, BadRequestError),
        (429, RateLimitedError),
        (500, PlatformUnavailable),
        (502, PlatformUnavailable),
        (503, PlatformUnavailable),
        (504, PlatformUnavailable),
    ],
)
async def test_status_maps_to_error_class_with_body_message_and_code(
    status: int, expected: type[PlatformError]
) -> None:
    """Each status maps to its class; the body's message and code and the request URL are kept."""
    recorder = Recorder(reply(status, {"message": "nope", "code": "SOME_CODE"}))
    async with client_for(recorder) as client:
        with pytest.raises(PlatformError) as caught:
            await client.tasks.create({"name": "n"})
    error = caught.value
    assert type(error) is expected
    assert (error.message, error.code, error.status) == ("nope", "SOME_CODE", status)
    assert error.url == "http://127.0.0.1:8787/api/v1/task/create"
    assert error.data == {"message": "nope", "code": "SOME_CODE"}
    assert isinstance(error.__cause__, type(None))  # an answer, not an exception, caused it
    assert "nope" in str(error)
    assert f"status={status}" in str(error)


async def test_non_json_and_empty_error_bodies() -> None:
    """A text body is the message; an empty body gives the reason phrase; code defaults to ERROR_<status>."""
    recorder = Recorder(
        reply(502, content=b"<html>Bad Gateway</html>", headers={"content-type": "text/html"}),
        reply(404, content=b""),
        reply(403, {"error": "authorization_required", "url": "https://auth"}),
        reply(409, {"message": "taken"}, headers={"x-failure-code": "CONFLICT"}),
    )
    async with client_for(recorder) as client:
        with pytest.raises(PlatformUnavailable) as gateway:
            await client.tasks.trigger("t1")
        with pytest.raises(NotFoundError) as missing:
            await client.tasks.trigger("t1")
        with pytest.raises(AuthenticationError) as authz:
            await client.tasks.trigger("t1")
        with pytest.raises(PlatformError) as conflict:
            await client.tasks.trigger("t1")
    assert (gateway.value.message, gateway.value.code) == ("<html>Bad Gateway</html>", "ERROR_502")
    assert (missing.value.message, missing.value.code) == ("HTTP 404 Not Found", "ERROR_404")
    assert (authz.value.message, authz.value.code) == ("authorization required", "AUTHORIZATION_REQUIRED")
    assert conflict.value.code == "CONFLICT"


async def test_retry_after_seconds_and_http_date() -> None:
    """Retry-After is read as seconds or as an HTTP date relative to the client's clock."""
    recorder = Recorder(
        reply(429, {"message": "slow down", "code": "LIMITS_REACHED"}, headers={"retry-after": "2.5"}),
        reply(429, {}, headers={"retry-after": "Tue, 14 Nov 2023 22:13:40 GMT"}),  # START + 20 s
        reply(429, {}, headers={"retry-after": "whenever"}),
    )
    async with client_for(recorder, clock=VirtualClock(start=START)) as client:
        errors = []
        for _ in range(3):
            with pytest.raises(RateLimitedError) as caught:
                await client.tasks.create({})
            errors.append(caught.value)
    assert [e.retry_after for e in errors] == [2.5, 20.0, None]
    assert errors[0].code == "LIMITS_REACHED"


@pytest.mark.parametrize(
    ("body", "expected", "code"),
    [
        ({"message": "Request timed out", "code": "TIMEOUT"}, PlatformTimeout, "TIMEOUT"),
        ({"message": "gone", "code": "NOT_FOUND"}, NotFoundError, "NOT_FOUND"),
        ({"message": "odd", "code": "SOMETHING"}, PlatformError, "SOMETHING"),
        ({"message": "no code"}, PlatformError, "ERROR_200"),
        (
            {"error": "authorization_required", "url": "https://x"},
            AuthenticationError,
            "AUTHORIZATION_REQUIRED",
        ),
        ({"error": "went wrong"}, PlatformError, "ERROR_200"),
    ],
)
async def test_200_with_an_error_body_is_an_error(
    body: dict[str, str], expected: type[PlatformError], code: str
) -> None:
    """A 200 whose body is an error object (none of the expected fields) raises, typed by its code."""
    recorder = Recorder(reply(200, body))
    async with client_for(recorder) as client:
        with pytest.raises(PlatformError) as caught:
            await client.conversations.complete({"messages": []})
    assert type(caught.value) is expected
    assert caught.value.status == 200
    assert caught.value.code == code
    assert caught.value.message == (body.get("message") or body.get("error"))


async def test_200_error_body_on_other_calls_and_legit_message_fields() -> None:
    """Dispatch, list and create see 200 error bodies too; a body with its expected fields is not an error."""
    recorder = Recorder(
        reply(200, {"message": "Limits exceeded", "code": "LIMITS_REACHED"}),
        reply(200, {"message": "boom"}),
        reply(200, {"id": "c1", "message": "a field that happens to be called message"}),
        reply(200, content=b"not json"),
    )
    async with client_for(recorder, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(RateLimitedError, match="Limits exceeded"):
            await client.conversations.dispatch({"messages": []})
        with pytest.raises(PlatformError, match="boom"):
            [t async for t in client.tasks.list()]
        conversation = await client.conversations.fetch("c1")
        assert conversation.raw["message"].startswith("a field")
        with pytest.raises(PlatformError, match="not JSON: 'not json'"):
            await client.tasks.fetch("t1")


async def test_missing_ids_in_answers_are_errors_or_fall_back() -> None:
    """A create without an id or a dispatch without a channelId raises; update falls back to the known id."""
    recorder = Recorder(reply(200, {"ok": True}))
    async with client_for(recorder) as client:
        with pytest.raises(PlatformError, match="no 'id'"):
            await client.tasks.create({})
        with pytest.raises(PlatformError, match="no 'channelId'"):
            await client.conversations.dispatch({})
        with pytest.raises(PlatformError, match="no 'items'"):
            [b async for b in client.bots.list()]
        assert await client.tasks.update("t1", {}) == "t1"
        empty = Recorder(reply(200, content=b""))
    async with client_for(empty) as client:
        assert await client.tasks.delete("t9") == "t9"
        result = await client.conversations.complete({})
        assert result.text == ""


@pytest.mark.parametrize(
    ("exc_type", "expected"),
    [
        (httpx.ConnectError, PlatformConnectionError),
        (httpx.ReadError, PlatformConnectionError),
        (httpx.WriteError, PlatformConnectionError),
        (httpx.RemoteProtocolError, PlatformConnectionError),
        (httpx.LocalProtocolError, PlatformConnectionError),
        (httpx.ProxyError, PlatformConnectionError),
        (httpx.UnsupportedProtocol, PlatformConnectionError),
        (httpx.ConnectTimeout, PlatformTimeout),
        (httpx.ReadTimeout, PlatformTimeout),
        (httpx.WriteTimeout, PlatformTimeout),
        (httpx.PoolTimeout, PlatformTimeout),
        (httpx.DecodingError, PlatformError),
        (httpx.TooManyRedirects, PlatformError),
    ],
)
async def test_transport_errors_map_to_their_own_types(
    exc_type: type[httpx.RequestError], expected: type[PlatformError]
) -> None:
    """httpx exceptions never escape: each becomes its PlatformError subclass, chained to the cause."""
    for retry in (RetryPolicy(attempts=1), RetryPolicy(attempts=2, initial_backoff=0, jitter=0)):
        recorder = Recorder(raises(exc_type, "it broke"))
        async with client_for(recorder, retry=retry) as client:
            with pytest.raises(PlatformError) as caught:
                await client.tasks.fetch("t1")
        assert type(caught.value) is expected
        assert isinstance(caught.value.__cause__, exc_type)
        assert "it broke" in caught.value.message
        assert caught.value.url == "http://127.0.0.1:8787/api/v1/task/t1/fetch"
        assert caught.value.status is None


async def test_http_error_on_a_stream_reads_the_body_first() -> None:
    """An error status on a streaming request is read and mapped (the official SDK raises ResponseNotRead)."""
    recorder = Recorder(
        reply(401, chunks=[b'{"message":"bad tok', b'en","code":"NOT_AUTHENTICATED"}']),
        reply(404, chunks=[b'{"message":"no such channel"}']),
        reply(500, chunks=[b"Internal ", b"Server Error"]),
    )
    async with client_for(recorder, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(AuthenticationError) as auth:
            async with client.conversations.stream({"messages": []}):
                pytest.fail("the context must not be entered")  # pragma: no cover
        with pytest.raises(NotFoundError, match="no such channel"):
            async with client.channels.subscribe(CHANNEL):
                pytest.fail("the context must not be entered")  # pragma: no cover
        with pytest.raises(PlatformUnavailable, match="Internal Server Error"):
            async with client.tasks.subscribe("t1"):
                pytest.fail("the context must not be entered")  # pragma: no cover
    assert (auth.value.message, auth.value.code, auth.value.status) == ("bad token", "NOT_AUTHENTICATED", 401)


async def test_mid_stream_transport_failures_are_mapped() -> None:
    """A connection reset or read timeout in the middle of a stream becomes a PlatformError subclass."""
    head = jsonl({"type": "token", "data": {"token": "a"}})
    recorder = Recorder(
        reply(200, chunks=[head], fail_after=httpx.ReadError("connection reset")),
        reply(200, chunks=[head], fail_after=httpx.ReadTimeout("read timed out")),
    )
    async with client_for(recorder) as client:
        seen: list[str] = []

        async def read() -> None:
            async with client.channels.subscribe(CHANNEL) as events:
                async for event in events:
                    seen.append(event.type)

        with pytest.raises(PlatformConnectionError, match="connection reset"):
            await read()
        assert seen == ["token"]
        with pytest.raises(PlatformTimeout, match="read timed out"):
            async with client.channels.subscribe(CHANNEL) as events:
                [e async for e in events]


async def test_malformed_stream_line_carries_the_url() -> None:
    """A malformed line in a live stream raises StreamProtocolError quoting it, with the request URL."""
    recorder = Recorder(reply(200, content=b'{"type":"nop"}\nHTTP/1.1 502 Bad Gateway\n'))
    async with client_for(recorder) as client:
        with pytest.raises(StreamProtocolError, match=r"HTTP/1\.1 502 Bad Gateway") as caught:
            async with client.channels.subscribe(CHANNEL) as events:
                [e async for e in events]
    assert caught.value.url == f"http://127.0.0.1:8787/api/v1/channel/{CHANNEL}/subscribe"


async def test_misuse_raises_usage_errors_before_any_request() -> None:
    """Bad ids, page sizes, channel ids, formats and bodies are refused with a message, without a request."""
    recorder = Recorder(reply(200, {"id": "x"}))
    async with client_for(recorder) as client:
        with pytest.raises(UsageError, match="task_id must be a non-empty string"):
            await client.tasks.fetch("")
        with pytest.raises(UsageError, match="take must be an int from 1 to 100"):
            [t async for t in client.tasks.list(take=0)]
        with pytest.raises(UsageError, match="take must be"):
            [t async for t in client.bots.list(take=101)]
        with pytest.raises(UsageError, match="at least 24"):
            await client.conversations.dispatch({}, channel_id="short")
        with pytest.raises(UsageError, match="at least 24"):
            await client.conversations.dispatch({"channelId": 12345})
        with pytest.raises(UsageError, match="format must be 'jsonl' or 'sse'"):
            async with client.channels.subscribe(CHANNEL, format="xml"):  # type: ignore[arg-type]
                pass  # pragma: no cover
        with pytest.raises(UsageError, match="history_length must be a non-negative int"):
            client.channels.subscribe(CHANNEL, history_length=-1)
        with pytest.raises(UsageError, match="cannot be sent as JSON"):
            await client.tasks.create({"when": object()})
        with pytest.raises(UsageError, match="body must be a mapping"):
            await client.tasks.create(["not", "a", "mapping"])  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="message must be a mapping"):
            await client.channels.publish(CHANNEL, "text")  # type: ignore[arg-type]
    assert recorder.requests == []


async def test_closed_clients_refuse_work() -> None:
    """After aclose, requests and re-entry raise UsageError; a borrowed client closed by its owner too."""
    recorder = Recorder(reply(200, {"id": "t1"}))
    client = client_for(recorder)
    await client.tasks.fetch("t1")
    await client.aclose()
    await client.aclose()
    assert client.closed
    with pytest.raises(UsageError, match="closed"):
        await client.tasks.fetch("t1")
    with pytest.raises(UsageError, match="cannot be reopened"):
        async with client:
            pass  # pragma: no cover
    borrowed = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    await borrowed.aclose()
    from orchestrator.platform import PlatformClient

    other = PlatformClient("http://127.0.0.1:1", "t", http_client=borrowed)
    with pytest.raises(UsageError, match="has been closed"):
        await other.tasks.fetch("t1")


def test_every_platform_error_is_an_orchestrator_error() -> None:
    """The errors this client raises share the package root, so one except clause catches them all."""
    for cls in (PlatformTimeout, PlatformConnectionError, StreamProtocolError, RateLimitedError, UsageError):
        assert issubclass(cls, OrchestratorError)
