"""Fixtures for the local platform tests: a served platform on a virtual clock, a client (on each transport),
a raw httpx client.

A platform owns an anyio task group, which must be entered and left by one task; pytest-asyncio runs fixture
setup and teardown in different tasks, so the fixture hosts the platform in a task of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from orchestrator._clock import VirtualClock
from orchestrator.local import LocalPlatform
from orchestrator.platform import PlatformClient

from .._token import SUITE_TOKEN


@asynccontextmanager
async def hosted(platform: LocalPlatform) -> AsyncIterator[LocalPlatform]:
    """Serve ``platform`` from a task of its own for the duration of the block."""
    started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()

    async def host() -> None:
        async with platform:
            started.set_result(None)
            await stop.wait()

    task = asyncio.create_task(host())
    await asyncio.wait({started, task}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    try:
        yield platform
    finally:
        stop.set()
        await task


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def platform(clock: VirtualClock) -> AsyncIterator[LocalPlatform]:
    async with hosted(LocalPlatform(clock=clock, token=SUITE_TOKEN)) as p:
        yield p


@pytest.fixture(params=["default", "httpx"])
async def client(platform: LocalPlatform, request: pytest.FixtureRequest) -> AsyncIterator[PlatformClient]:
    """A client on ``platform``: over the default transport, and over plain httpx (httpcore)."""
    transport = None
    if request.param == "httpx":
        transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=None))
    async with platform.client(transport=transport) as c:
        yield c


@pytest.fixture
async def raw(platform: LocalPlatform) -> AsyncIterator[httpx.AsyncClient]:
    """A plain httpx client on ``/api/v1`` with the token, for details the PlatformClient hides."""
    headers = {"authorization": f"Bearer {platform.token}"}
    async with httpx.AsyncClient(base_url=platform.base_url + "/api/v1", headers=headers) as c:
        yield c
