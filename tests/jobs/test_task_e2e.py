"""Task jobs, scheduled jobs and interactive completions end to end on the local platform."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator import (
    EventType,
    Job,
    JobCancelled,
    JobFailed,
    JobStatus,
    JobTimedOut,
    Orchestrator,
    Prompt,
    Route,
)
from orchestrator.testing import Harness


async def test_task_run_result_is_last_bot_message(harness: Harness) -> None:
    """A cancellable job runs as a one-off task with a bot; its result is the run's last bot message."""
    orc = harness.orchestrator()

    @orc.job(runtime="3h", cancellable=True)
    def analyse(corpus: str) -> Prompt:
        return Prompt(text=f"Analyse {corpus} [[sleep 2h]]", backstory="You are an analyst.")

    assert analyse.route is Route.TASK
    async with orc:
        handle = await analyse.start("corpus-7")
        result = await handle.result()
        events = [e async for e in handle.events()]
    assert result.route is Route.TASK
    assert result.task_id and result.execution_id and result.conversation_id
    assert result.text
    assert result.duration is not None and result.duration >= timedelta(hours=2)
    executions = [e.data for e in events if e.type == EventType.TASK_EXECUTION]
    assert executions[-1]["outcome"] == "success"
    async with harness.platform.client() as client:
        task = await client.tasks.fetch(result.task_id)
        bot = await client.bots.fetch(str(task.bot_id))
    assert task.max_time == int(3 * 3600 / 0.8 * 1000)  # the runtime over the routing headroom
    assert bot.backstory == "You are an analyst."


async def test_task_bot_is_reused(harness: Harness) -> None:
    """Two task runs with the same bot configuration share one created bot."""
    orc = harness.orchestrator()

    @orc.job(runtime="1h", cancellable=True)
    def work(n: int) -> Prompt:
        return Prompt(text=f"work {n}", backstory="same")

    async with orc:
        a = await (await work.start(1)).result()
        b = await (await work.start(2)).result()
    async with harness.platform.client() as client:
        ta, tb = await client.tasks.fetch(str(a.task_id)), await client.tasks.fetch(str(b.task_id))
        bots = [bot async for bot in client.bots.list()]
    assert ta.bot_id == tb.bot_id
    assert len(bots) == 1


async def test_task_cancelled_mid_run(harness: Harness) -> None:
    """cancel() stops a task run on the platform; the job ends cancelled and result() raises JobCancelled."""
    orc = harness.orchestrator()

    @orc.job(runtime="3h", cancellable=True)
    def analyse(corpus: str) -> str:
        return f"Analyse {corpus} [[sleep 2h]]"

    async with orc:
        handle = await analyse.start("corpus-9")
        await harness.clock.sleep(600)  # ten platform-minutes into the run
        await handle.cancel()
        with pytest.raises(JobCancelled):
            await handle.result()
        assert await handle.status() is JobStatus.CANCELLED
        record = await handle.record()
    async with harness.platform.client() as client:
        executions = [e async for e in client.tasks.executions(str(record.state["task_id"]))]
    assert [e.status for e in executions] == ["canceled"]


async def test_task_failure(harness: Harness) -> None:
    """A task run that fails ends the job failed with the execution's summary."""
    orc = harness.orchestrator()

    @orc.job(runtime="1h", cancellable=True)
    def doomed() -> str:
        return '[[fail "source unreachable"]]'

    async with orc:
        with pytest.raises(JobFailed, match="source unreachable"):
            await doomed.run()


async def test_task_over_its_bound_times_out(harness: Harness) -> None:
    """A run past its bound (runtime / headroom) ends timed_out with its partial output, not as a failure."""
    orc = harness.orchestrator()

    @orc.job(runtime="1h", cancellable=True)
    def overrun() -> str:
        return "[[tokens 4]] [[sleep 3h]]"

    async with orc:
        handle = await overrun.start()
        with pytest.raises(JobTimedOut, match="maxTime") as info:
            await handle.result()
        assert await handle.status() is JobStatus.TIMED_OUT
        events = [e.type async for e in handle.events()]
    assert not isinstance(info.value, JobFailed)
    assert info.value.timeout == 4500.0  # 1h / 0.8
    assert info.value.partial_output == "alpha bravo charlie delta "
    assert events[-1] == EventType.TIMED_OUT


