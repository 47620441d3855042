"""Tasks: CRUD and validation, trigger and executions, maxTime, cancel, skipped triggers, schedules across
DST, expiry, the event log and the workflow stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from orchestrator._clock import VirtualClock, move_on_after
from orchestrator._errors import BadRequestError, NotFoundError
from orchestrator.local import LocalPlatform
from orchestrator.platform import PlatformClient, StreamEvent, TaskExecution

from .conftest import hosted


async def _executions(client: PlatformClient, task_id: str) -> list[TaskExecution]:
    return [e async for e in client.tasks.executions(task_id, order="asc")]


async def _settle(
    client: PlatformClient, clock: VirtualClock, task_id: str, seconds: float = 60
) -> TaskExecution:
    """Let platform time pass, then the task's latest execution."""
    await clock.sleep(seconds)
    return (await _executions(client, task_id))[-1]


@pytest.fixture
async def bot_id(client: PlatformClient) -> str:
    return await client.bots.create({"name": "worker"})


async def test_task_crud_and_defaults(client: PlatformClient, bot_id: str) -> None:
    """A task is created idle/pending with the default maxTime; update, fetch, list and delete work."""
    task_id = await client.tasks.create(
        {"name": "t", "description": "do it", "botId": bot_id, "meta": {"k": "v"}}
    )
    task = await client.tasks.fetch(task_id)
    assert (task.status, task.outcome, task.bot_id, task.max_time) == ("idle", "pending", bot_id, 86_400_000)
    await client.tasks.update(task_id, {"description": "do it again", "maxTime": 500})
    task = await client.tasks.fetch(task_id)
    assert task.description == "do it again"
    assert task.max_time == 1000  # clamped to the minimum
    assert [t.id async for t in client.tasks.list(meta={"k": "v"})] == [task_id]
    assert [t.id async for t in client.tasks.list(meta={"k": "w"})] == []
    assert [t.id async for t in client.tasks.list(bot_id=bot_id, status="idle")] == [task_id]
    await client.tasks.delete(task_id)
    with pytest.raises(NotFoundError):
        await client.tasks.fetch(task_id)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"schedule": "every tuesday"}, "is not a cron expression"),
        ({"schedule": "0 7 * * 1-5", "timezone": "Mars/Olympus"}, "not an IANA timezone"),
        ({"maxTime": "1h"}, "maxTime must be an integer, got a string"),
        ({"maxTime": 0}, "maxTime must be at least 1"),
        ({"name": ["x"]}, "name must be a string, got an array"),
        ({"meta": "x"}, "meta must be an object"),
    ],
)
async def test_task_validation(client: PlatformClient, body: dict[str, Any], message: str) -> None:
    """Bad schedules, zones and types are 400 with a precise message."""
    with pytest.raises(BadRequestError, match=message):
        await client.tasks.create(body)


async def test_unknown_bot_is_404(client: PlatformClient) -> None:
    """A task naming an unknown bot is 404."""
    with pytest.raises(NotFoundError, match="Bot 'ghost' not found"):
        await client.tasks.create({"botId": "ghost"})


async def test_presets_set_next_run(client: PlatformClient, clock: VirtualClock) -> None:
    """Presets like ``hourly`` are accepted and give ``nextRunAt``; ``never`` gives none."""
    hourly = await client.tasks.fetch(await client.tasks.create({"schedule": "hourly"}))
    assert hourly.next_run_at is not None
    assert 0 < hourly.next_run_at / 1000 - clock.time() <= 3600
    never = await client.tasks.fetch(await client.tasks.create({"schedule": "never"}))
    assert never.next_run_at is None


async def test_trigger_runs_and_records_an_execution(
    client: PlatformClient, clock: VirtualClock, bot_id: str
) -> None:
    """A triggered run succeeds: idle/success, a summary, and a conversation holding the reply."""
    task_id = await client.tasks.create(
        {"name": "digest", "description": "Summarise the inbox", "botId": bot_id}
    )
    assert await client.tasks.trigger(task_id) == task_id
    execution = await _settle(client, clock, task_id)
    assert (execution.status, execution.outcome) == ("idle", "success")
    assert execution.summary == "Done: Summarise the inbox"
    assert isinstance(execution.raw["completedAt"], str)
    assert execution.completed_at is not None
    assert execution.conversation_id is not None
    messages = [
        (m.type, m.text) async for m in client.conversations.messages(execution.conversation_id, order="asc")
    ]
    assert messages == [("user", "Summarise the inbox"), ("bot", "Done: Summarise the inbox")]
    task = await client.tasks.fetch(task_id)
    assert (task.status, task.outcome) == ("idle", "success")
    assert task.last_run_at == execution.created_at


async def test_task_without_bot_fails_with_a_reason(client: PlatformClient, clock: VirtualClock) -> None:
    """A task without a bot is accepted, but its runs fail with a summary that says why."""
    task_id = await client.tasks.create({"description": "anything"})
    await client.tasks.trigger(task_id)
    execution = await _settle(client, clock, task_id)
    assert execution.outcome == "failure"
    assert execution.summary is not None
    assert execution.summary.startswith("Task has no bot: set botId")


