"""Helpers shared by the local platform tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from starlette.types import ASGIApp

from orchestrator.local import LocalPlatform
from orchestrator.local._server import EmbeddedServer, bind_socket
from orchestrator.platform import PlatformClient, StreamEvent


async def active_runs_reach(platform: LocalPlatform, count: int) -> bool:
    """Whether the platform's active runs reach ``count`` within two seconds: the server notices a closed
    connection (or a new request) through real socket I/O, so this gives it a few milliseconds at a time."""
    for _ in range(400):
        if platform.active_runs == count:
            return True
        await asyncio.sleep(0.005)
    return False


def ask(text: str, **extra: Any) -> dict[str, Any]:
    """A stateless body with one user message."""
    return {"messages": [{"type": "user", "text": text}], **extra}


def channel_id() -> str:
    """A fresh client-chosen channel id (32 characters)."""
    return uuid.uuid4().hex


async def until_terminal(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    """The inner events of a channel subscription, up to and including ``result`` or ``error``."""
    out = []
    async for event in events:
        inner = event.inner()
        if inner is None:
            continue
        out.append(inner)
        if inner.is_terminal:
            break
    return out


async def dispatch_and_collect(
    client: PlatformClient, body: dict[str, Any], **kwargs: Any
) -> list[StreamEvent]:
    """Dispatch, subscribe with history, and return the run's inner events up to the terminal one."""
    channel = await client.conversations.dispatch(body, **kwargs)
    async with client.channels.subscribe(channel, history_length=1000) as events:
        return await until_terminal(events)


def function(name: str, *, result: dict[str, Any] | None = None) -> dict[str, Any]:
    """A function declaration with an empty parameter schema."""
    declared: dict[str, Any] = {
        "name": name,
        "description": f"the {name} tool",
        "parameters": {"type": "object", "properties": {}},
    }
    if result is not None:
        declared["result"] = result
    return declared


@asynccontextmanager
async def serve_app(app: ASGIApp) -> AsyncIterator[str]:
    """``app`` served by an ``EmbeddedServer`` on a free loopback port for the block; yields its URL."""
    sock = bind_socket("127.0.0.1", 0)
    server = EmbeddedServer(app)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        try:
            yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.stop()
