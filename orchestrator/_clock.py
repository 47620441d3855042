"""Time, injectable: every wait and every reading of time in the package goes through a :class:`Clock`.

:class:`SystemClock` is wall time. :class:`VirtualClock` is time that moves only when told to
(``await clock.advance(delta)``), by *autojump* (when every task is waiting on the clock, jump to the next
deadline), or at a multiple of real time (``time_scale=N``). The orchestrator and the local platform share one clock
object when they run in one process, so hours of agent work pass in milliseconds.

Timeouts use :func:`move_on_after` / :func:`fail_after` with a clock, never ``anyio.fail_after`` (which reads the
event loop's real clock).

Longer than 300 lines because :class:`VirtualClock`'s timer heap, autojump, ``advance`` and time scale share private
state that splitting would expose; the timeout helpers sit beside it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time as _time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

import anyio

from ._duration import parse_duration

__all__ = [
    "Clock",
    "SystemClock",
    "TimerHandle",
    "VirtualClock",
    "fail_after",
    "move_on_after",
    "to_seconds",
]


def to_seconds(delay: float | timedelta | str) -> float:
    """A delay as float seconds (``timedelta``, number, or a duration string such as ``"15m"``)."""
    if isinstance(delay, timedelta):
        return delay.total_seconds()
    if isinstance(delay, str):
        return parse_duration(delay, what="delay").total_seconds()
    return float(delay)


def _to_epoch(when: float | datetime) -> float:
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError(
                f"naive datetime {when.isoformat()} has no timezone: pass an aware datetime (UTC)"
            )
        return when.timestamp()
    return float(when)


class TimerHandle(Protocol):
    """A scheduled callback that can be cancelled."""

    def cancel(self) -> None: ...


@runtime_checkable
class Clock(Protocol):
    """What the package needs of time. Implement it to drive the orchestrator from your own clock."""

    def time(self) -> float:
        """Seconds since the epoch (like ``time.time()``)."""
        ...

    def now(self) -> datetime:
        """The current time as an aware UTC datetime."""
        ...

    async def sleep(self, delay: float | timedelta) -> None:
        """Wait ``delay`` (seconds or a timedelta) of this clock's time."""
        ...

    async def sleep_until(self, deadline: float | datetime) -> None:
        """Wait until this clock reads ``deadline`` (epoch seconds or an aware datetime)."""
        ...

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` on the event loop once this clock reads ``when`` (epoch seconds)."""
        ...


class SystemClock:
    """Wall-clock time and real sleeping."""

    def time(self) -> float:
        return _time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, delay: float | timedelta) -> None:
        await anyio.sleep(max(0.0, to_seconds(delay)))

    async def sleep_until(self, deadline: float | datetime) -> None:
        await anyio.sleep(max(0.0, _to_epoch(deadline) - _time.time()))

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(max(0.0, when - _time.time()), callback)

    def __repr__(self) -> str:
        return "SystemClock()"


@dataclass(order=True)
class _Timer:
    deadline: float
    seq: int
    callback: Callable[[], object] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """A clock whose time moves only when told, by autojump, or at a multiple of real time.

    Args:
        start: the time the clock reads at first (epoch seconds or an aware datetime); defaults to now, rounded
            down to the second.
        autojump: when every task is waiting (no runnable work for ``autojump_threshold`` seconds of real time),
            jump to the next deadline. Defaults to ``True`` unless ``time_scale`` is given.
        time_scale: run this many times faster than real time (for demos). Autojump still applies if asked for.
        autojump_threshold: the real time, in seconds, the event loop must stay idle before a jump.

    The clock serves one event loop at a time: the loop that registers its first timer.
    """

    def __init__(
        self,
        *,
        start: float | datetime | None = None,
        autojump: bool | None = None,
        time_scale: float | None = None,
        autojump_threshold: float = 0.003,
    ) -> None:
        if time_scale is not None and time_scale <= 0:
            raise ValueError(f"time_scale must be positive, got {time_scale!r}")
        self._offset = float(int(_time.time())) if start is None else _to_epoch(start)
        self._scale = float(time_scale or 0.0)
        self._real0 = _time.monotonic()
        self._autojump = (time_scale is None) if autojump is None else autojump
        self._threshold = autojump_threshold
        self._timers: list[_Timer] = []
        self._seq = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tick_handle: asyncio.Handle | None = None
        self._wake_handle: asyncio.TimerHandle | None = None
        self._idle_ticks = 0
        self._holds = 0

    # -- reading -------------------------------------------------------------------------------------------

    @property
    def autojump(self) -> bool:
        return self._autojump

    @property
    def time_scale(self) -> float | None:
        return self._scale or None

    def time(self) -> float:
        if self._scale:
            return self._offset + (_time.monotonic() - self._real0) * self._scale
        return self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def __repr__(self) -> str:
        mode = f"time_scale={self._scale:g}" if self._scale else "virtual"
        return f"VirtualClock(now={self.now().isoformat()}, {mode}, autojump={self._autojump})"

    # -- waiting -------------------------------------------------------------------------------------------

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        self._bind_loop()
        timer = _Timer(float(when), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        self._idle_ticks = 0
        self._reschedule()
        return timer

    async def sleep(self, delay: float | timedelta) -> None:
        await self.sleep_until(self.time() + max(0.0, to_seconds(delay)))

    async def sleep_until(self, deadline: float | datetime) -> None:
        when = _to_epoch(deadline)
        if when <= self.time():
            await anyio.lowlevel.checkpoint()
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def _wake() -> None:
            if not fut.done():
                fut.set_result(None)

        timer = self.call_at(when, _wake)
        try:
            await fut
        finally:
            timer.cancel()

    # -- moving --------------------------------------------------------------------------------------------

    async def advance(self, delta: float | timedelta) -> None:
        """Move time forward by ``delta``, firing every timer due on the way, in order.

        Between timers the event loop runs until it is idle, so that woken tasks can react (and set new timers)
        before time moves on.
        """
        target = self.time() + max(0.0, to_seconds(delta))
        while True:
            self._drop_cancelled()
            if not self._timers or self._timers[0].deadline > target:
                break
            self._set_time(self._timers[0].deadline)
            self._fire_due()
            await self._settle()
        self._set_time(max(target, self.time()))
        self._fire_due()
        await self._settle()

    def jump(self, delta: float | timedelta) -> None:
        """Move time forward at once by ``delta`` and fire every timer now due (no settling between them)."""
        self._set_time(self.time() + max(0.0, to_seconds(delta)))
        self._fire_due()

    def hold(self) -> _Hold:
        """A context manager that stops autojump while it is held (for work the loop cannot see, e.g. threads)."""
        return _Hold(self)

    # -- internals -----------------------------------------------------------------------------------------

    def _kick(self) -> None:
        """Look for idleness again now (the thread work a hold covered is done)."""
        loop = self._loop
        if self._holds or loop is None or loop.is_closed() or not self._autojump:
            return
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        if self._timers:
            self._schedule_tick(loop)

    def _set_time(self, when: float) -> None:
        if self._scale:
            self._offset += max(0.0, when - self.time())
        else:
            self._offset = max(self._offset, when)

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._tick_handle = None
            self._wake_handle = None
            # timers of a loop that is gone can never fire their callbacks usefully
            self._timers = [t for t in self._timers if not t.cancelled]

    def _drop_cancelled(self) -> None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)

    def _fire_due(self) -> None:
        now = self.time()
        due: list[_Timer] = []
        self._drop_cancelled()
        while self._timers and self._timers[0].deadline <= now:
            timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                due.append(timer)
            self._drop_cancelled()
        for timer in due:
            timer.cancelled = True
            timer.callback()
        if due:
            self._idle_ticks = 0
        self._reschedule()

    def _reschedule(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        self._drop_cancelled()
        if self._scale:
            if self._wake_handle is not None:
                self._wake_handle.cancel()
                self._wake_handle = None
            if self._timers:
                real_delay = max(0.0, (self._timers[0].deadline - self.time()) / self._scale)
                self._wake_handle = loop.call_later(real_delay, self._on_wake)
        if self._autojump and self._timers and self._tick_handle is None:
            self._schedule_tick(loop)

    def _schedule_tick(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._holds:
            # work the loop cannot see (a thread) is under way: look again shortly
            self._tick_handle = loop.call_later(self._threshold / 3, self._on_tick)
        else:
            self._tick_handle = loop.call_soon(self._on_tick)

    def _on_wake(self) -> None:
        self._wake_handle = None
        self._fire_due()

    def _loop_busy(self) -> bool:
        """Whether the loop has runnable callbacks, or sockets ready to read or write."""
        loop = self._loop
        if getattr(loop, "_ready", None):
            return True
        selector = getattr(loop, "_selector", None)
        if selector is None:
            return False
        try:
            # level-triggered: looking does not consume readiness
            return bool(selector.select(0))
        except (OSError, ValueError):
            return False

    def _on_tick(self) -> None:
        self._tick_handle = None
        self._drop_cancelled()
        if not self._timers:
            self._idle_ticks = 0
            return
        if self._holds or self._loop_busy():
            self._idle_ticks = 0
        else:
            self._idle_ticks += 1
        if self._idle_ticks >= 2:
            # two loop iterations in a row with nothing runnable and no I/O: every task waits on the clock
            self._idle_ticks = 0
            self._set_time(self._timers[0].deadline)
            self._fire_due()
        if (
            self._tick_handle is None
            and self._timers
            and self._loop is not None
            and not self._loop.is_closed()
        ):
            self._schedule_tick(self._loop)

    async def _settle(self) -> None:
        # let woken tasks run until nothing is runnable (bounded, so a busy loop cannot hang advance()); work the
        # loop cannot see (a store's thread, under hold()) counts as runnable: waited for, in real time, up to 1 s
        for _ in range(1000):
            if self._holds:
                await asyncio.sleep(0.001)
                continue
            await asyncio.sleep(0)
            if not self._loop_busy():
                await asyncio.sleep(0)
                if not self._loop_busy() and not self._holds:
                    return


class _Hold:
    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def __enter__(self) -> None:
        self._clock._holds += 1

    def __exit__(self, *exc: object) -> None:
        self._clock._holds -= 1
        self._clock._kick()


@asynccontextmanager
async def move_on_after(
    clock: Clock, delay: float | timedelta | str | None
) -> AsyncIterator[anyio.CancelScope]:
    """Like ``anyio.move_on_after``, on ``clock``'s time. ``None`` means no deadline."""
    with anyio.CancelScope() as scope:
        timer = None if delay is None else clock.call_at(clock.time() + to_seconds(delay), scope.cancel)
        try:
            yield scope
        finally:
            if timer is not None:
                timer.cancel()


@asynccontextmanager
async def fail_after(clock: Clock, delay: float | timedelta | str | None) -> AsyncIterator[anyio.CancelScope]:
    """Like ``anyio.fail_after``, on ``clock``'s time: raises ``TimeoutError`` when the deadline passes."""
    async with move_on_after(clock, delay) as scope:
        yield scope
    if scope.cancelled_caught:
        raise TimeoutError(f"deadline of {to_seconds(delay or 0):g}s passed")