async def test_failing_run(client: PlatformClient, clock: VirtualClock, bot_id: str) -> None:
    """``[[fail "why"]]`` in the description fails the execution with that summary."""
    task_id = await client.tasks.create(
        {"description": '[[sleep 5m]] [[fail "source offline"]]', "botId": bot_id}
    )
    await client.tasks.trigger(task_id)
    execution = await _settle(client, clock, task_id, 600)
    assert (execution.status, execution.outcome, execution.summary) == ("idle", "failure", "source offline")


async def test_max_time_is_enforced(client: PlatformClient, clock: VirtualClock, bot_id: str) -> None:
    """A run longer than ``maxTime`` fails when it is reached, with a summary naming the limit."""
    task_id = await client.tasks.create(
        {"description": "[[sleep 3h]]", "botId": bot_id, "maxTime": 3_600_000}
    )
    await client.tasks.trigger(task_id)
    execution = await _settle(client, clock, task_id, 5 * 3600)
    assert execution.outcome == "failure"
    assert execution.summary == "The run exceeded maxTime of 3600000 ms (1 hour)"
    assert execution.completed_at is not None
    assert execution.created_at is not None
    assert execution.completed_at.timestamp() - execution.created_at / 1000 == pytest.approx(3600)


async def test_long_task_succeeds_within_max_time(
    client: PlatformClient, clock: VirtualClock, bot_id: str
) -> None:
    """Hours of agent work pass on the virtual clock; the run succeeds after 5 platform-hours."""
    task_id = await client.tasks.create(
        {"description": "[[sleep 5h]] crunch", "botId": bot_id, "maxTime": 6 * 3_600_000}
    )
    await client.tasks.trigger(task_id)
    execution = await _settle(client, clock, task_id, 6 * 3600)
    assert (execution.outcome, execution.summary) == ("success", "Done: crunch")


@pytest.mark.parametrize("by_execution", [False, True])
async def test_cancel_stops_the_run_within_5_seconds(
    client: PlatformClient, clock: VirtualClock, bot_id: str, by_execution: bool
) -> None:
    """Cancelling a task (or its execution) stops the run within 5 platform-seconds: status canceled."""
    task_id = await client.tasks.create({"description": "[[sleep 1h]]", "botId": bot_id})
    with clock.hold():
        await client.tasks.trigger(task_id)
        (running,) = await _executions(client, task_id)
        assert running.status == "running"
    await clock.sleep(12)
    cancelled_at = clock.time()
    with clock.hold():
        if by_execution:
            assert await client.tasks.cancel_execution(task_id, running.id) == running.id
        else:
            await client.tasks.cancel(task_id)
    execution = await _settle(client, clock, task_id, 30)
    assert (execution.status, execution.outcome) == ("canceled", "failure")
    assert execution.completed_at is not None
    assert 0 <= execution.completed_at.timestamp() - cancelled_at <= 5
    task = await client.tasks.fetch(task_id)
    assert task.status == "idle"


async def test_cancel_of_unknown_execution_is_404(raw: httpx.AsyncClient) -> None:
    """Cancelling an execution the task does not have is 404."""
    task_id = (await raw.post("/task/create", json={})).json()["id"]
    response = await raw.post(f"/task/{task_id}/execution/nope/cancel")
    assert response.status_code == 404


async def test_trigger_while_running_is_skipped(
    client: PlatformClient, clock: VirtualClock, bot_id: str
) -> None:
    """A trigger while the task runs is a no-op that logs ``task.interact.skipped``."""
    task_id = await client.tasks.create({"description": "[[sleep 10m]]", "botId": bot_id})
    with clock.hold():
        await client.tasks.trigger(task_id)
        await client.tasks.trigger(task_id)
    await _settle(client, clock, task_id, 3600)
    assert len(await _executions(client, task_id)) == 1
    kinds = [e.type async for e in client.events.list(order="asc")]
    assert kinds == ["task.interact", "task.interact.skipped", "task.interact.completed"]


@pytest.mark.parametrize("fmt", ["jsonl", "sse"])
async def test_event_log_items_and_subscribe(
    client: PlatformClient, clock: VirtualClock, bot_id: str, fmt: Any
) -> None:
    """Event log items carry id, type, createdAt, updatedAt and the task, execution, conversation, bot ids."""
    task_id = await client.tasks.create({"description": "x", "botId": bot_id})
    await client.tasks.trigger(task_id)
    (execution,) = [await _settle(client, clock, task_id)]
    items = [e.raw async for e in client.events.list(order="asc")]
    assert [i["type"] for i in items] == ["task.interact", "task.interact.completed"]
    assert items[1]["executionId"] == execution.id
    assert items[1]["conversationId"] == execution.conversation_id
    assert items[1]["botId"] == bot_id
    assert isinstance(items[1]["createdAt"], int)
    assert items[1]["updatedAt"] == items[1]["createdAt"]
    async with client.events.subscribe(history_length=1, format=fmt) as events:
        replayed = await events.__anext__()  # no leading nop on the event log (reference §9)
        await client.tasks.trigger(task_id)
        live = await events.__anext__()
    assert (replayed.type, replayed.data["type"]) == ("item", "task.interact.completed")
    assert live.data["type"] == "task.interact"


