"""Completions (stateless/stateful ``complete``, ``send``, ``receive``) in JSON, JSONL and SSE; validation."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from orchestrator._clock import VirtualClock
from orchestrator._errors import BadRequestError, PlatformError
from orchestrator.local import LocalPlatform
from orchestrator.platform import PlatformClient, collect_completion

from ._util import active_runs_reach, ask
from .conftest import hosted


async def test_stateless_complete_json(client: PlatformClient) -> None:
    """Without directives the agent answers "Done: " + an excerpt, with usage and end reason stop."""
    result = await client.conversations.complete(ask("Please   summarise\nthe report"))
    assert result.text == "Done: Please summarise the report"
    assert result.end_reason == "stop"
    assert result.usage["token"] > 0


async def test_complete_is_deterministic(client: PlatformClient) -> None:
    """The same input gives the same reply, including streamed words."""
    first = await client.conversations.complete(ask("x [[tokens 7]]"))
    second = await client.conversations.complete(ask("x [[tokens 7]]"))
    assert first.text == second.text == "alpha bravo charlie delta echo foxtrot golf Done: x"


@pytest.mark.parametrize("fmt", ["jsonl", "sse"])
async def test_stream_event_sequence(client: PlatformClient, fmt: Any) -> None:
    """A streamed completion carries tokens, then message(bot), usage and result (with createdAt in JSONL)."""
    async with client.conversations.stream(ask("hello [[tokens 3]]"), format=fmt) as events:
        seen = [event async for event in events]
    types = [e.type for e in seen]
    assert types[0] == "completeBegin"
    assert types.count("token") == 3 + 2
    assert types[-4:] == ["completeEnd", "message", "usage", "result"]
    assert seen[-3].data == {"type": "bot", "text": "alpha bravo charlie Done: hello"}
    assert seen[-2].data["model"] == "local-simulated"
    assert seen[-1].data["end"] == {"reason": "stop"}
    if fmt == "jsonl":
        assert all(isinstance(e.created_at, int) for e in seen)


async def test_raw_sse_framing(raw: httpx.AsyncClient) -> None:
    """SSE frames are ``event: <type>`` then ``data: <json of data>`` and a blank line."""
    response = await raw.post(
        "/conversation/complete", json=ask("hi"), headers={"accept": "text/event-stream"}
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in response.text.split("\n\n") if f]
    last = frames[-1].split("\n")
    assert last[0] == "event: result"
    assert json.loads(last[1].removeprefix("data: "))["text"] == "Done: hi"


async def test_raw_jsonl_lines(raw: httpx.AsyncClient) -> None:
    """JSONL is one ``{type, data, createdAt}`` object per line."""
    response = await raw.post(
        "/conversation/complete", json=ask("hi"), headers={"accept": "application/jsonl"}
    )
    assert response.headers["content-type"].startswith("application/jsonl")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert {"type", "data", "createdAt"} <= set(lines[-1])


async def test_sleep_streams_pings_on_the_platform_clock(client: PlatformClient, clock: VirtualClock) -> None:
    """A run that works 35 s sends a ping every 10 s and takes 35 s of platform time (none of real time)."""
    start = clock.time()
    async with client.conversations.stream(ask("[[sleep 35s]]")) as events:
        seen = [event async for event in events]
    assert [e.type for e in seen].count("ping") == 3
    assert clock.time() - start == pytest.approx(35)


async def test_fail_directive_in_stream_and_json(client: PlatformClient) -> None:
    """``[[fail "why"]]`` ends a stream with an error event, and a JSON call with a 200 error body giving it."""
    async with client.conversations.stream(ask('[[fail "disk full"]]')) as events:
        seen = [event async for event in events]
    assert seen[-1].type == "error"
    assert seen[-1].data == {"message": "disk full"}
    with pytest.raises(PlatformError) as info:
        await client.conversations.complete(ask('[[fail "disk full"]]'))
    assert info.value.status == 200
    assert "disk full" in info.value.message


async def test_bad_directive_fails_the_run(client: PlatformClient) -> None:
    """A directive with a bad argument fails the run with a message naming it."""
    async with client.conversations.stream(ask("[[sleep soonish]]")) as events:
        with pytest.raises(PlatformError, match=r"bad directive \[\[sleep soonish\]\]"):
            await collect_completion(events)


async def test_long_json_call_commits_200_then_body(raw: httpx.AsyncClient, clock: VirtualClock) -> None:
    """A JSON call still running after 19 s commits 200 and writes the result (or an error object) later."""
    ok = await raw.post("/conversation/complete", json=ask("[[sleep 1m]] go"))
    assert ok.status_code == 200
    assert ok.json()["text"] == "Done: go"
    failed = await raw.post("/conversation/complete", json=ask('[[sleep 1m]] [[fail "late"]]'))
    assert failed.status_code == 200
    assert failed.json() == {"message": "late", "code": "INTERNAL_SERVER_ERROR"}


async def test_client_maps_late_error_body(client: PlatformClient) -> None:
    """The client turns a 200 error body into a PlatformError."""
    with pytest.raises(PlatformError, match="late"):
        await client.conversations.complete(ask('[[sleep 1m]] [[fail "late"]]'))


async def test_closing_a_stream_kills_its_run() -> None:
    """Leaving a completion stream early stops the run on the platform (the clock never moves here)."""
    async with (
        hosted(LocalPlatform(clock=VirtualClock(autojump=False))) as platform,
        platform.client() as client,
    ):
        async with client.conversations.stream(ask("[[tokens 1]] [[sleep 1h]]")) as events:
            async for event in events:
                if event.type == "token":
                    break
        assert await active_runs_reach(platform, 0)


async def test_stateful_complete_send_receive(client: PlatformClient) -> None:
    """Stateful complete, send and receive append to the history in order; results carry message ids."""
    conversation = await client.conversations.create({"name": "chat"})
    first = await client.conversations.complete({"text": "one"}, conversation_id=conversation.id)
    assert first.text == "Done: one"
    assert first.id is not None
    sent = await client.conversations.send(conversation.id, {"text": "two"})
    received = await client.conversations.receive(conversation.id)
    assert received.text == "Done: two"
    assert received.end_reason is None
    messages = [m async for m in client.conversations.messages(conversation.id, order="asc")]
    assert [(m.type, m.text) for m in messages] == [
        ("user", "one"),
        ("bot", "Done: one"),
        ("user", "two"),
        ("bot", "Done: two"),
    ]
    assert messages[2].id == sent.raw["id"]
    assert messages[1].id == first.id


async def test_stateful_complete_without_text_continues(client: PlatformClient) -> None:
    """A stateful complete with ``{}`` answers the history as it stands, adding only the bot message."""
    conversation = await client.conversations.create({"messages": [{"type": "user", "text": "earlier"}]})
    result = await client.conversations.complete({}, conversation_id=conversation.id)
    assert result.text == "Done: earlier"
    messages = [m async for m in client.conversations.messages(conversation.id, order="asc")]
    assert [m.type for m in messages] == ["user", "bot"]


async def test_receive_and_send_streams(raw: httpx.AsyncClient) -> None:
    """Streamed receive ends with receiveResult then result; streamed send with sendResult then result."""
    conversation = (await raw.post("/conversation/create", json={})).json()["id"]
    jsonl = {"accept": "application/jsonl"}
    sent = await raw.post(f"/conversation/{conversation}/send", json={"text": "hey"}, headers=jsonl)
    assert [json.loads(x)["type"] for x in sent.text.splitlines()] == ["message", "sendResult", "result"]
    received = await raw.post(f"/conversation/{conversation}/receive", headers=jsonl)
    types = [json.loads(x)["type"] for x in received.text.splitlines()]
    assert types[-2:] == ["receiveResult", "result"]


async def test_bot_config_reaches_the_agent(client: PlatformClient) -> None:
    """``botId`` selects a bot whose model shows in usage; an unknown bot id is 404."""
    bot_id = await client.bots.create({"name": "b", "model": "gpt-test"})
    async with client.conversations.stream(ask("hi", botId=bot_id)) as events:
        usage = [e.data async for e in events if e.type == "usage"]
    assert usage[0]["model"] == "gpt-test"
    response_error = None
    try:
        await client.conversations.complete(ask("hi", botId="missing"))
    except PlatformError as exc:
        response_error = exc
    assert response_error is not None
    assert response_error.status == 404
    assert response_error.code == "NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "messages is required"),
        ({"messages": []}, "at least one message"),
        ({"messages": [{"type": "robot", "text": "x"}]}, "messages[0].type 'robot' is not one of"),
        ({"messages": [{"type": "user", "text": 3}]}, "messages[0].text must be a string, got a number"),
        ({"messages": "hi"}, "messages is required"),
        (
            ask("x", functions=[{"name": "bad-name", "description": "d", "parameters": {}}]),
            "not a JavaScript",
        ),
        (
            ask("x", functions=[{"name": "f" * 65, "description": "d", "parameters": {}}]),
            "too long: 65 characters, at most 64",
        ),
        (
            ask("x", functions=[{"name": "f", "description": "d", "parameters": {"type": "string"}}]),
            "functions[0].parameters must be",
        ),
        (ask("x", functions=[{"name": "f", "parameters": {}}]), "functions[0].description is required"),
        (
            ask(
                "x",
                functions=[
                    {
                        "name": "f",
                        "description": "d",
                        "parameters": {"type": "object", "properties": {}},
                        "result": {"channel": "short"},
                    }
                ],
            ),
            "result.channel is too short",
        ),
        (ask("x", limits={"iterations": 0}), "limits.iterations must be at least 1"),
        (ask("x", model=7), "model must be a string, got a number"),
    ],
)
async def test_invalid_bodies_are_400_with_a_precise_message(
    client: PlatformClient, body: dict[str, Any], message: str
) -> None:
    """Invalid bodies are 400 BAD_REQUEST with a message that names the field."""
    with pytest.raises(BadRequestError) as info:
        await client.conversations.complete(body)
    assert info.value.code == "BAD_REQUEST"
    assert message in info.value.message


async def test_non_json_and_non_object_bodies(raw: httpx.AsyncClient) -> None:
    """A body that is not JSON, or not an object, is 400 with the reason."""
    bad = await raw.post(
        "/conversation/complete", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400
    assert "not valid JSON" in bad.json()["message"]
    array = await raw.post("/conversation/complete", json=[1, 2])
    assert array.json() == {
        "message": "Request body must be a JSON object, got an array",
        "code": "BAD_REQUEST",
    }


async def test_stateful_rejects_messages_and_unknown_conversation(raw: httpx.AsyncClient) -> None:
    """A stateful call takes ``text``, not ``messages``; an unknown conversation is 404."""
    conversation = (await raw.post("/conversation/create")).json()["id"]
    response = await raw.post(f"/conversation/{conversation}/complete", json=ask("x"))
    assert response.status_code == 400
    assert "not `messages`" in response.json()["message"]
    missing = await raw.post("/conversation/nope/complete", json={"text": "x"})
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"


async def test_platform_stopping_ends_streams() -> None:
    """Leaving the platform's context ends a stream still waiting on its run."""
    platform = LocalPlatform(clock=VirtualClock(autojump=False))
    seen: list[str] = []
    first = asyncio.Event()
    async with hosted(platform):
        client = platform.client()

        async def read() -> None:
            async with client.conversations.stream(ask("[[sleep 1h]]")) as events:
                async for event in events:
                    seen.append(event.type)
                    first.set()

        reader = asyncio.create_task(read())
        await first.wait()
        assert platform.active_runs == 1
    await reader
    await client.aclose()
    assert seen == ["completeBegin"]
