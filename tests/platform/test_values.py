"""Stream events, completion results, collect_completion and the typed records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrator import PlatformError, StreamProtocolError
from orchestrator.platform import (
    Bot,
    CompletionResult,
    Conversation,
    EventLogItem,
    Message,
    Record,
    StreamEvent,
    Task,
    TaskExecution,
    collect_completion,
)


async def _events(*items: dict[str, Any]) -> AsyncIterator[StreamEvent]:
    for item in items:
        yield StreamEvent.from_wire(item)


def test_stream_event_inner_unwraps_channel_items() -> None:
    """``inner()`` unwraps ``{type: message, data: {type, data}}`` and is None for anything else."""
    event = StreamEvent.from_wire(
        {"type": "message", "data": {"type": "token", "data": {"token": "a"}, "k": 1}}
    )
    inner = event.inner()
    assert inner == StreamEvent(
        "token", {"token": "a"}, None, {"type": "token", "data": {"token": "a"}, "k": 1}
    )
    assert StreamEvent("token", {"type": "x"}).inner() is None
    assert StreamEvent("message", "text").inner() is None
    assert StreamEvent("message", {"type": 5}).inner() is None


def test_stream_event_is_terminal_and_from_wire_validation() -> None:
    """Only result and error are terminal; from_wire refuses items that are not objects with a string type."""
    assert StreamEvent("result").is_terminal
    assert StreamEvent("error").is_terminal
    assert not StreamEvent("token").is_terminal
    with pytest.raises(StreamProtocolError, match="JSON object"):
        StreamEvent.from_wire([1])
    with pytest.raises(StreamProtocolError, match="string 'type'"):
        StreamEvent.from_wire({"type": None})


def test_completion_result_from_wire() -> None:
    """A completion body maps text, end reason, usage and id; absent parts get neutral values."""
    result = CompletionResult.from_wire(
        {"text": "hi", "usage": {"token": 3}, "end": {"reason": "stop"}, "id": "m1", "extra": 1}
    )
    assert (result.text, result.end_reason, result.usage, result.id) == ("hi", "stop", {"token": 3}, "m1")
    assert result.raw["extra"] == 1
    bare = CompletionResult.from_wire({})
    assert (bare.text, bare.end_reason, bare.usage, bare.id) == ("", None, {}, None)
    with pytest.raises(PlatformError, match="JSON object"):
        CompletionResult.from_wire("nope")


async def test_collect_completion_direct_stream() -> None:
    """A direct completion stream yields the result event's text, end reason and usage; pings are ignored."""
    result = await collect_completion(
        _events(
            {"type": "ping"},
            {"type": "token", "data": {"token": "Hel"}},
            {"type": "message", "data": {"type": "bot", "text": "Hello"}},
            {"type": "result", "data": {"text": "Hello", "usage": {"token": 2}, "end": {"reason": "stop"}}},
        )
    )
    assert (result.text, result.end_reason, result.usage) == ("Hello", "stop", {"token": 2})


async def test_collect_completion_dispatch_channel_and_token_fallback() -> None:
    """On a channel the inner events count; a result without text gets the accumulated tokens."""
    result = await collect_completion(
        _events(
            {"type": "nop"},
            {"type": "message", "data": {"type": "token", "data": {"token": "Hel"}}},
            {"type": "message", "data": {"type": "token", "data": {"token": "lo"}}},
            {"type": "message", "data": {"type": "result", "data": {"end": {"reason": "stop"}}}},
            {"type": "message", "data": {"type": "token", "data": {"token": "never read"}}},
        )
    )
    assert (result.text, result.end_reason) == ("Hello", "stop")


async def test_collect_completion_error_event_raises_platform_error() -> None:
    """A mid-stream error event becomes a PlatformError with the event's message and code."""
    with pytest.raises(PlatformError) as caught:
        await collect_completion(
            _events(
                {"type": "token", "data": {"token": "a"}},
                {"type": "error", "data": {"message": "Limits exceeded for user", "code": "LIMITS_REACHED"}},
            )
        )
    assert caught.value.message == "Limits exceeded for user"
    assert caught.value.code == "LIMITS_REACHED"
    assert caught.value.status is None
    with pytest.raises(PlatformError, match="reported an error"):
        await collect_completion(_events({"type": "message", "data": {"type": "error", "data": {}}}))