async def test_aborted_event_on_cancel(client: PlatformClient, clock: VirtualClock, bot_id: str) -> None:
    """A canceled run logs ``task.interact.aborted``."""
    task_id = await client.tasks.create({"description": "[[sleep 1h]]", "botId": bot_id})
    with clock.hold():
        await client.tasks.trigger(task_id)
        await client.tasks.cancel(task_id)
    await clock.sleep(10)
    kinds = [e.type async for e in client.events.list(order="asc")]
    assert kinds == ["task.interact", "task.interact.aborted"]


@pytest.mark.parametrize("fmt", ["jsonl", "sse"])
async def test_workflow_stream_reports_errors(
    client: PlatformClient, clock: VirtualClock, bot_id: str, fmt: Any
) -> None:
    """``/task/{id}/subscribe`` emits ``error`` items ``{type, createdAt, data}`` when a run fails."""
    task_id = await client.tasks.create({"description": '[[fail "broken"]]', "botId": bot_id})
    seen: list[StreamEvent] = []
    async with client.tasks.subscribe(task_id, history_length=10, format=fmt) as events:
        await client.tasks.trigger(task_id)
        async with move_on_after(clock, 60):
            async for event in events:
                seen.append(event)
                if event.type == "error":
                    break
    assert seen[-1].type == "error"
    assert seen[-1].data == {"message": "broken"}
    if fmt == "jsonl":
        assert isinstance(seen[-1].created_at, int)


async def test_expires_at_deletes_the_task(client: PlatformClient, clock: VirtualClock) -> None:
    """A task is deleted when its ``expiresAt`` comes."""
    task_id = await client.tasks.create({"expiresAt": int((clock.time() + 120) * 1000)})
    await clock.sleep(121)
    with pytest.raises(NotFoundError):
        await client.tasks.fetch(task_id)


async def test_execution_list_filters(client: PlatformClient, clock: VirtualClock, bot_id: str) -> None:
    """Executions list by ``status`` and carry the task's meta."""
    task_id = await client.tasks.create({"description": "x", "botId": bot_id, "meta": {"job": "j1"}})
    await client.tasks.trigger(task_id)
    await _settle(client, clock, task_id)
    assert [e.meta async for e in client.tasks.executions(task_id, status="idle")] == [{"job": "j1"}]
    assert [e async for e in client.tasks.executions(task_id, status="running")] == []


async def test_session_duration_reuses_the_conversation(
    client: PlatformClient, clock: VirtualClock, bot_id: str
) -> None:
    """``sessionDuration`` > 0: runs reuse one conversation while the session lives; 0: fresh ones."""
    reuse = await client.tasks.create({"description": "x", "botId": bot_id, "sessionDuration": 3_600_000})
    fresh = await client.tasks.create({"description": "x", "botId": bot_id})
    for task_id in (reuse, fresh, reuse, fresh):
        await client.tasks.trigger(task_id)
        await clock.sleep(60)
    reused = {e.conversation_id for e in await _executions(client, reuse)}
    separate = {e.conversation_id for e in await _executions(client, fresh)}
    assert (len(reused), len(separate)) == (1, 2)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (  # BST starts on Sunday 2026-03-29: 07:00 London is 07:00 UTC before, 06:00 UTC after
            datetime(2026, 3, 26, tzinfo=UTC),
            [
                "2026-03-26T07:00",
                "2026-03-27T07:00",
                "2026-03-30T06:00",
                "2026-03-31T06:00",
                "2026-04-01T06:00",
            ],
        ),
        (  # BST ends on Sunday 2026-10-25
            datetime(2026, 10, 22, tzinfo=UTC),
            [
                "2026-10-22T06:00",
                "2026-10-23T06:00",
                "2026-10-26T07:00",
                "2026-10-27T07:00",
                "2026-10-28T07:00",
            ],
        ),
    ],
)
async def test_weekday_schedule_across_a_dst_change(start: datetime, expected: list[str]) -> None:
    """``0 7 * * 1-5`` in Europe/London runs 5 times in a week crossing DST, at the right UTC times."""
    clock = VirtualClock(start=start, autojump=False)
    async with hosted(LocalPlatform(clock=clock)) as platform, platform.client() as client:
        bot_id = await client.bots.create({})
        task_id = await client.tasks.create(
            {
                "description": "morning digest",
                "botId": bot_id,
                "schedule": "0 7 * * 1-5",
                "timezone": "Europe/London",
            }
        )
        first = await client.tasks.fetch(task_id)
        await clock.advance(timedelta(days=7))
        executions = await _executions(client, task_id)
    assert first.next_run_at == int(datetime.fromisoformat(expected[0] + "+00:00").timestamp() * 1000)
    times = [
        datetime.fromtimestamp((e.created_at or 0) / 1000, UTC).strftime("%Y-%m-%dT%H:%M") for e in executions
    ]
    assert times == expected
    assert all(e.outcome == "success" for e in executions)
