"""Function calling: live channel tools, static results, turn-ending functions, wait limits, planner mode."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from orchestrator._clock import VirtualClock
from orchestrator.local import LocalPlatform
from orchestrator.platform import PlatformClient, StreamEvent

from ._util import ask, channel_id, dispatch_and_collect, function
from .conftest import hosted

Answer = Callable[[str, dict[str, Any]], dict[str, Any]]


async def serve_tools(
    client: PlatformClient, events: AsyncIterator[StreamEvent], answer: Answer
) -> list[StreamEvent]:
    """Read a run's events; answer each live tool call by publishing ``answer(name, args)`` to its channel."""
    seen = []
    async for event in events:
        inner = event.inner() or event
        if inner.type in ("nop", "ping"):
            continue
        seen.append(inner)
        if inner.type == "waitForChannelMessageBegin":
            call = inner.data["function"]
            await client.channels.publish(inner.data["channel"], answer(call["name"], call["args"]))
        if inner.is_terminal:
            break
    return seen


def live(name: str) -> dict[str, Any]:
    return function(name, result={"channel": f"{name}_{channel_id()}"})


async def test_live_tool_round_trip_on_a_dispatch(client: PlatformClient) -> None:
    """A live tool pauses the run until a message is published to its channel; the reply shows the result."""
    body = ask('look it up [[call lookup {"id": 7}]]', functions=[live("lookup")])
    channel = await client.conversations.dispatch(body, channel_id=channel_id())
    async with client.channels.subscribe(channel, history_length=1000) as events:
        seen = await serve_tools(client, events, lambda name, args: {"data": {"found": args["id"] * 6}})
    types = [e.type for e in seen]
    assert types.index("waitForChannelMessageBegin") < types.index("waitForChannelMessageEnd")
    begin = seen[types.index("waitForChannelMessageBegin")].data
    assert begin["function"] == {"name": "lookup", "args": {"id": 7}}
    end = seen[types.index("waitForChannelMessageEnd")].data
    assert end["message"] == {"data": {"found": 42}}
    activity = [
        e.data["meta"]["activity"] for e in seen if e.type == "message" and e.data["type"] == "activity"
    ]
    assert [a["type"] for a in activity] == ["request", "response"]
    assert activity[1]["function"]["result"] == {"found": 42}
    assert "operationBegin" in types
    assert "operationEnd" in types
    assert seen[-1].data["text"] == 'Done: look it up; lookup -> {"found":42}'


@pytest.mark.parametrize(
    ("message", "shown"),
    [({"error": "not found"}, "lookup -> error not found"), ({"value": 3}, 'lookup -> {"value":3}')],
)
async def test_live_tool_error_and_bare_messages(
    client: PlatformClient, message: dict[str, Any], shown: str
) -> None:
    """``{error}`` is the tool's error; a bare object is the result itself."""
    body = ask("[[call lookup]]", functions=[live("lookup")])
    async with client.conversations.stream(body) as events:
        seen = await serve_tools(client, events, lambda name, args: message)
    assert seen[-1].type == "result"
    assert shown in seen[-1].data["text"]


async def test_static_result(client: PlatformClient) -> None:
    """``result: {data}`` answers without a round trip."""
    body = ask("[[call clock]]", functions=[function("clock", result={"data": "noon"})])
    result = await client.conversations.complete(body)
    assert result.text == 'Done; clock -> "noon"'


async def test_function_without_result_ends_the_turn(client: PlatformClient) -> None:
    """A function with no ``result`` ends the turn with end reason ``activity``, recording the request."""
    conversation = await client.conversations.create({})
    body = {"text": '[[call notify {"to": "ops"}]]', "functions": [function("notify")]}
    result = await client.conversations.complete(body, conversation_id=conversation.id)
    assert result.end_reason == "activity"
    messages = [m async for m in client.conversations.messages(conversation.id, order="asc")]
    assert [m.type for m in messages] == ["user", "activity"]
    assert messages[1].meta["activity"] == {
        "type": "request",
        "function": {"name": "notify", "arguments": {"to": "ops"}},
    }


async def test_unknown_function_is_an_error(client: PlatformClient) -> None:
    """Calling a function the request does not declare fails the run, naming the declared ones."""
    events = await dispatch_and_collect(
        client, ask("[[call missing]]", functions=[function("other")]), channel_id=channel_id()
    )
    assert events[-1].type == "error"
    assert events[-1].data["message"] == "function 'missing' is not declared (declared: other)"


async def test_calls_limit(client: PlatformClient) -> None:
    """``limits.calls`` bounds the number of function calls in a run."""
    body = ask("[[call f]] [[call f]]", functions=[function("f", result={"data": 1})], limits={"calls": 1})
    events = await dispatch_and_collect(client, body, channel_id=channel_id())
    assert events[-1].data["code"] == "LIMITS_REACHED"


