"""Retries: what is retried and what never is, backoff and Retry-After on the client's clock, exhaustion."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from orchestrator import (
    ConfigurationError,
    NotFoundError,
    PlatformConnectionError,
    PlatformError,
    PlatformTimeout,
    PlatformUnavailable,
    RateLimitedError,
)
from orchestrator._clock import VirtualClock
from orchestrator.platform import PlatformClient, RetryPolicy

from ._support import START, Recorder, client_for, jsonl, raises, reply

CHANNEL = "d" * 32
Call = Callable[[PlatformClient], Awaitable[Any]]
OK = reply(200, {"id": "x1", "items": [], "channelId": CHANNEL, "text": "t"})
STREAM_OK = reply(200, content=jsonl({"type": "nop"}), headers={"content-type": "application/jsonl"})


async def _drain(client: PlatformClient, open_stream: Callable[[PlatformClient], Any]) -> None:
    async with open_stream(client) as events:
        async for _ in events:
            pass


RETRIED: dict[str, tuple[Call, Any]] = {
    "fetch": (lambda c: c.tasks.fetch("t1"), OK),
    "list page": (lambda c: _list(c.conversations.list()), OK),
    "messages page": (lambda c: _list(c.conversations.messages("c1")), OK),
    "executions page": (lambda c: _list(c.tasks.executions("t1")), OK),
    "bot fetch": (lambda c: c.bots.fetch("b1"), OK),
    "event log page": (lambda c: _list(c.events.list()), OK),
    "task cancel": (lambda c: c.tasks.cancel("t1"), OK),
    "execution cancel": (lambda c: c.tasks.cancel_execution("t1", "x1"), OK),
    "dispatch with channel_id": (lambda c: c.conversations.dispatch({}, channel_id=CHANNEL), OK),
    "dispatch with channelId in body": (lambda c: c.conversations.dispatch({"channelId": CHANNEL}), OK),
    "channel subscribe": (lambda c: _drain(c, lambda c: c.channels.subscribe(CHANNEL)), STREAM_OK),
    "monitor": (lambda c: _drain(c, lambda c: c.conversations.monitor("c1")), STREAM_OK),
    "task subscribe": (lambda c: _drain(c, lambda c: c.tasks.subscribe("t1")), STREAM_OK),
    "event log subscribe": (lambda c: _drain(c, lambda c: c.events.subscribe()), STREAM_OK),
    "task update": (lambda c: c.tasks.update("t1", {"name": "n"}), OK),
    "task delete": (lambda c: c.tasks.delete("t1"), OK),
    "bot update": (lambda c: c.bots.update("b1", {"name": "n"}), OK),
    "bot delete": (lambda c: c.bots.delete("b1"), OK),
    "conversation update": (lambda c: c.conversations.update("c1", {"name": "n"}), OK),
    "conversation delete": (lambda c: c.conversations.delete("c1"), OK),
}

NEVER_RETRIED: dict[str, Call] = {
    "conversation create": lambda c: c.conversations.create({}),
    "task create": lambda c: c.tasks.create({}),
    "bot create": lambda c: c.bots.create({}),
    "message create": lambda c: c.conversations.create_message("c1", {"type": "user", "text": "t"}),
    "trigger": lambda c: c.tasks.trigger("t1"),
    "publish": lambda c: c.channels.publish(CHANNEL, {"data": 1}),
    "complete": lambda c: c.conversations.complete({}),
    "stream complete": lambda c: _drain(c, lambda c: c.conversations.stream({})),
    "send": lambda c: c.conversations.send("c1", {"text": "t"}),
    "receive": lambda c: c.conversations.receive("c1"),
    "dispatch without channel id": lambda c: c.conversations.dispatch({}),
    "conversation update with messages": lambda c: c.conversations.update(
        "c1", {"messages": [{"type": "user", "text": "t"}]}
    ),
}


async def _list(items: Any) -> list[Any]:
    return [item async for item in items]


@pytest.mark.parametrize("name", list(RETRIED))
@pytest.mark.parametrize(
    "failure",
    [
        reply(429, {"message": "slow"}),
        reply(502, content=b"bad gateway"),
        reply(503, {"message": "down"}),
        reply(504, {}),
        raises(httpx.ConnectError),
        raises(httpx.ReadTimeout),
    ],
    ids=["429", "502", "503", "504", "connect", "timeout"],
)
async def test_safe_requests_are_retried_with_backoff_on_the_clock(name: str, failure: Any) -> None:
    """Reads, subscribes, cancels, updates, deletes and keyed dispatches retry transient failures after 1, 2, 4 s."""
    call, ok = RETRIED[name]
    clock = VirtualClock(start=START)
    recorder = Recorder(failure, failure, failure, ok, clock=clock)
    started = time.monotonic()
    async with client_for(recorder, clock=clock) as client:
        await call(client)
    assert len(recorder.requests) == 4
    assert recorder.times == [0.0, 1.0, 3.0, 7.0]
    assert time.monotonic() - started < 2.0  # virtual time: nobody waited seven seconds


@pytest.mark.parametrize("name", list(NEVER_RETRIED))
async def test_unsafe_requests_are_never_retried(name: str) -> None:
    """Creates, triggers, publish, completions, unkeyed dispatch and a message-adding update are sent once."""
    recorder = Recorder(reply(503, {"message": "down"}), OK)
    async with client_for(recorder) as client:
        with pytest.raises(PlatformUnavailable, match="down"):
            await NEVER_RETRIED[name](client)
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "failure",
    [
        reply(500, {"message": "bug"}),
        reply(404, {}),
        reply(400, {}),
        reply(401, {}),
        reply(200, content=b"{oops"),
    ],
    ids=["500", "404", "400", "401", "bad-json"],
)
async def test_permanent_failures_are_not_retried(failure: Any) -> None:
    """500, 4xx other than 429, and undecodable answers fail at once, even on reads."""
    recorder = Recorder(failure, OK)
    async with client_for(recorder) as client:
        with pytest.raises(PlatformError):
            await client.tasks.fetch("t1")
    assert len(recorder.requests) == 1


async def test_exhausted_retries_raise_the_last_mapped_error() -> None:
    """When every attempt fails, the last attempt's mapped error is raised (never tenacity.RetryError)."""
    clock = VirtualClock(start=START)
    recorder = Recorder(
        reply(503, {"message": "first"}),
        raises(httpx.ConnectError, "second"),
        reply(429, {"message": "third"}),
        raises(httpx.ReadTimeout, "last one"),
        clock=clock,
    )
    async with client_for(recorder, clock=clock) as client:
        with pytest.raises(PlatformTimeout, match="last one") as caught:
            await client.tasks.fetch("t1")
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert len(recorder.requests) == 4
    assert recorder.times == [0.0, 1.0, 3.0, 7.0]


