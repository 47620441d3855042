"""The dashboard suite: a local platform and an orchestrator on a manual virtual clock, the dashboard served on
loopback, and (for the browser tests) headless Chromium driven by Playwright.

The clock does not autojump: a page is opened first, then the test moves platform time with ``clock.advance`` and
checks, through the browser, what changed without a reload.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from orchestrator import Job, Orchestrator, Prompt, VirtualClock, job
from orchestrator.dashboard import dashboard_app, serve_dashboard
from orchestrator.local import LocalPlatform
from orchestrator.testing.fixtures import hosted

T = TypeVar("T")

TOKEN = "dashboard-test-token"
START = datetime(2026, 3, 23, 9, 0, tzinfo=UTC)  # a Monday morning
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@job(runtime="10m", name="triage")
def triage(text: str) -> Prompt:
    """A dispatch: the text carries the simulated agent's directives."""
    return Prompt(text=text)


@job(runtime="2h", cancellable=True, name="analyse")
def analyse(text: str) -> Prompt:
    """A cancellable task."""
    return Prompt(text=text, backstory="You analyse documents.")


@job(schedule="0 7 * * 1-5", timezone="Europe/London", runtime="20m", name="nightly")
def nightly() -> Prompt:
    """A scheduled task."""
    return Prompt(text="Summarise the day. [[tokens 3]]", backstory="You write summaries.")


@dataclass
class Env:
    """A running orchestrator and its dashboard."""

    url: str
    orc: Orchestrator
    clock: VirtualClock
    platform: LocalPlatform
    app: Any

    def client(self, *, auth: bool = True) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {TOKEN}"} if auth else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10)

    async def drive(self, aw: Awaitable[T], *, step: float = 5.0, limit: float = 6 * 3600) -> T:
        """Await ``aw`` while moving platform time on in steps (the clock does not move by itself)."""
        task = asyncio.ensure_future(aw)
        moved = 0.0
        while not task.done():
            if moved > limit:
                task.cancel()
                raise AssertionError(f"still waiting after {limit}s of platform time")
            await self.clock.advance(step)
            moved += step
            await asyncio.sleep(0)
        return task.result()


def jobs() -> list[Job[Any]]:
    return [triage, analyse, nightly]


@asynccontextmanager
async def running(store: str = "memory://", **app_options: Any) -> AsyncIterator[Env]:
    """The local platform, an orchestrator with the suite's jobs, and its dashboard on loopback."""
    clock = VirtualClock(start=START, autojump=False)
    async with LocalPlatform(clock=clock) as platform:
        orc = Orchestrator(platform=platform.client(), store=store, clock=clock, jobs=jobs(), environ={})
        async with orc:
            options = {"token": TOKEN, "poll_interval": 0.02, "tick": 0.02, **app_options}
            app = dashboard_app(orc, **options)
            async with serve_dashboard(app, port=0) as url:
                yield Env(url=url, orc=orc, clock=clock, platform=platform, app=app)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    """The suite's orchestrator (memory store) and its dashboard, hosted in one task."""
    async for e in hosted(running()):
        yield e


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless Chromium, driven by Playwright (no browser download)."""
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser, env: Env) -> AsyncIterator[Page]:
    """A page signed in to the dashboard (the ?token= login sets the session cookie)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    opened = await context.new_page()
    response = await opened.goto(f"{env.url}/?token={TOKEN}")
    assert response is not None and response.ok
    try:
        yield opened
    finally:
        await context.close()
