"""Dispatch: channel ids, dedupe, events on the channel, history replay, the 15-minute ceiling, history."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from orchestrator._clock import VirtualClock, move_on_after
from orchestrator._errors import BadRequestError, UsageError
from orchestrator.local import LocalPlatform
from orchestrator.platform import PlatformClient, StreamEvent

from ._util import ask, channel_id, dispatch_and_collect, until_terminal
from .conftest import hosted


async def test_dispatch_returns_channel_and_publishes_every_event(client: PlatformClient) -> None:
    """A dispatch's events arrive on its channel as ``{type: message, data: <event>}``, ending with result."""
    events = await dispatch_and_collect(client, ask("report [[tokens 2]]"), channel_id=channel_id())
    types = [e.type for e in events]
    assert types[0] == "completeBegin"
    assert types[-4:] == ["completeEnd", "message", "usage", "result"]
    assert events[-1].data["text"] == "alpha bravo Done: report"
    assert all(e.created_at is None for e in events)


async def test_generated_channel_id(raw: httpx.AsyncClient) -> None:
    """Without a channelId the platform generates one of at least 25 characters."""
    response = await raw.post("/conversation/dispatch", json=ask("x"))
    assert response.status_code == 200
    assert len(response.json()["channelId"]) >= 25


async def test_short_channel_id_is_refused(raw: httpx.AsyncClient, client: PlatformClient) -> None:
    """A channelId under 24 characters is a 400 (and the client refuses it before sending)."""
    response = await raw.post("/conversation/dispatch", json=ask("x", channelId="c" * 23))
    assert response.status_code == 400
    assert response.json()["message"] == "channelId is too short: 23 characters, at least 24"
    with pytest.raises(UsageError):
        await client.conversations.dispatch(ask("x"), channel_id="short")


async def test_dispatch_dedupes_on_channel_id(
    client: PlatformClient, platform: LocalPlatform, clock: VirtualClock
) -> None:
    """A second dispatch with the same channelId returns it and starts no second run."""
    channel = channel_id()
    with clock.hold():  # no autojump while both requests are on the wire
        first = await client.conversations.dispatch(ask("[[sleep 1m]] once"), channel_id=channel)
        second = await client.conversations.dispatch(ask("[[sleep 1m]] twice"), channel_id=channel)
        assert first == second == channel
        assert platform.active_runs == 1
    async with client.channels.subscribe(channel, history_length=1000) as events:
        seen = await until_terminal(events)
    assert seen[-1].data["text"] == "Done: once"
    again = await client.conversations.dispatch(ask("thrice"), channel_id=channel)
    assert again == channel
    assert platform.active_runs == 0


async def test_history_length_replays_the_last_n_oldest_first(client: PlatformClient) -> None:
    """``historyLength: N`` replays the last N stored events in order, after the initial nop."""
    channel = await client.conversations.dispatch(ask("[[tokens 10]]"), channel_id=channel_id())
    async with client.channels.subscribe(channel, history_length=1000) as events:
        everything = await until_terminal(events)
    async with client.channels.subscribe(channel, history_length=3) as events:
        first = await events.__anext__()
        replay = [(await events.__anext__()).inner() for _ in range(3)]
    assert first.type == "nop"
    assert first.data == {}
    assert [(e.type, e.data) for e in replay if e] == [(e.type, e.data) for e in everything[-3:]]


async def test_history_keeps_the_last_1000(client: PlatformClient) -> None:
    """A channel keeps 1000 events: a long run's replay starts 1000 events before its end."""
    channel = await client.conversations.dispatch(ask("[[tokens 1200]]"), channel_id=channel_id())
    async with client.channels.subscribe(channel, history_length=5000) as events:
        await until_terminal(events)  # the run has ended
    async with client.channels.subscribe(channel, history_length=5000) as events:
        replay = await until_terminal(events)
    assert len(replay) == 1000
    assert replay[0].type == "token"  # completeBegin and the first tokens fell out of the history
    assert replay[-1].type == "result"


async def test_subscription_stays_open_after_the_result(client: PlatformClient, clock: VirtualClock) -> None:
    """The server does not close a channel subscription when the run ends."""
    channel = await client.conversations.dispatch(ask("hi"), channel_id=channel_id())
    leftovers: list[StreamEvent] = []
    async with client.channels.subscribe(channel, history_length=100) as events:
        await until_terminal(events)
        async with move_on_after(clock, 3600) as scope:
            leftovers.extend([e async for e in events])
    assert scope.cancelled_caught
    assert leftovers == []


async def test_live_subscriber_sees_events_published_later(client: PlatformClient) -> None:
    """Subscribing before the run starts publishing delivers the live events too (historyLength 0)."""
    channel = channel_id()
    async with client.channels.subscribe(channel) as events:
        await client.conversations.dispatch(ask("[[sleep 10s]] live"), channel_id=channel)
        seen = await until_terminal(events)
    assert seen[-1].data["text"] == "Done: live"


async def test_sse_subscription(client: PlatformClient, raw: httpx.AsyncClient) -> None:
    """A channel subscription in SSE frames: ``event: message`` with the inner event as data."""
    channel = await client.conversations.dispatch(ask("sse"), channel_id=channel_id())
    async with client.channels.subscribe(channel, history_length=100, format="sse") as events:
        seen = await until_terminal(events)
    assert seen[-1].type == "result"
    headers = {"accept": "text/event-stream"}
    async with raw.stream(
        "POST", f"/channel/{channel}/subscribe", json={"historyLength": 1}, headers=headers
    ) as r:
        lines = r.aiter_lines()
        frame = [await lines.__anext__() for _ in range(6)]
    assert frame[:3] == ["event: nop", "data: {}", ""]
    assert frame[3] == "event: message"
    assert json.loads(frame[4].removeprefix("data: "))["type"] == "result"


