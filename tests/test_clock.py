"""The clocks: virtual time by autojump, by advance(), at a time scale; timeouts on a clock."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from orchestrator import SystemClock, VirtualClock
from orchestrator._clock import fail_after, move_on_after


async def test_autojump_skips_to_each_deadline_in_order() -> None:
    """With every task waiting on the clock, time jumps to the next deadline; waiters wake in deadline order."""
    clock = VirtualClock(start=0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, delay: float | timedelta) -> None:
        await clock.sleep(delay)
        woke.append((name, clock.time()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper, "hour", 3600)
        tg.start_soon(sleeper, "minute", 60)
        tg.start_soon(sleeper, "day", timedelta(days=1))
    assert woke == [("minute", 60.0), ("hour", 3600.0), ("day", 86400.0)]


async def test_autojump_waits_while_the_loop_is_busy() -> None:
    """Time does not jump while other work is runnable."""
    clock = VirtualClock(start=0)
    done = asyncio.Event()

    async def busy() -> None:
        for _ in range(200):
            await asyncio.sleep(0)
        done.set()

    task = asyncio.create_task(busy())
    await clock.sleep(10)
    assert done.is_set()
    await task


async def test_hold_stops_autojump() -> None:
    """While a hold is taken (thread work the loop cannot see), time stands still."""
    clock = VirtualClock(start=0)
    with clock.hold():
        async with move_on_after(SystemClock(), 0.02):
            await clock.sleep(5)
        assert clock.time() == 0
    await clock.sleep(5)
    assert clock.time() == 5


async def test_advance_without_autojump() -> None:
    """With autojump off, time moves only on advance(), firing timers on the way in order."""
    clock = VirtualClock(start=0, autojump=False)
    fired: list[float] = []

    async def sleeper(delay: float) -> None:
        await clock.sleep(delay)
        fired.append(clock.time())

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper, 30)
        tg.start_soon(sleeper, 10)
        await anyio.sleep(0.01)
        assert fired == []
        await clock.advance(20)
        assert fired == [10.0]
        await clock.advance(timedelta(seconds=15))
    assert fired == [10.0, 30.0]
    assert clock.time() == 35


async def test_time_scale_runs_faster_than_real_time() -> None:
    """time_scale=N makes N virtual seconds pass per real second."""
    clock = VirtualClock(start=0, time_scale=1000)
    t0 = time.monotonic()
    await clock.sleep(20)
    assert time.monotonic() - t0 < 1
    assert clock.time() >= 20


async def test_fail_after_and_move_on_after_use_the_clock() -> None:
    """Timeouts are measured on the clock, not the loop's real time."""
    clock = VirtualClock(start=0)
    async with move_on_after(clock, 60) as scope:
        await clock.sleep(3600)
    assert scope.cancelled_caught
    assert clock.time() == 60
    with pytest.raises(TimeoutError):
        async with fail_after(clock, timedelta(minutes=5)):
            await clock.sleep(3600)
    assert clock.time() == 360


def test_start_and_now() -> None:
    """A clock starts where told; now() is an aware UTC datetime; naive datetimes are refused."""
    start = datetime(2026, 3, 23, 7, 0, tzinfo=UTC)
    clock = VirtualClock(start=start)
    assert clock.now() == start
    assert "2026-03-23" in repr(clock)
    with pytest.raises(ValueError, match="naive"):
        VirtualClock(start=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="positive"):
        VirtualClock(time_scale=0)


async def test_sleep_until_past_deadline_returns_at_once() -> None:
    """sleep_until a time already passed does not wait (and does not move time)."""
    clock = VirtualClock(start=100)
    await clock.sleep_until(50)
    assert clock.time() == 100


async def test_cancelled_sleeper_leaves_no_timer() -> None:
    """A cancelled sleep removes its timer, so autojump does not jump to it."""
    clock = VirtualClock(start=0)
    async with move_on_after(clock, 10):
        await clock.sleep(1000)
    await clock.sleep(1)
    assert clock.time() == 11


async def test_advance_waits_for_work_under_hold_before_moving_on() -> None:
    """advance() lets work the loop cannot see (a thread, under hold()) finish before it moves time further."""
    clock = VirtualClock(autojump=False)
    start = clock.time()
    seen: list[float] = []

    async def worker() -> None:
        await clock.sleep(10)
        with clock.hold():  # like the SQLite store's thread: the loop looks idle while it runs
            await anyio.to_thread.run_sync(threading.Event().wait, 0.05)
        seen.append(clock.time() - start)

    async with anyio.create_task_group() as tg:
        tg.start_soon(worker)
        await clock.advance(0)
        await clock.advance(20)
    assert seen == [10.0]