async def test_scheduled_job_fires_on_cron_across_a_week(harness: Harness, tmp_path: Path) -> None:
    """A 07:00 weekday schedule in Europe/London fires 5 times in a week; a restart creates no second task."""
    url = os.environ.get("TEST_STORE_URL") or f"sqlite:///{tmp_path}/jobs.sqlite3"

    def make() -> tuple[Orchestrator, Job[[]]]:
        # a long lease: with no other replica, fewer takeover checks make a virtual week pass faster
        orc = harness.orchestrator(store=url, lease=timedelta(minutes=10))

        @orc.job(schedule="0 7 * * 1-5", timezone="Europe/London", runtime="20m", name="nightly_summary")
        def nightly_summary() -> str:
            return "Summarise yesterday [[sleep 5m]]"

        return orc, nightly_summary

    orc, _ = make()
    async with orc:
        await harness.clock.sleep(timedelta(days=7))
        records = await orc.store.list_jobs(job_name="nightly_summary")
    assert len(records) == 5
    assert all(r.status is JobStatus.SUCCEEDED for r in records)
    starts = sorted(datetime.fromtimestamp(float(r.started_at or 0), UTC) for r in records)
    # 2026-03-23..27: BST from the 29th, so all at 07:00 GMT = 07:00 UTC that week
    assert [s.hour for s in starts] == [7] * 5
    assert [s.weekday() for s in starts] == [0, 1, 2, 3, 4]

    again, _ = make()
    async with again:
        await harness.clock.sleep(timedelta(days=1))
        async with harness.platform.client() as client:
            tasks = [t async for t in client.tasks.list(meta={"orchestratorSchedule": "nightly_summary"})]
        records = await again.store.list_jobs(job_name="nightly_summary")
    assert len(tasks) == 1
    # the Monday after: 07:00 BST = 06:00 UTC
    newest = max(float(r.started_at or 0) for r in records)
    assert datetime.fromtimestamp(newest, UTC).hour == 6
    assert len(records) == 6


async def test_trigger_now_runs_a_scheduled_job_off_schedule(harness: Harness) -> None:
    """trigger_now() runs a scheduled job at once, visible through its handle."""
    orc = harness.orchestrator()

    @orc.job(schedule="0 7 * * 1-5", timezone="Europe/London", runtime="20m")
    def report() -> str:
        return "Report [[sleep 1m]]"

    async with orc:
        handle = await report.trigger_now()
        result = await handle.result()
    assert result.route is Route.TASK
    assert result.text


async def test_interactive_completion_streams_tokens(harness: Harness) -> None:
    """An interactive job runs as a completion and streams its tokens through events()."""
    orc = harness.orchestrator()

    @orc.job(interactive=True)
    def chat(text: str) -> str:
        return f"{text} [[tokens 6]]"

    assert chat.route is Route.COMPLETE
    async with orc:
        handle = await chat.start("hello")
        tokens = [str(e.data["token"]) async for e in handle.events() if e.type == EventType.TOKEN]
        result = await handle.result()
    assert len(tokens) >= 1
    assert len("".join(tokens).split()) >= 6, "the six streamed words (one event may hold several deltas)"
    assert "".join(tokens) == result.text
    assert result.route is Route.COMPLETE


async def test_stateful_interactive_chat(harness: Harness) -> None:
    """A stateful interactive job appends to its conversation's history."""
    async with harness.platform.client() as client:
        conversation = await client.conversations.create({})
    orc = harness.orchestrator()

    @orc.job(interactive=True)
    def chat(conversation_id: str, text: str) -> Prompt:
        return Prompt(text=text, conversation_id=conversation_id)

    async with orc:
        await chat.run(conversation.id, "first")
        result = await chat.run(conversation.id, "second")
    assert result.conversation_id == conversation.id
    async with harness.platform.client() as client:
        messages = [m async for m in client.conversations.messages(conversation.id, order="asc")]
    assert [m.type for m in messages] == ["user", "bot", "user", "bot"]


async def test_task_retries_trigger_the_same_task_again(harness: Harness) -> None:
    """retries=1 on a task job triggers its task once more after a failed run; both runs are tracked."""
    orc = harness.orchestrator()

    @orc.job(runtime="1h", cancellable=True, retries=1)
    def flaky_task() -> str:
        return '[[sleep 5m]] [[fail "upstream down"]]'

    async with orc:
        handle = await flaky_task.start()
        with pytest.raises(JobFailed, match="upstream down"):
            await handle.result()
        events = [e async for e in handle.events()]
        record = await handle.record()
    assert [e.data["attempt"] for e in events if e.type == EventType.RETRY] == [2]
    seen = {e.data["execution_id"] for e in events if e.type == EventType.TASK_EXECUTION}
    async with harness.platform.client() as client:
        executions = [e async for e in client.tasks.executions(str(record.state["task_id"]))]
    assert len(executions) == 2
    assert seen == {e.id for e in executions}
