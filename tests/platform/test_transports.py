"""The wire behaviours on each transport: the default (aiohttp) one and plain httpx, over real loopback HTTP.

A raw asyncio server plays the platform here, so that it can misbehave in ways the local platform does not:
refuse, hang up, cut a stream short, answer garbage, or never answer.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import aiohttp
import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from orchestrator import (
    OrchestratorError,
    PlatformConnectionError,
    PlatformError,
    PlatformTimeout,
    PlatformUnavailable,
    RateLimitedError,
)
from orchestrator._clock import VirtualClock
from orchestrator.platform import PlatformClient, RetryPolicy, default_transport
from orchestrator.platform._transport import map_aiohttp_error

from ._support import START, TOKEN, elapsed, jsonl

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
MakeTransport = Callable[[], httpx.AsyncBaseTransport]


def plain_httpx() -> httpx.AsyncBaseTransport:
    """httpx's own transport, uncapped as the client configured it before aiohttp became the default."""
    return httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=None, max_keepalive_connections=20))


TRANSPORTS: dict[str, MakeTransport] = {"default": default_transport, "httpx": plain_httpx}


@pytest.fixture(params=sorted(TRANSPORTS))
def make_transport(request: pytest.FixtureRequest) -> MakeTransport:
    """Each transport in turn: the one PlatformClient ships with, and plain httpx."""
    return TRANSPORTS[request.param]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One HTTP/1.1 request (head and Content-Length body); empty if the client went away first."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return b""
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + (await reader.readexactly(length) if length else b"")