async def test_no_message_within_the_tool_wait() -> None:
    """A live tool nobody answers fails the run with ``no_message_received_aborted`` after the tool wait."""
    clock = VirtualClock()
    async with hosted(LocalPlatform(clock=clock, tool_wait=120)) as platform, platform.client() as client:
        start = clock.time()
        events = await dispatch_and_collect(
            client, ask("[[call f]]", functions=[live("f")]), channel_id=channel_id()
        )
        assert events[-1].type == "error"
        assert events[-1].data["code"] == "no_message_received_aborted"
        assert "2 minute tool wait limit" in events[-1].data["message"]
        assert clock.time() - start == pytest.approx(120)


async def test_ceiling_while_waiting_on_a_tool() -> None:
    """A dispatch killed at the ceiling while waiting on a tool reports ``no_message_received_aborted``."""
    clock = VirtualClock()
    async with hosted(LocalPlatform(clock=clock, tool_wait=3600)) as platform, platform.client() as client:
        events = await dispatch_and_collect(
            client, ask("[[call f]]", functions=[live("f")]), channel_id=channel_id()
        )
    assert events[-1].data["code"] == "no_message_received_aborted"
    assert "before the run was aborted" in events[-1].data["message"]


def _scheduler(refuse: set[str]) -> Answer:
    def answer(name: str, args: dict[str, Any]) -> dict[str, Any]:
        assert name == "schedule_task"
        if args["name"] in refuse:
            return {"error": "schedule too frequent"}
        return {"data": {"taskId": "t-" + args["name"]}}

    return answer


PLAN = """Plan these please:
- Morning digest of the inbox [[schedule "0 7 * * 1-5"]] [[timezone "Europe/London"]] [[runtime 20m]]
- Crawl the archive [[sleep 2h]] [[runtime 3h]]
- Every minute ping [[schedule "* * * * *"]]
not a task line [[tokens 2]]"""


async def test_planner_calls_schedule_task_per_line(client: PlatformClient) -> None:
    """Offered ``schedule_task``, the agent schedules each ``- `` line and summarises what was refused."""
    body = ask(PLAN, functions=[live("schedule_task")])
    calls: list[dict[str, Any]] = []

    def answer(name: str, args: dict[str, Any]) -> dict[str, Any]:
        calls.append(args)
        return _scheduler({"every-minute-ping"})(name, args)

    async with client.conversations.stream(body) as events:
        seen = await serve_tools(client, events, answer)
    assert calls == [
        {
            "name": "morning-digest-of-the-inbox",
            "instructions": 'Morning digest of the inbox [[schedule "0 7 * * 1-5"]]'
            ' [[timezone "Europe/London"]]'
            " [[runtime 20m]]",
            "schedule": "0 7 * * 1-5",
            "timezone": "Europe/London",
            "runtime": "20m",
        },
        {
            "name": "crawl-the-archive",
            "instructions": "Crawl the archive [[sleep 2h]] [[runtime 3h]]",
            "runtime": "3h",
        },
        {
            "name": "every-minute-ping",
            "instructions": 'Every minute ping [[schedule "* * * * *"]]',
            "schedule": "* * * * *",
        },
    ]
    text = seen[-1].data["text"]
    assert text.startswith("alpha bravo Scheduled 2 of 3 tasks.")
    assert '- crawl-the-archive: {"taskId":"t-crawl-the-archive"}' in text
    assert "Refused:\n- every-minute-ping: schedule too frequent" in text


async def test_plan_as_text(client: PlatformClient) -> None:
    """``[[plan-as-text]]``: the planner replies with ``{"tasks": [...]}`` JSON, not calling the tool."""
    body = ask(PLAN + "\n[[plan-as-text]]", functions=[live("schedule_task")])
    result = await client.conversations.complete(body)
    plan = json.loads(result.text.removeprefix("alpha bravo "))
    assert [t["name"] for t in plan["tasks"]] == [
        "morning-digest-of-the-inbox",
        "crawl-the-archive",
        "every-minute-ping",
    ]
    assert plan["tasks"][0]["timezone"] == "Europe/London"


async def test_planner_without_lines(client: PlatformClient) -> None:
    """A planning request with no ``- `` lines says there is nothing to schedule."""
    result = await client.conversations.complete(ask("nothing here", functions=[live("schedule_task")]))
    assert result.text == "Nothing to schedule: the request has no lines starting with '- '."


async def test_publish_before_begin_is_lost(raw: httpx.AsyncClient) -> None:
    """Tool channels keep no history: a result published before the wait begins is not seen by the run."""
    tool_channel = "f_" + channel_id()
    declared = {**function("f"), "result": {"channel": tool_channel}}
    early = await raw.post(f"/channel/{tool_channel}/publish", json={"message": {"data": "early"}})
    assert early.json() == {"id": tool_channel}
    body = ask("[[call f]]", functions=[declared])
    async with raw.stream(
        "POST", "/conversation/complete", json=body, headers={"accept": "application/jsonl"}
    ) as r:
        async for line in r.aiter_lines():
            item = json.loads(line)
            if item["type"] == "waitForChannelMessageBegin":
                await raw.post(f"/channel/{tool_channel}/publish", json={"message": {"data": "late"}})
            if item["type"] == "result":
                assert item["data"]["text"].endswith('f -> "late"')
