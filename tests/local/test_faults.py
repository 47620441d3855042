"""Fault injection: error statuses, 429 + Retry-After, dropped streams, latency; scoping, counts, seeds."""

from __future__ import annotations

import time

import httpx
import pytest

from orchestrator._clock import VirtualClock
from orchestrator._errors import PlatformConnectionError, PlatformUnavailable, RateLimitedError
from orchestrator.local import FaultRule, Faults, LocalPlatform, drop_stream, http_error, latency, rate_limit
from orchestrator.platform import PlatformClient, RetryPolicy

from ._util import ask, channel_id, until_terminal
from .conftest import hosted


async def test_rate_limit_with_retry_after(platform: LocalPlatform, raw: httpx.AsyncClient) -> None:
    """A 429 fault answers TOO_MANY_REQUESTS with Retry-After, ``count`` times, then lets requests through."""
    platform.faults = Faults([rate_limit(r"^/bot/list$", retry_after=7, count=2)])
    for _ in range(2):
        limited = await raw.get("/bot/list")
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "7"
        assert limited.json()["code"] == "TOO_MANY_REQUESTS"
    assert (await raw.get("/bot/list")).status_code == 200
    assert platform.faults.hits == [2]


async def test_client_retries_through_rate_limits(
    platform: LocalPlatform, client: PlatformClient, clock: VirtualClock
) -> None:
    """The client waits Retry-After on the shared virtual clock and succeeds: platform time moved."""
    platform.faults.add(rate_limit("/bot/list", retry_after=30, count=2))
    start = clock.time()
    assert [b async for b in client.bots.list()] == []
    assert clock.time() - start >= 60
    async with platform.client(retry=RetryPolicy(attempts=1)) as impatient:
        platform.faults.add(rate_limit("/bot/list", retry_after=30, count=1))
        with pytest.raises(RateLimitedError) as info:
            [b async for b in impatient.bots.list()]
        assert info.value.retry_after == 30


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors(platform: LocalPlatform, raw: httpx.AsyncClient, status: int) -> None:
    """A status fault answers ``status`` with the platform's ``{message, code}`` vocabulary."""
    platform.faults = Faults([http_error("/conversation/complete", status=status, count=1)])
    response = await raw.post("/conversation/complete", json=ask("x"))
    assert response.status_code == status
    assert (
        response.json()["code"]
        == {500: "INTERNAL_SERVER_ERROR", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE"}[status]
    )
    assert (await raw.post("/conversation/complete", json=ask("x"))).status_code == 200


async def test_faults_scope_by_path_and_method(platform: LocalPlatform, raw: httpx.AsyncClient) -> None:
    """A rule matches its path regex (after the /v1 or /api/v1 prefix) and method only."""
    platform.faults = Faults([http_error(r"^/task/", method="GET")])
    assert (await raw.get("/task/list")).status_code == 503
    assert (await raw.post("/task/create")).status_code == 200
    assert (await raw.get("/bot/list")).status_code == 200


async def test_client_sees_platform_unavailable(platform: LocalPlatform) -> None:
    """Persistent 503s surface as PlatformUnavailable once the client's retries are spent."""
    platform.faults = Faults([http_error("/conversation/create")])
    async with platform.client(retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(PlatformUnavailable):
            await client.conversations.create({})


def test_probability_is_seeded_and_deterministic() -> None:
    """The same seed gives the same sequence of decisions; counts bound the hits."""

    def pattern(seed: int) -> list[bool]:
        faults = Faults([http_error("/x", probability=0.5)], seed=seed)
        return [bool(faults.decide("GET", "/x")) for _ in range(64)]

    assert pattern(7) == pattern(7)
    assert pattern(7) != pattern(8)
    assert 10 < sum(pattern(7)) < 54
    limited = Faults([http_error("/x", probability=0.5, count=3)], seed=1)
    assert sum(bool(limited.decide("GET", "/x")) for _ in range(200)) == 3


def test_rule_validation() -> None:
    """Bad rules are refused when built."""
    with pytest.raises(ValueError, match="probability"):
        FaultRule("status", probability=2)
    with pytest.raises(ValueError, match="regular expression"):
        http_error("(")


async def test_drop_stream_abruptly(
    platform: LocalPlatform, client: PlatformClient, raw: httpx.AsyncClient
) -> None:
    """An abrupt drop breaks the connection after N events: the reader sees a broken stream."""
    channel = await client.conversations.dispatch(ask("[[tokens 20]]"), channel_id=channel_id())
    async with client.channels.subscribe(channel, history_length=1000) as events:
        await until_terminal(events)
    platform.faults = Faults([drop_stream("/subscribe$", after=3, count=2)])
    lines: list[str] = []

    async def read_raw() -> None:
        body = {"historyLength": 1000}
        async with raw.stream("POST", f"/channel/{channel}/subscribe", json=body) as response:
            async for line in response.aiter_lines():
                lines.append(line)  # keeps the lines read before the connection breaks

    with pytest.raises(httpx.RemoteProtocolError):
        await read_raw()
    assert len(lines) == 3
    with pytest.raises(PlatformConnectionError):
        async with client.channels.subscribe(channel, history_length=1000) as events:
            await until_terminal(events)
    async with client.channels.subscribe(channel, history_length=1000) as events:
        assert (await until_terminal(events))[-1].type == "result"


async def test_drop_stream_cleanly(
    platform: LocalPlatform, client: PlatformClient, raw: httpx.AsyncClient
) -> None:
    """A clean drop ends the stream after N events as if the server closed it."""
    platform.faults = Faults([drop_stream("/conversation/complete", after=2, abrupt=False)])
    response = await raw.post(
        "/conversation/complete", json=ask("[[tokens 5]]"), headers={"accept": "application/jsonl"}
    )
    assert len(response.text.splitlines()) == 2


async def test_latency_on_the_platform_clock(
    platform: LocalPlatform, raw: httpx.AsyncClient, clock: VirtualClock
) -> None:
    """Platform-clock latency delays the answer by platform time (virtual here, so instantly in real time)."""
    platform.faults = Faults([latency("/bot/create", delay=90)])
    start = clock.time()
    assert (await raw.post("/bot/create")).status_code == 200
    assert clock.time() - start >= 90


async def test_real_time_latency() -> None:
    """Real-time latency waits on the wall clock and leaves a virtual platform clock alone."""
    clock = VirtualClock(autojump=False)
    faults = Faults([latency("/bot/create", delay=0.004, real_time=True)])
    async with hosted(LocalPlatform(clock=clock, faults=faults)) as platform, platform.client() as client:
        start, real = clock.time(), time.perf_counter()
        await client.bots.create({})
        assert time.perf_counter() - real >= 0.004
        assert clock.time() == start
        assert platform.faults is faults
        faults.clear()
        assert faults.rules == ()
