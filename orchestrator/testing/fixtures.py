"""pytest fixtures: ``pytest_plugins = ["orchestrator.testing.fixtures"]`` in a conftest.py.

- ``virtual_clock``: a :class:`VirtualClock` (autojump) starting Monday 2026-03-23 00:00 UTC.
- ``harness``: a :class:`Harness` (local platform on loopback, on ``virtual_clock``).
- ``log_events``: the structlog events emitted during the test (a list of dicts).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, MutableMapping
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import pytest
from structlog.testing import capture_logs

from .._clock import VirtualClock
from ._harness import DEFAULT_START, Harness, local_harness

T = TypeVar("T")


async def hosted(cm: AbstractAsyncContextManager[T]) -> AsyncIterator[T]:
    """Enter and exit ``cm`` in one dedicated task.

    pytest-asyncio may run an async fixture's setup and teardown in different tasks, and an anyio task group
    (which the local platform owns) must be exited by the task that entered it.
    """
    ready: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()

    async def host() -> None:
        try:
            async with cm as value:
                ready.set_result(value)
                await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    task = asyncio.create_task(host())
    try:
        yield await ready
    finally:
        stop.set()
        await task


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """A virtual clock with autojump."""
    return VirtualClock(start=DEFAULT_START)


@pytest.fixture
async def harness(virtual_clock: VirtualClock) -> AsyncIterator[Harness]:
    """A local platform on loopback sharing ``virtual_clock``."""
    async for h in hosted(local_harness(clock=virtual_clock)):
        yield h


@pytest.fixture
def log_events() -> Iterator[list[MutableMapping[str, Any]]]:
    """Structlog events captured during the test."""
    with capture_logs() as logs:
        yield logs
