"""A local platform on a virtual clock, and orchestrators bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .._clock import VirtualClock
from .._orchestrator import Orchestrator
from ..jobs import Job
from ..local import LocalPlatform
from ..store import JobStore

__all__ = ["Harness", "local_harness"]

DEFAULT_START = datetime(2026, 3, 23, 0, 0, tzinfo=UTC)  # a Monday, the week the UK moves to summer time


@dataclass
class Harness:
    """A running local platform and the clock it shares with the orchestrators made from it."""

    platform: LocalPlatform
    clock: VirtualClock

    def orchestrator(
        self, *, jobs: Sequence[Job[Any]] | None = None, store: str | JobStore = "memory://", **kwargs: Any
    ) -> Orchestrator:
        """An orchestrator on this platform and clock (memory store unless given)."""
        return Orchestrator(
            platform=self.platform.client(), store=store, clock=self.clock, jobs=jobs, **kwargs
        )


@asynccontextmanager
async def local_harness(
    *, clock: VirtualClock | None = None, start: datetime = DEFAULT_START, **platform_kwargs: Any
) -> AsyncIterator[Harness]:
    """Serve a :class:`LocalPlatform` on loopback with a :class:`VirtualClock` (autojump) for the block."""
    clock = clock or VirtualClock(start=start)
    async with LocalPlatform(clock=clock, **platform_kwargs) as platform:
        yield Harness(platform=platform, clock=clock)