def response(status: int, body: object, *, headers: dict[str, str] | None = None) -> bytes:
    content = json.dumps(body).encode()
    lines = [f"HTTP/1.1 {status} X", "content-type: application/json", f"content-length: {len(content)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + content


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """Serve ``handler`` on a free loopback port; yield the base URL. Open connections are closed at the end."""
    writers: set[asyncio.StreamWriter] = set()

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        await handler(reader, writer)

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


def scripted(*answers: bytes, close: bool = True) -> Handler:
    """A handler answering successive requests (one per connection) with ``answers`` (the last repeats)."""
    queue = list(answers)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if await read_request(reader):
                writer.write(queue.pop(0) if len(queue) > 1 else queue[0])
                await writer.drain()
                if not close:
                    await reader.read()  # until the client hangs up
        finally:
            writer.close()

    return handle


def client(
    base_url: str, make_transport: MakeTransport, *, attempts: int = 1, timeout: float = 30.0
) -> PlatformClient:
    return PlatformClient(
        base_url,
        TOKEN,
        transport=make_transport(),
        clock=VirtualClock(start=START),
        retry=RetryPolicy(attempts=attempts, initial_backoff=1.0, max_backoff=8.0, jitter=0),
        timeout=timeout,
    )


def chain(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def assert_no_token(exc: BaseException) -> None:
    for link in chain(exc):
        assert TOKEN not in str(link), link
        assert TOKEN not in repr(link), link


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_refused_connection_is_a_connection_error_and_retried(make_transport: MakeTransport) -> None:
    """A refused connection is a PlatformConnectionError (cause httpx.ConnectError), retried like any other."""
    async with client(f"http://127.0.0.1:{free_port()}", make_transport, attempts=3) as c:
        with pytest.raises(PlatformConnectionError) as caught:
            await c.tasks.fetch("t1")
        assert elapsed(c.clock) == pytest.approx(1.0 + 2.0)  # type: ignore[arg-type]
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert caught.value.url is not None and caught.value.url.endswith("/api/v1/task/t1/fetch")
    assert_no_token(caught.value)


async def test_server_hanging_up_before_answering(make_transport: MakeTransport) -> None:
    """A server that closes the connection without an answer gives PlatformConnectionError (RemoteProtocolError)."""
    async with serving(scripted(b"")) as url, client(url, make_transport) as c:
        with pytest.raises(PlatformConnectionError) as caught:
            await c.tasks.fetch("t1")
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
    assert_no_token(caught.value)


async def test_stream_cut_short_yields_what_came_then_fails(make_transport: MakeTransport) -> None:
    """A chunked stream that ends without its last chunk yields its events, then raises PlatformConnectionError."""
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/jsonl\r\ntransfer-encoding: chunked\r\n\r\n"
    body = chunk(jsonl({"type": "token", "data": {"token": "a"}}, {"type": "token", "data": {"token": "b"}}))
    seen: list[str] = []

    async def read(c: PlatformClient) -> None:
        async with c.channels.subscribe("channel-cut-short") as events:
            async for event in events:
                seen.append(event.data["token"])

    async with serving(scripted(head + body)) as url, client(url, make_transport) as c:
        with pytest.raises(PlatformConnectionError) as caught:
            await read(c)
    assert seen == ["a", "b"]
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
    assert_no_token(caught.value)


async def test_garbage_answer_is_a_connection_error_without_the_token(make_transport: MakeTransport) -> None:
    """A reply that is not HTTP is a PlatformConnectionError; no link of its cause chain shows the token."""
    async with serving(scripted(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")) as url, client(url, make_transport) as c:
        with pytest.raises(PlatformConnectionError) as caught:
            await c.tasks.fetch("t1")
    assert_no_token(caught.value)


async def test_read_timeout_is_a_platform_timeout(make_transport: MakeTransport) -> None:
    """A server that never answers trips the read timeout (real 20 ms: the transport's own timer): PlatformTimeout."""
    async with serving(scripted(b"", close=False)) as url, client(url, make_transport, timeout=0.02) as c:
        with pytest.raises(PlatformTimeout) as caught:
            await c.tasks.fetch("t1")
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert_no_token(caught.value)


async def test_retry_after_and_statuses_over_the_wire(make_transport: MakeTransport) -> None:
    """429 with Retry-After waits that long, 503 backs off, then the answer; the statuses map as on any transport."""
    answers = (
        response(429, {"message": "slow down", "code": "TOO_MANY_REQUESTS"}, headers={"retry-after": "7"}),
        response(503, {"message": "busy"}),
        response(200, {"id": "t1", "name": "ok"}),
    )
    async with serving(scripted(*answers)) as url, client(url, make_transport, attempts=3) as c:
        task = await c.tasks.fetch("t1")
        assert task.id == "t1"
        assert elapsed(c.clock) == pytest.approx(7.0 + 2.0)  # type: ignore[arg-type]
    async with serving(scripted(*answers)) as url, client(url, make_transport, attempts=1) as c:
        with pytest.raises(RateLimitedError) as limited:
            await c.tasks.fetch("t1")
        assert (limited.value.retry_after, limited.value.status) == (7.0, 429)
        with pytest.raises(PlatformUnavailable, match="busy"):
            await c.tasks.fetch("t1")


async def test_open_streams_are_not_capped(make_transport: MakeTransport) -> None:
    """150 subscriptions are open at once (aiohttp's and httpx's default pools would hold the 101st back)."""
    count = 150
    connected = 0
    all_in = anyio.Event()
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/jsonl\r\ntransfer-encoding: chunked\r\n\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connected
        try:
            if await read_request(reader):
                connected += 1
                if connected == count:
                    all_in.set()
                await all_in.wait()  # nobody is answered before every stream is open
                writer.write(head + chunk(jsonl({"type": "result", "data": {"text": "ok"}})) + b"0\r\n\r\n")
                await writer.drain()
        finally:
            writer.close()

    async def read(c: PlatformClient, i: int) -> None:
        async with c.channels.subscribe(f"channel-{i:04d}-open") as events:
            assert [e.type async for e in events] == ["result"]

    async with serving(handle) as url, client(url, make_transport) as c:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for i in range(count):
                    tg.start_soon(read, c, i)
    assert connected == count


def test_aiohttp_failures_map_like_httpcore_ones() -> None:
    """Each aiohttp failure becomes the httpx exception httpcore raises for it, its message free of the token."""
    request = httpx.Request("GET", "http://127.0.0.1:1/api/v1/task/t1/fetch")
    key = aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
    info = aiohttp.RequestInfo(
        URL("http://127.0.0.1:1/"),
        "GET",
        CIMultiDictProxy(CIMultiDict({"authorization": f"Bearer {TOKEN}"})),
    )
    cases: list[tuple[BaseException, type[httpx.TransportError]]] = [
        (aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused")), httpx.ConnectError),
        (aiohttp.ConnectionTimeoutError("connect"), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError("read"), httpx.ReadTimeout),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (aiohttp.ClientPayloadError("cut"), httpx.RemoteProtocolError),
        (
            aiohttp.ClientResponseError(info, (), status=400, message="bad status line"),
            httpx.RemoteProtocolError,
        ),
        (aiohttp.ClientOSError(104, "reset"), httpx.ReadError),
        (aiohttp.ClientError("other"), httpx.TransportError),
        (TimeoutError(), httpx.ReadTimeout),
    ]
    for raw, expected in cases:
        mapped = map_aiohttp_error(raw, request)
        assert type(mapped) is expected, raw
        assert mapped.request is request
        assert TOKEN not in str(mapped)
        # the same, reached through httpx-aiohttp's own (coarser) mapping
        wrapped = httpx.ConnectTimeout("coarse")
        wrapped.__cause__ = raw
        assert type(map_aiohttp_error(wrapped, request)) is expected
    assert map_aiohttp_error(ValueError("not a transport failure"), request) is None


_HEADS = st.sampled_from(
    [
        b"",
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n",
        b"HTTP/1.1 429 X\r\nretry-after: x\r\ncontent-length: 2\r\n\r\n",
        b"HTTP/1.1 500 X\r\ncontent-encoding: gzip\r\ncontent-length: 4\r\n\r\n",
    ]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=_HEADS, tail=st.binary(max_size=80))
def test_any_answer_is_a_value_or_a_platform_error(
    make_transport: MakeTransport, head: bytes, tail: bytes
) -> None:
    """Whatever bytes the server sends before hanging up, a call returns or raises a PlatformError, token-free."""

    async def main() -> None:
        async with serving(scripted(head + tail)) as url, client(url, make_transport) as c:
            failure: OrchestratorError | None = None
            try:
                await c.tasks.fetch("t1")
            except OrchestratorError as exc:
                failure = exc
            if failure is not None:
                assert isinstance(failure, PlatformError)
                assert_no_token(failure)

    asyncio.run(main())
