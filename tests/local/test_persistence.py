"""``state=FILE``: records survive a restart; runs cut short by a stop are failed; ids keep increasing."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator._clock import VirtualClock
from orchestrator.local import LocalPlatform

from ._util import channel_id, dispatch_and_collect, until_terminal
from .conftest import hosted


async def test_records_survive_a_restart(tmp_path: Path) -> None:
    """Bots, tasks, executions, conversations, messages and events are read back from the state file."""
    state = tmp_path / "platform.sqlite3"
    clock = VirtualClock()
    async with hosted(LocalPlatform(clock=clock, state=state)) as platform, platform.client() as client:
        bot_id = await client.bots.create({"name": "kept", "meta": {"k": "v"}})
        task_id = await client.tasks.create({"description": "persist me", "botId": bot_id})
        await client.tasks.trigger(task_id)
        await clock.sleep(60)
        # from here on a scheduled run is pending: hold the clock so autojump cannot reach it mid-test
        with clock.hold():
            await client.tasks.update(task_id, {"schedule": "daily"})
            conversation = await client.conversations.create({"name": "chat"})
            body = {"text": "hello"}
            await dispatch_and_collect(client, body, conversation_id=conversation.id, channel_id=channel_id())
            await client.bots.delete(await client.bots.create({"name": "gone"}))
    with clock.hold():
        await _check_restored(state, clock, bot_id, task_id, conversation.id)


async def _check_restored(
    state: Path, clock: VirtualClock, bot_id: str, task_id: str, conversation_id: str
) -> None:
    async with hosted(LocalPlatform(clock=clock, state=state)) as platform, platform.client() as client:
        bots = [b async for b in client.bots.list()]
        assert [(b.id, b.name, b.meta) for b in bots] == [(bot_id, "kept", {"k": "v"})]
        task = await client.tasks.fetch(task_id)
        assert (task.description, task.outcome) == ("persist me", "success")
        assert task.next_run_at is not None
        (execution,) = [e async for e in client.tasks.executions(task_id)]
        assert execution.summary == "Done: persist me"
        texts = [m.text async for m in client.conversations.messages(conversation_id, order="asc")]
        assert texts == ["hello", "Done: hello"]
        kinds = [e.type async for e in client.events.list(order="asc")]
        assert kinds == ["task.interact", "task.interact.completed"]
        newer = await client.bots.create({})
        assert newer > bot_id


async def test_running_execution_fails_after_restart(tmp_path: Path) -> None:
    """An execution still running when the platform stopped is failed when the state is read back."""
    state = tmp_path / "platform.sqlite3"
    clock = VirtualClock(autojump=False)
    async with hosted(LocalPlatform(clock=clock, state=state)) as platform, platform.client() as client:
        bot_id = await client.bots.create({})
        task_id = await client.tasks.create({"description": "[[sleep 1h]]", "botId": bot_id})
        await client.tasks.trigger(task_id)
        assert platform.active_runs == 1
    async with hosted(LocalPlatform(clock=clock, state=state)) as platform, platform.client() as client:
        (execution,) = [e async for e in client.tasks.executions(task_id)]
        assert (execution.status, execution.outcome) == ("idle", "failure")
        assert execution.summary == "The local platform stopped during this execution"
        assert (await client.tasks.fetch(task_id)).status == "idle"
        await client.tasks.trigger(task_id)
        assert platform.active_runs == 1


async def test_unusable_state_file(tmp_path: Path) -> None:
    """A state path that is not a SQLite database is refused with the path in the message."""
    state = tmp_path / "not-a-db"
    state.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(OSError, match="not-a-db"):
        async with LocalPlatform(clock=VirtualClock(), state=state):
            pass


async def test_dispatch_dedupe_and_channel_history_survive_a_restart(tmp_path: Path) -> None:
    """After a restart with the same state file, a dispatch retried with its channelId does not run again,
    and a subscriber with historyLength gets the replay it would have got before the restart."""
    state = tmp_path / "platform.sqlite3"
    clock = VirtualClock()
    channel = channel_id()
    async with hosted(LocalPlatform(clock=clock, state=state)) as platform, platform.client() as client:
        before = await dispatch_and_collect(
            client, {"messages": [{"type": "user", "text": "once [[tokens 3]]"}]}, channel_id=channel
        )
        async with client.channels.subscribe(channel, history_length=4) as events:
            await events.__anext__()  # nop
            tail_before = [(await events.__anext__()).raw for _ in range(4)]
    async with hosted(LocalPlatform(clock=clock, state=state)) as platform, platform.client() as client:
        with clock.hold():
            again = await client.conversations.dispatch(
                {"messages": [{"type": "user", "text": "twice"}]}, channel_id=channel
            )
            assert again == channel
            assert platform.active_runs == 0
        async with client.channels.subscribe(channel, history_length=1000) as events:
            replayed = await until_terminal(events)
        assert [e.raw for e in replayed] == [e.raw for e in before]
        assert replayed[-1].data["text"].endswith("Done: once")
        async with client.channels.subscribe(channel, history_length=4) as events:
            await events.__anext__()
            assert [(await events.__anext__()).raw for _ in range(4)] == tail_before
    async with hosted(LocalPlatform(clock=clock, state=state)) as platform, platform.client() as client:
        await clock.sleep(2 * 3600)  # past the dedup window and the history's hour
    async with hosted(LocalPlatform(clock=clock, state=state)) as platform, platform.client() as client:
        with clock.hold():
            later = {"messages": [{"type": "user", "text": "later [[sleep 1m]]"}]}
            await client.conversations.dispatch(later, channel_id=channel)
            assert platform.active_runs == 1  # the dedup window has passed: a new run
        async with client.channels.subscribe(channel, history_length=1000) as events:
            fresh = await until_terminal(events)
        assert fresh[0].type == "completeBegin"  # the expired history was not replayed
        assert [e.data["text"] for e in fresh if e.type == "result"] == ["Done: later"]