async def test_retry_after_wins_when_longer_and_is_capped() -> None:
    """Retry-After replaces a shorter backoff, is capped by max_backoff, and a longer backoff wins over it."""
    clock = VirtualClock(start=START)
    recorder = Recorder(
        reply(429, {}, headers={"retry-after": "5"}),  # backoff 1 -> 5
        reply(429, {}, headers={"retry-after": "100"}),  # backoff 2 -> capped at 8
        reply(429, {}, headers={"retry-after": "0.5"}),  # backoff 4 wins
        OK,
        clock=clock,
    )
    async with client_for(recorder, clock=clock) as client:
        await client.tasks.fetch("t1")
    assert recorder.times == [0.0, 5.0, 13.0, 17.0]


@pytest.mark.parametrize("status", [503, 502, 504])
async def test_retry_after_is_honoured_on_5xx_as_on_429(status: int) -> None:
    """A 503 (or 502/504) with Retry-After waits that long before the retry, capped, and exposes retry_after."""
    clock = VirtualClock(start=START)
    recorder = Recorder(
        reply(status, {"message": "busy"}, headers={"retry-after": "6"}),  # backoff 1 -> 6
        reply(status, {}, headers={"retry-after": "100"}),  # backoff 2 -> capped at 8
        OK,
        clock=clock,
    )
    async with client_for(recorder, clock=clock) as client:
        await client.tasks.fetch("t1")
    assert recorder.times == [0.0, 6.0, 14.0]
    async with client_for(Recorder(reply(503, {}, headers={"retry-after": "2"}))) as client:
        with pytest.raises(PlatformUnavailable) as caught:
            await client.tasks.fetch("t1")
    assert caught.value.retry_after == 2.0


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.tasks.delete("t1"),
        lambda c: c.bots.delete("t1"),
        lambda c: c.conversations.delete("t1"),
    ],
    ids=["task", "bot", "conversation"],
)
async def test_a_delete_retried_after_it_landed_reports_success(call: Call) -> None:
    """A delete whose first answer was lost (503) and whose retry finds nothing (404) returns the id."""
    recorder = Recorder(reply(503, {}), reply(404, {"message": "gone", "code": "NOT_FOUND"}))
    async with client_for(recorder) as client:
        assert await call(client) == "t1"
    assert len(recorder.requests) == 2
    async with client_for(Recorder(reply(404, {"message": "no such", "code": "NOT_FOUND"}))) as client:
        with pytest.raises(NotFoundError, match="no such"):
            await call(client)


async def test_retry_after_http_date_is_honoured() -> None:
    """An HTTP-date Retry-After waits until that moment of the client's clock."""
    clock = VirtualClock(start=START)
    recorder = Recorder(
        reply(503, {}),
        reply(429, {}, headers={"retry-after": "Tue, 14 Nov 2023 22:13:27 GMT"}),
        OK,
        clock=clock,
    )
    async with client_for(recorder, clock=clock) as client:
        await client.tasks.fetch("t1")
    assert recorder.times == [0.0, 1.0, 7.0]  # the date is START + 7 s