async def test_collect_completion_stream_without_result() -> None:
    """A stream that ends before a result is a StreamProtocolError."""
    with pytest.raises(StreamProtocolError, match="ended before"):
        await collect_completion(_events({"type": "token", "data": {"token": "a"}}))


def test_records_from_wire_map_every_documented_field() -> None:
    """Each record maps its camelCase wire fields and keeps the whole object in raw."""
    conv = Conversation.from_wire(
        {
            "id": "c1",
            "botId": "b1",
            "taskId": "t1",
            "meta": {"k": "v"},
            "createdAt": 1,
            "updatedAt": 2,
            "x": 3,
        }
    )
    assert conv == Conversation("c1", "b1", "t1", {"k": "v"}, 1, 2, raw=conv.raw)
    assert conv.raw["x"] == 3
    msg = Message.from_wire({"id": "m1", "type": "bot", "text": "hi", "meta": None, "createdAt": 5})
    assert (msg.type, msg.text, msg.meta, msg.created_at) == ("bot", "hi", {}, 5)
    bot = Bot.from_wire(
        {"id": "b1", "name": "n", "backstory": "s", "model": "gpt", "meta": {}, "createdAt": 7}
    )
    assert (bot.name, bot.backstory, bot.model, bot.created_at) == ("n", "s", "gpt", 7)
    task = Task.from_wire(
        {
            "id": "t1",
            "name": "n",
            "description": "d",
            "botId": "b1",
            "schedule": "0 7 * * 1-5",
            "timezone": "Europe/London",
            "maxTime": 60000,
            "status": "running",
            "outcome": "pending",
            "nextRunAt": 10,
            "lastRunAt": 9,
            "expiresAt": 11,
            "meta": {"job": "j"},
            "createdAt": 1,
            "updatedAt": 2,
        }
    )
    assert task == Task(
        "t1", "n", "d", "b1", "0 7 * * 1-5", "Europe/London", 60000, "running", "pending", 10, 9, 11,
        {"job": "j"}, 1, 2, raw=task.raw,
    )  # fmt: skip
    item = EventLogItem.from_wire({"id": "e1", "type": "task.interact", "taskId": "t1", "createdAt": 4})
    assert (item.type, item.task_id, item.conversation_id, item.created_at) == (
        "task.interact",
        "t1",
        None,
        4,
    )


def test_task_execution_parses_iso_timestamps() -> None:
    """completedAt/resumeAt are ISO strings on the wire and aware datetimes on the record."""
    run = TaskExecution.from_wire(
        {
            "id": "x1",
            "taskId": "t1",
            "status": "idle",
            "outcome": "success",
            "summary": "done",
            "conversationId": "c1",
            "completedAt": "2024-05-01T10:00:00.123Z",
            "resumeAt": "2024-05-01T11:00:00",
            "createdAt": 1,
            "updatedAt": 2,
        }
    )
    assert run.completed_at == datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert run.resume_at == datetime(2024, 5, 1, 11, tzinfo=UTC)
    assert (run.task_id, run.status, run.outcome, run.summary, run.conversation_id) == (
        "t1",
        "idle",
        "success",
        "done",
        "c1",
    )
    odd = TaskExecution.from_wire({"id": "x2", "completedAt": 1714557600000, "resumeAt": "not a date"})
    assert odd.completed_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert odd.resume_at is None


def test_records_tolerate_wrong_types_and_refuse_missing_ids() -> None:
    """Mistyped fields become None (raw keeps them); an object without an id is a PlatformError."""
    conv = Conversation.from_wire({"id": "c1", "botId": 5, "createdAt": "yesterday", "meta": []})
    assert (conv.bot_id, conv.created_at, conv.meta) == (None, None, {})
    assert conv.raw["botId"] == 5
    with pytest.raises(PlatformError, match="no string 'id'"):
        Task.from_wire({"name": "x"})
    with pytest.raises(PlatformError, match="expected a JSON object"):
        Record.from_wire(["id"])
    assert Record.from_wire({"id": "r1", "entities": []}).raw == {"id": "r1", "entities": []}
