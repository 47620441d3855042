"""The embedded uvicorn server's lifecycle: stopped or cancelled, it releases its socket and its connections, so
that later servers in the same event loop serve."""

from __future__ import annotations

from typing import Literal

import anyio
import httpx
import pytest
from starlette.types import Receive, Scope, Send

from orchestrator._clock import VirtualClock
from orchestrator.local import LocalPlatform
from orchestrator.local._server import EmbeddedServer, bind_socket

from ._util import ask, serve_app


async def no_content(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app answering every request with 204 No Content."""
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize("leave", ["return", "cancel"])
async def test_local_platforms_one_after_another_in_one_event_loop_serve(
    leave: Literal["return", "cancel"],
) -> None:
    """A LocalPlatform left (normally or by cancellation) and then a new one entered, twice, serves each time."""
    for attempt in range(3):
        with anyio.CancelScope() as scope, anyio.fail_after(10):
            async with LocalPlatform(clock=VirtualClock()) as platform, platform.client() as client:
                answer = await client.conversations.complete(ask(f"run {attempt}"))
                assert answer.text == f"Done: run {attempt}"
                if leave == "cancel":
                    scope.cancel()
                    await anyio.sleep_forever()
        assert scope.cancelled_caught == (leave == "cancel")


async def test_cancelled_server_cancels_open_requests_and_lets_the_cancellation_through() -> None:
    """Cancelling EmbeddedServer.serve() ends open requests at once, closes its socket and re-raises."""
    opened = anyio.Event()
    request_cancelled = anyio.Event()

    async def hanging(scope: Scope, receive: Receive, send: Send) -> None:
        opened.set()
        try:
            await anyio.sleep_forever()
        finally:
            request_cancelled.set()

    sock = bind_socket("127.0.0.1", 0)
    server = EmbeddedServer(hanging)
    outcomes: list[object] = []

    async def call(client: httpx.AsyncClient) -> None:
        try:
            outcomes.append((await client.get(f"http://127.0.0.1:{sock.getsockname()[1]}/")).status_code)
        except httpx.TransportError as exc:
            outcomes.append(type(exc))

    with anyio.fail_after(10):
        async with httpx.AsyncClient() as client, anyio.create_task_group() as outer:
            outer.start_soon(call, client)
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(server.serve, [sock])
                    await opened.wait()
                    scope.cancel()
    assert scope.cancelled_caught
    assert request_cancelled.is_set()
    assert outcomes in ([500], [httpx.RemoteProtocolError])  # uvicorn answers 500 when it can
    assert not server.server_state.tasks
    assert not server.server_state.connections
    assert sock.fileno() == -1


@pytest.mark.parametrize("checkpoints", range(4))
async def test_server_cancelled_while_starting_leaves_no_listener_behind(checkpoints: int) -> None:
    """An EmbeddedServer cancelled while it starts up releases its socket: the next server answers."""
    with anyio.CancelScope() as scope:
        async with serve_app(no_content):
            for _ in range(checkpoints):
                await anyio.lowlevel.checkpoint()
            scope.cancel()
    with anyio.fail_after(10):
        async with serve_app(no_content) as url, httpx.AsyncClient() as client:
            assert (await client.get(url + "/")).status_code == 204