async def test_jitter_is_deterministic_with_a_seed_or_an_injected_random() -> None:
    """Seeded (or injected) jitter gives the same delays every run, within the jitter bounds."""

    async def delays(policy: RetryPolicy) -> list[float]:
        clock = VirtualClock(start=START)
        recorder = Recorder(reply(503, {}), reply(503, {}), reply(503, {}), OK, clock=clock)
        async with client_for(recorder, clock=clock, retry=policy) as client:
            await client.tasks.fetch("t1")
        return [b - a for a, b in zip(recorder.times, recorder.times[1:], strict=False)]

    seeded = RetryPolicy(attempts=4, initial_backoff=1.0, max_backoff=8.0, jitter=0.5, seed=42)
    first, second = await delays(seeded), await delays(seeded)
    assert first == second
    for delay, base in zip(first, [1.0, 2.0, 4.0], strict=True):
        assert base * 0.5 <= delay <= base
    injected = await delays(RetryPolicy(initial_backoff=1.0, jitter=1.0, random=random.Random(7)))
    assert injected == await delays(RetryPolicy(initial_backoff=1.0, jitter=1.0, random=random.Random(7)))
    assert injected != first


def test_backoff_formula() -> None:
    """The backoff doubles from initial_backoff up to max_backoff; Retry-After wins when larger, capped."""
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=3.0, jitter=0)
    rng = random.Random(0)
    assert [policy.backoff(n, rng=rng) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.backoff(1, retry_after=2.0, rng=rng) == 2.0
    assert policy.backoff(1, retry_after=60.0, rng=rng) == 3.0
    assert policy.backoff(3, retry_after=0.1, rng=rng) == 2.0
    assert policy.backoff(10_000, rng=rng) == 3.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempts": 0}, "attempts must be at least 1"),
        ({"initial_backoff": -1}, "must not be negative"),
        ({"jitter": 1.5}, "jitter must be between 0 and 1"),
    ],
)
def test_retry_policy_validation(kwargs: dict[str, Any], message: str) -> None:
    """Nonsensical policies are refused with a message saying what is wrong."""
    with pytest.raises(ConfigurationError, match=message):
        RetryPolicy(**kwargs)


async def test_attempts_one_disables_retrying() -> None:
    """``RetryPolicy(attempts=1)`` sends a read once."""
    recorder = Recorder(raises(httpx.ConnectError), OK)
    async with client_for(recorder, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(PlatformConnectionError):
            await client.tasks.fetch("t1")
    assert len(recorder.requests) == 1


async def test_retries_are_logged_with_attempt_and_delay() -> None:
    """Each retry logs the attempt, the delay and the error type; each request logs method, path, status."""
    recorder = Recorder(reply(503, {}), OK)
    with capture_logs() as logs:
        async with client_for(recorder) as client:
            await client.tasks.fetch("t1")
    retrying = [e for e in logs if e["event"] == "platform request retrying"]
    assert retrying == [
        {
            "event": "platform request retrying",
            "log_level": "debug",
            "request": "GET /api/v1/task/t1/fetch",
            "attempt": 1,
            "delay": 1.0,
            "error": "PlatformUnavailable",
        }
    ]
    requests = [e for e in logs if e["event"] == "platform request"]
    assert [(e["method"], e["path"], e["status"], e["attempt"]) for e in requests] == [
        ("GET", "/api/v1/task/t1/fetch", 503, 1),
        ("GET", "/api/v1/task/t1/fetch", 200, 2),
    ]


async def test_cancellation_during_a_retry_sleep_is_not_swallowed() -> None:
    """Cancelling a request while it waits to retry raises CancelledError, and no further attempt is made."""
    clock = VirtualClock(start=START, autojump=False)
    recorder = Recorder(reply(503, {}), OK, clock=clock)
    async with client_for(recorder, clock=clock) as client:
        task = asyncio.create_task(client.tasks.fetch("t1"))
        for _ in range(50):
            await asyncio.sleep(0)
            if recorder.requests:
                break
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await clock.advance(60)
    assert len(recorder.requests) == 1


async def test_not_found_is_not_retried_and_keeps_its_type() -> None:
    """A 404 on a read raises NotFoundError after a single request."""
    recorder = Recorder(reply(404, {"message": "no task", "code": "NOT_FOUND"}))
    async with client_for(recorder) as client:
        with pytest.raises(NotFoundError, match="no task"):
            await client.tasks.fetch("t1")
    assert len(recorder.requests) == 1


async def test_rate_limited_error_is_raised_when_429_persists() -> None:
    """A 429 that never clears surfaces as RateLimitedError with its retry_after."""
    recorder = Recorder(reply(429, {"message": "limit"}, headers={"retry-after": "3"}))
    async with client_for(recorder) as client:
        with pytest.raises(RateLimitedError) as caught:
            await client.tasks.fetch("t1")
    assert caught.value.retry_after == 3.0
    assert len(recorder.requests) == 4
