"""Every endpoint: method, path (both prefixes), query, body and typed result, through httpx.MockTransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from orchestrator.platform import (
    Bot,
    CompletionResult,
    Conversation,
    EventLogItem,
    Message,
    PlatformClient,
    Record,
    StreamEvent,
    Task,
    TaskExecution,
)
from orchestrator.platform._wire import encode_query

from ._support import LOCAL, PUBLIC, TOKEN, Recorder, client_for, jsonl, reply

CHANNEL = "c" * 32
Call = Callable[[PlatformClient], Awaitable[Any]]


async def _all(items: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in items]


def _read(
    open_stream: Callable[[PlatformClient], AbstractAsyncContextManager[AsyncIterator[StreamEvent]]],
) -> Call:
    async def call(client: PlatformClient) -> list[StreamEvent]:
        async with open_stream(client) as events:
            return [event async for event in events]

    return call


@dataclass(frozen=True)
class Case:
    name: str
    call: Call
    method: str
    path: str
    answer: Any = None
    body: Any = None
    query: dict[str, str] | None = None
    result: Callable[[Any], bool] = lambda result: True
    stream: bool = False


_CONV = {"id": "c1", "botId": "b1", "createdAt": 1}
_PAGE_CONV = {"items": [_CONV]}
_RESULT = {"text": "hi", "usage": {"token": 1}, "end": {"reason": "stop"}}
_EVENTS = jsonl({"type": "nop"}, {"type": "message", "data": {"type": "token", "data": {"token": "x"}}})

CASES = [
    # conversations (§2)
    Case(
        "conversation create",
        lambda c: c.conversations.create({"botId": "b1", "meta": {"k": "v"}}),
        "POST",
        "/conversation/create",
        {"id": "c1"},
        body={"botId": "b1", "meta": {"k": "v"}},
        result=lambda r: isinstance(r, Conversation) and r.id == "c1",
    ),
    Case(
        "conversation create without body",
        lambda c: c.conversations.create(),
        "POST",
        "/conversation/create",
        {"id": "c2"},
        body={},
        result=lambda r: r.id == "c2",
    ),
    Case(
        "conversation fetch",
        lambda c: c.conversations.fetch("c1"),
        "GET",
        "/conversation/c1/fetch",
        _CONV,
        result=lambda r: isinstance(r, Conversation) and r.bot_id == "b1",
    ),
    Case(
        "conversation list",
        lambda c: _all(c.conversations.list(meta={"job": "j1"}, take=5, order="asc")),
        "GET",
        "/conversation/list",
        _PAGE_CONV,
        query={"meta.job": "j1", "take": "5", "order": "asc"},
        result=lambda r: [x.id for x in r] == ["c1"],
    ),
    Case(
        "conversation update",
        lambda c: c.conversations.update("c1", {"name": "n"}),
        "POST",
        "/conversation/c1/update",
        {"id": "c1"},
        body={"name": "n"},
        result=lambda r: r == "c1",
    ),
    Case(
        "conversation delete",
        lambda c: c.conversations.delete("c1"),
        "POST",
        "/conversation/c1/delete",
        {"id": "c1"},
        body={},
        result=lambda r: r == "c1",
    ),
    Case(
        "stateless complete",
        lambda c: c.conversations.complete({"messages": [{"type": "user", "text": "hi"}], "botId": "b1"}),
        "POST",
        "/conversation/complete",
        _RESULT,
        body={"messages": [{"type": "user", "text": "hi"}], "botId": "b1"},
        result=lambda r: isinstance(r, CompletionResult) and (r.text, r.end_reason) == ("hi", "stop"),
    ),
    Case(
        "stateful complete",
        lambda c: c.conversations.complete({"text": "hi"}, conversation_id="c1"),
        "POST",
        "/conversation/c1/complete",
        {**_RESULT, "id": "m9"},
        body={"text": "hi"},
        result=lambda r: r.id == "m9",
    ),
    Case(
        "stateless stream",
        _read(lambda c: c.conversations.stream({"messages": []})),
        "POST",
        "/conversation/complete",
        _EVENTS,
        body={"messages": []},
        result=lambda r: [e.type for e in r] == ["nop", "message"],
        stream=True,
    ),
    Case(
        "stateful stream",
        _read(lambda c: c.conversations.stream({"text": "go"}, conversation_id="c1")),
        "POST",
        "/conversation/c1/complete",
        _EVENTS,
        body={"text": "go"},
        result=lambda r: len(r) == 2,
        stream=True,
    ),
    Case(
        "send",
        lambda c: c.conversations.send("c1", {"text": "hello"}),
        "POST",
        "/conversation/c1/send",
        {"id": "m1", "entities": []},
        body={"text": "hello"},
        result=lambda r: isinstance(r, Record) and r.id == "m1" and r.raw["entities"] == [],
    ),
    Case(
        "receive",
        lambda c: c.conversations.receive("c1"),
        "POST",
        "/conversation/c1/receive",
        {"id": "m2", "text": "reply", "usage": {"token": 4}},
        body={},
        result=lambda r: (r.text, r.id, r.end_reason) == ("reply", "m2", None),
    ),
    Case(
        "stateless dispatch",
        lambda c: c.conversations.dispatch({"messages": []}),
        "POST",
        "/conversation/dispatch",
        {"channelId": "srv-generated"},
        body={"messages": []},
        result=lambda r: r == "srv-generated",
    ),
    Case(
        "stateful dispatch with channel id",
        lambda c: c.conversations.dispatch({"text": "go"}, conversation_id="c1", channel_id=CHANNEL),
        "POST",
        "/conversation/c1/dispatch",
        {"channelId": CHANNEL},
        body={"text": "go", "channelId": CHANNEL},
        result=lambda r: r == CHANNEL,
    ),
    Case(
        "message list",
        lambda c: _all(c.conversations.messages("c1", order="desc", take=2)),
        "GET",
        "/conversation/c1/message/list",
        {"items": [{"id": "m1", "type": "bot", "text": "hi"}], "cursor": "m1"},
        query={"order": "desc", "take": "2"},
        result=lambda r: isinstance(r[0], Message) and r[0].text == "hi",
    ),
    Case(
        "message create",
        lambda c: c.conversations.create_message("c1", {"type": "activity", "text": "t"}),
        "POST",
        "/conversation/c1/message/create",
        {"id": "m3", "entities": []},
        body={"type": "activity", "text": "t"},
        result=lambda r: r == "m3",
    ),
    Case(
        "conversation monitor",
        _read(lambda c: c.conversations.monitor("c1", history_length=100)),
        "POST",
        "/conversation/c1/channel/subscribe",
        _EVENTS,
        body={"historyLength": 100},
        result=lambda r: r[1].inner().type == "token",
        stream=True,
    ),
    # channels (§3)
    Case(
        "channel subscribe",
        _read(lambda c: c.channels.subscribe(CHANNEL, history_length=1000)),
        "POST",
        f"/channel/{CHANNEL}/subscribe",
        _EVENTS,
        body={"historyLength": 1000},
        result=lambda r: [e.type for e in r] == ["nop", "message"],
        stream=True,
    ),
    Case(
        "channel subscribe without history",
        _read(lambda c: c.channels.subscribe(CHANNEL)),
        "POST",
        f"/channel/{CHANNEL}/subscribe",
        _EVENTS,
        body={},
        stream=True,
    ),
    Case(
        "channel publish",
        lambda c: c.channels.publish("tool_channel_1234567", {"data": {"ok": True}}),
        "POST",
        "/channel/tool_channel_1234567/publish",
        {"id": "tool_channel_1234567"},
        body={"message": {"data": {"ok": True}}},
        result=lambda r: r is None,
    ),
    # tasks (§4)
    Case(
        "task create",
        lambda c: c.tasks.create({"name": "n", "botId": "b1", "meta": {"job": "j"}}),
        "POST",
        "/task/create",
        {"id": "t1"},
        body={"name": "n", "botId": "b1", "meta": {"job": "j"}},
        result=lambda r: r == "t1",
    ),
    Case(
        "task update",
        lambda c: c.tasks.update("t1", {"expiresAt": None}),
        "POST",
        "/task/t1/update",
        {"id": "t1"},
        body={"expiresAt": None},
        result=lambda r: r == "t1",
    ),
    Case(
        "task fetch",
        lambda c: c.tasks.fetch("t1"),
        "GET",
        "/task/t1/fetch",
        {"id": "t1", "status": "idle"},
        result=lambda r: isinstance(r, Task) and r.status == "idle",
    ),
    Case(
        "task list",
        lambda c: _all(c.tasks.list(meta={"job": "j"}, status="running", bot_id="b1", take=10, order="desc")),
        "GET",
        "/task/list",
        {"items": [{"id": "t1"}]},
        query={"meta.job": "j", "status": "running", "botId": "b1", "take": "10", "order": "desc"},
        result=lambda r: [t.id for t in r] == ["t1"],
    ),
    Case(
        "task delete",
        lambda c: c.tasks.delete("t1"),
        "POST",
        "/task/t1/delete",
        {"id": "t1"},
        body={},
        result=lambda r: r == "t1",
    ),
    Case(
        "task trigger",
        lambda c: c.tasks.trigger("t1"),
        "POST",
        "/task/t1/trigger",
        {"id": "t1"},
        body={},
        result=lambda r: r == "t1",
    ),
    Case(
        "task cancel",
        lambda c: c.tasks.cancel("t1"),
        "POST",
        "/task/t1/cancel",
        {"id": "t1"},
        body={},
        result=lambda r: r == "t1",
    ),
    Case(
        "execution list",
        lambda c: _all(c.tasks.executions("t1", status="running", meta={"a": "b"}, take=2, order="desc")),
        "GET",
        "/task/t1/execution/list",
        {"items": [{"id": "x1", "taskId": "t1", "status": "running", "resumeAt": None}]},
        query={"status": "running", "meta.a": "b", "take": "2", "order": "desc"},
        result=lambda r: isinstance(r[0], TaskExecution) and r[0].status == "running",
    ),
    Case(
        "execution cancel",
        lambda c: c.tasks.cancel_execution("t1", "x1"),
        "POST",
        "/task/t1/execution/x1/cancel",
        {"id": "x1", "taskId": "t1"},
        body={},
        result=lambda r: r == "x1",
    ),
    Case(
        "task workflow events",
        _read(lambda c: c.tasks.subscribe("t1", history_length=10)),
        "POST",
        "/task/t1/subscribe",
        jsonl({"type": "operationBegin", "createdAt": 3, "data": {"id": "o1", "action": {"id": "a"}}}),
        body={"historyLength": 10},
        result=lambda r: (r[0].type, r[0].created_at) == ("operationBegin", 3),
        stream=True,
    ),
    # event log (§4.5)
    Case(
        "event log subscribe",
        _read(lambda c: c.events.subscribe(history_length=5)),
        "POST",
        "/event/log/subscribe",
        jsonl({"type": "item", "data": {"id": "e1", "type": "task.interact.completed", "taskId": "t1"}}),
        body={"historyLength": 5},
        result=lambda r: EventLogItem.from_wire(r[0].data).task_id == "t1",
        stream=True,
    ),
    Case(
        "event log list",
        lambda c: _all(c.events.list(take=2, order="asc", meta={"k": "v"})),
        "GET",
        "/event/log/list",
        {"items": [{"id": "e1", "type": "conversation.idle"}]},
        query={"take": "2", "order": "asc", "meta.k": "v"},
        result=lambda r: isinstance(r[0], EventLogItem) and r[0].type == "conversation.idle",
    ),
    # bots (§8)
    Case(
        "bot create",
        lambda c: c.bots.create({"name": "n", "backstory": "b", "meta": {"k": "v"}}),
        "POST",
        "/bot/create",
        {"id": "b1"},
        body={"name": "n", "backstory": "b", "meta": {"k": "v"}},
        result=lambda r: r == "b1",
    ),
    Case(
        "bot fetch",
        lambda c: c.bots.fetch("b1"),
        "GET",
        "/bot/b1/fetch",
        {"id": "b1", "name": "n"},
        result=lambda r: isinstance(r, Bot) and r.name == "n",
    ),
    Case(
        "bot list",
        lambda c: _all(c.bots.list(meta={"k": "v"}, take=3, order="desc")),
        "GET",
        "/bot/list",
        {"items": [{"id": "b1"}]},
        query={"meta.k": "v", "take": "3", "order": "desc"},
        result=lambda r: [b.id for b in r] == ["b1"],
    ),
    Case(
        "bot update",
        lambda c: c.bots.update("b1", {"model": "m"}),
        "POST",
        "/bot/b1/update",
        {"id": "b1"},
        body={"model": "m"},
        result=lambda r: r == "b1",
    ),
    Case(
        "bot delete",
        lambda c: c.bots.delete("b1"),
        "POST",
        "/bot/b1/delete",
        {"id": "b1"},
        body={},
        result=lambda r: r == "b1",
    ),
]


@pytest.mark.parametrize(
    ("base_url", "prefix"), [(LOCAL, "/api/v1"), (PUBLIC, "/v1")], ids=["local", "public"]
)
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_endpoint_method_path_query_body_and_result(base_url: str, prefix: str, case: Case) -> None:
    """The endpoint sends the documented method, path, query and body, and types the answer."""
    if case.stream:
        answer = reply(200, content=case.answer, headers={"content-type": "application/jsonl"})
    else:
        answer = reply(200, case.answer)
    recorder = Recorder(answer)
    async with client_for(recorder, base_url=base_url) as client:
        result = await case.call(client)
    request = recorder.last
    assert len(recorder.requests) == 1
    assert request.method == case.method
    assert request.url.host == httpx.URL(base_url).host
    assert request.url.path == prefix + case.path
    assert dict(request.url.params.multi_items()) == (case.query or {})
    if case.method == "POST":
        assert recorder.body() == case.body
        assert request.headers["content-type"] == "application/json"
    else:
        assert request.content == b""
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept"] == ("application/jsonl" if case.stream else "application/json")
    assert case.result(result), result


async def test_sse_format_asks_for_event_stream() -> None:
    """``format="sse"`` sends ``accept: text/event-stream``."""
    recorder = Recorder(
        reply(200, content=b"event: nop\ndata: {}\n\n", headers={"content-type": "text/event-stream"})
    )
    async with client_for(recorder) as client, client.channels.subscribe(CHANNEL, format="sse") as events:
        assert [e.type async for e in events] == ["nop"]
    assert recorder.last.headers["accept"] == "text/event-stream"


async def test_timezone_header_only_on_complete_and_dispatch() -> None:
    """``x-timezone`` goes with complete, stream and dispatch, not with other calls."""
    recorder = Recorder(reply(200, {"channelId": CHANNEL, "text": "t", "id": "x"}))
    async with client_for(recorder, timezone="Europe/London") as client:
        await client.conversations.complete({"text": "a"}, conversation_id="c1")
        await client.conversations.dispatch({"text": "a"}, channel_id=CHANNEL)
        await client.tasks.trigger("t1")
    assert [r.headers.get("x-timezone") for r in recorder.requests] == [
        "Europe/London",
        "Europe/London",
        None,
    ]


async def test_custom_headers_prefix_override_and_base_path() -> None:
    """Extra headers are sent, ``api_prefix`` overrides the path rule, and a base path is kept."""
    recorder = Recorder(reply(200, {"id": "t1"}))
    async with client_for(
        recorder, base_url="https://proxy.example/cbk/", api_prefix="/v1", headers={"x-runas-user-id": "u1"}
    ) as client:
        await client.tasks.fetch("t1")
    assert recorder.last.url.path == "/cbk/v1/task/t1/fetch"
    assert recorder.last.headers["x-runas-user-id"] == "u1"
    assert client.api_prefix == "/v1"
    assert client.base_url == "https://proxy.example/cbk"


async def test_ids_are_percent_encoded_into_one_segment() -> None:
    """An id with slashes or spaces cannot escape its path segment."""
    recorder = Recorder(reply(200, {"id": "a/b c"}))
    async with client_for(recorder) as client:
        await client.tasks.fetch("a/../b c")
    assert recorder.last.url.raw_path == b"/api/v1/task/a%2F..%2Fb%20c/fetch"


async def test_query_encoding_of_booleans_and_lists() -> None:
    """Booleans are sent as true/false, lists comma-joined, None dropped (meta included)."""
    recorder = Recorder(reply(200, {"items": []}))
    async with client_for(recorder) as client:
        await _all(client.tasks.list(meta={"flag": True, "off": False, "none": None}, bot_id="b1,b2"))
    assert dict(recorder.last.url.params.multi_items()) == {
        "meta.flag": "true",
        "meta.off": "false",
        "botId": "b1,b2",
    }
    assert encode_query({"ids": ["a", "b"], "x": None, "n": 3}) == (("ids", "a,b"), ("n", "3"))


async def test_no_token_means_no_authorization_header() -> None:
    """A client without a token (local platform without auth) sends no authorization header."""
    recorder = Recorder(reply(200, {"id": "t1"}))
    async with client_for(recorder, token=None) as client:
        await client.tasks.fetch("t1")
    assert "authorization" not in recorder.last.headers
