"""LocalPlatform's lifecycle and surface: serving, client(), app through ASGITransport, reprs, exports."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import orchestrator.local
from orchestrator._clock import SystemClock, VirtualClock
from orchestrator.local import LocalPlatform

from ._util import ask
from .conftest import hosted


def test_public_names() -> None:
    """``orchestrator.local`` exports exactly its documented surface, sorted."""
    assert orchestrator.local.__all__ == sorted(orchestrator.local.__all__)
    assert set(orchestrator.local.__all__) == {
        "Agent",
        "AgentFailure",
        "AgentReply",
        "AgentRequest",
        "EndTurn",
        "FaultRule",
        "Faults",
        "LocalPlatform",
        "OpenAIChatAgent",
        "RunContext",
        "SimulatedAgent",
        "ToolResult",
        "drop_stream",
        "http_error",
        "latency",
        "parse_directives",
        "parse_duration",
        "rate_limit",
        "serve",
        "strip_directives",
    }


def test_nothing_starts_in_init() -> None:
    """Constructing a platform serves nothing; base_url says how to start it; defaults are filled in."""
    platform = LocalPlatform()
    with pytest.raises(RuntimeError, match="async with LocalPlatform"):
        _ = platform.base_url
    assert isinstance(platform.clock, SystemClock)
    assert len(platform.token) >= 24
    assert platform.token not in repr(platform)


def test_bad_configuration() -> None:
    """A ceiling kill mode other than silent/error, or a non-positive ceiling, is refused."""
    with pytest.raises(ValueError, match="ceiling_kill"):
        LocalPlatform(ceiling_kill="loud")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ceiling must be positive"):
        LocalPlatform(ceiling=0)


async def test_serves_on_loopback_and_binds_a_client() -> None:
    """Entering serves on a free 127.0.0.1 port; ``client()`` talks to it with the same clock and token."""
    clock = VirtualClock()
    async with LocalPlatform(clock=clock, token="t" * 32) as platform:
        assert platform.base_url.startswith("http://127.0.0.1:")
        assert platform.token == "t" * 32
        async with platform.client() as client:
            assert client.clock is clock
            assert (await client.conversations.complete(ask("hi"))).text == "Done: hi"
        with pytest.raises(RuntimeError, match="entered once"):
            await platform.__aenter__()


async def test_app_through_asgi_transport() -> None:
    """``p.app`` answers through ``httpx.ASGITransport`` too (auth included)."""
    async with LocalPlatform(clock=VirtualClock()) as platform:
        transport = httpx.ASGITransport(app=platform.app)
        headers = {"authorization": f"Bearer {platform.token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://local", headers=headers) as http:
            response = await http.post("/v1/conversation/complete", json=ask("asgi"))
            assert response.json()["text"] == "Done: asgi"
            assert (await http.get("/v1/bot/list", headers={"authorization": "Bearer no"})).status_code == 401


async def test_runs_need_a_running_platform() -> None:
    """Before ``async with``, an endpoint that starts a run answers 503 saying how to start the platform."""
    platform = LocalPlatform(clock=VirtualClock(), token="x" * 30)
    transport = httpx.ASGITransport(app=platform.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://local") as http:
        response = await http.post(
            "/v1/conversation/dispatch", json=ask("x"), headers={"authorization": "Bearer " + "x" * 30}
        )
    assert response.status_code == 503
    assert "async with LocalPlatform" in response.json()["message"]


async def test_exit_stops_runs_and_subscriptions() -> None:
    """Leaving the context with runs sleeping and a subscription open stops them all cleanly."""
    platform = LocalPlatform(clock=VirtualClock(autojump=False))
    opened = asyncio.Event()
    async with hosted(platform):
        client = platform.client()
        channels = [await client.conversations.dispatch(ask("[[sleep 10m]]")) for _ in range(5)]
        assert platform.active_runs == 5

        async def listen() -> list[str]:
            async with client.channels.subscribe(channels[0], history_length=10) as events:
                seen = []
                async for event in events:
                    seen.append(event.type)
                    opened.set()
                return seen

        listener = asyncio.create_task(listen())
        await opened.wait()
    assert platform.active_runs == 0
    assert (await listener)[0] == "nop"
    await client.aclose()