async def test_stateful_dispatch_appends_history(client: PlatformClient) -> None:
    """A stateful dispatch appends the user message, then the bot message on success."""
    conversation = await client.conversations.create({})
    events = await dispatch_and_collect(
        client, {"text": "remember this"}, conversation_id=conversation.id, channel_id=channel_id()
    )
    assert events[-1].data["id"]
    messages = [m async for m in client.conversations.messages(conversation.id, order="asc")]
    assert [(m.type, m.text) for m in messages] == [("user", "remember this"), ("bot", "Done: remember this")]


async def test_stateful_dispatches_run_one_after_the_other(client: PlatformClient) -> None:
    """Two dispatches on one conversation are serialised: each reply follows its own user message."""
    conversation = await client.conversations.create({})
    first = await client.conversations.dispatch(
        {"text": "[[sleep 5m]] first"}, conversation_id=conversation.id, channel_id=channel_id()
    )
    second = await client.conversations.dispatch(
        {"text": "second"}, conversation_id=conversation.id, channel_id=channel_id()
    )
    for channel in (first, second):
        async with client.channels.subscribe(channel, history_length=1000) as events:
            await until_terminal(events)
    messages = [m.text async for m in client.conversations.messages(conversation.id, order="asc")]
    assert messages == ["[[sleep 5m]] first", "Done: first", "second", "Done: second"]


async def _ceiling_events(kill: Any) -> tuple[list[StreamEvent], float, float]:
    clock = VirtualClock()
    async with hosted(LocalPlatform(clock=clock, ceiling_kill=kill)) as platform, platform.client() as client:
        started_real, started = time.perf_counter(), clock.time()
        channel = await client.conversations.dispatch(
            ask("[[tokens 2]] [[sleep 20m]]"), channel_id=channel_id()
        )
        seen: list[StreamEvent] = []
        async with client.channels.subscribe(channel, history_length=1000) as events:
            async with move_on_after(clock, timedelta(hours=1)):
                async for event in events:
                    if (inner := event.inner()) is not None:
                        seen.append(inner)
                        if inner.is_terminal:
                            killed_at = clock.time() - started
                            break
            if kill == "silent":
                killed_at = clock.time() - started
        assert platform.active_runs == 0
        return seen, killed_at, time.perf_counter() - started_real


async def test_ceiling_kills_silently_at_15_minutes() -> None:
    """A ``[[sleep 20m]]`` dispatch is killed at 15 platform-minutes; silent mode: the channel just stops."""
    seen, _, real = await _ceiling_events("silent")
    assert [e.type for e in seen] == ["completeBegin", "token", "token"]
    assert real < 2.0


async def test_ceiling_kill_with_error_event() -> None:
    """In error mode the killed run publishes ``error`` code TIMEOUT mentioning the 15 minute limit."""
    seen, killed_at, real = await _ceiling_events("error")
    assert seen[-1].type == "error"
    assert seen[-1].data["code"] == "TIMEOUT"
    assert "15 minute limit" in seen[-1].data["message"]
    assert killed_at == pytest.approx(900)
    assert real < 2.0


async def test_ceiling_keeps_stateful_history_without_bot_message() -> None:
    """A stateful dispatch killed at the ceiling leaves the user message and no bot reply."""
    clock = VirtualClock()
    async with (
        hosted(LocalPlatform(clock=clock, ceiling_kill="error")) as platform,
        platform.client() as client,
    ):
        conversation = await client.conversations.create({})
        events = await dispatch_and_collect(
            client, {"text": "[[sleep 1h]]"}, conversation_id=conversation.id, channel_id=channel_id()
        )
        assert events[-1].type == "error"
        messages = [m.type async for m in client.conversations.messages(conversation.id)]
        assert messages == ["user"]


async def test_custom_ceiling_in_message() -> None:
    """The ceiling is configurable; the error names it."""
    platform = LocalPlatform(clock=VirtualClock(), ceiling=60, ceiling_kill="error")
    async with hosted(platform), platform.client() as client:
        events = await dispatch_and_collect(client, ask("[[sleep 2m]]"), channel_id=channel_id())
    assert "1 minute limit" in events[-1].data["message"]


async def test_publish_and_subscribe_validate_the_channel(
    raw: httpx.AsyncClient, client: PlatformClient
) -> None:
    """Channel paths need 16+ characters; publish needs a ``message`` object."""
    short = await raw.post("/channel/abc/subscribe", json={})
    assert short.status_code == 400
    assert "too short" in short.json()["message"]
    missing = await raw.post(f"/channel/{channel_id()}/publish", json={})
    assert missing.status_code == 400
    assert "message is required" in missing.json()["message"]
    too_much = await raw.post(f"/channel/{channel_id()}/subscribe", json={"historyLength": 10001})
    assert too_much.status_code == 400
    with pytest.raises(BadRequestError):
        await client.channels.publish("short", {"data": 1})


async def test_publish_reaches_current_subscribers_only(client: PlatformClient) -> None:
    """A client publish goes to whoever listens now and keeps no history."""
    channel = channel_id()
    await client.channels.publish(channel, {"data": "early"})
    async with client.channels.subscribe(channel, history_length=10) as events:
        assert (await events.__anext__()).type == "nop"
        await client.channels.publish(channel, {"data": "late"})
        item = await events.__anext__()
    assert item.type == "message"
    assert item.data == {"data": "late"}
