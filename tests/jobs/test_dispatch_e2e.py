"""Dispatch jobs end to end on the local platform over loopback HTTP, on a virtual clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator import (
    CeilingExceeded,
    EventType,
    JobFailed,
    JobStatus,
    NotCancellable,
    Orchestrator,
    Prompt,
    Route,
    VirtualClock,
)
from orchestrator.local import LocalPlatform
from orchestrator.testing import Harness, local_harness


async def test_dispatch_result_and_event_log(harness: Harness) -> None:
    """A dispatch job's result arrives, and its log holds created, started, tokens and succeeded, gap-free."""
    orc = harness.orchestrator()

    @orc.job(runtime="3m")
    def triage(ticket: str) -> Prompt:
        return Prompt(text=f"Triage this ticket: {ticket} [[tokens 12]]")

    assert triage.route is Route.DISPATCH
    async with orc:
        handle = await triage.start("T-1")
        result = await handle.result()
        assert await handle.status() is JobStatus.SUCCEEDED
        events = [e async for e in handle.events()]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    types = [e.type for e in events]
    assert types[0] == EventType.CREATED
    assert types[1] == EventType.STARTED
    assert types[-1] == EventType.SUCCEEDED
    tokens = "".join(str(e.data["token"]) for e in events if e.type == EventType.TOKEN)
    assert tokens == result.text
    assert result.route is Route.DISPATCH
    assert result.channel_id is not None and len(result.channel_id) >= 24


async def test_late_subscriber_replays_from_start(harness: Harness) -> None:
    """events(since=n) replays from any cursor; several subscribers each get the same log."""
    orc = harness.orchestrator()

    @orc.job(runtime="1m")
    def short() -> str:
        return "Say something [[tokens 5]]"

    async with orc:
        handle = await short.start()
        await handle.result()
        full = [e async for e in handle.events()]
        tail = [e async for e in handle.events(since=3)]
    assert tail == full[3:]


@pytest.mark.parametrize("kill", ["silent", "error"])
async def test_ceiling_exceeded_with_partial_output(kill: str) -> None:
    """A dispatch that works 20 minutes is killed at 15 and ends ceiling_exceeded with its partial output."""
    clock = VirtualClock()
    async with local_harness(clock=clock, ceiling_kill=kill) as h:
        orc = h.orchestrator()

        @orc.job(runtime="10m")
        def long_one() -> str:
            return "Work on it [[tokens 8]] [[sleep 20m]]"

        async with orc:
            t0 = clock.time()
            handle = await long_one.start()
            with pytest.raises(CeilingExceeded) as info:
                await handle.result()
            assert await handle.status() is JobStatus.CEILING_EXCEEDED
            events = [e async for e in handle.events()]
    assert info.value.partial_output
    assert len(info.value.partial_output.split()) == 8
    elapsed = clock.time() - t0
    assert 15 * 60 <= elapsed <= 15 * 60 + 120
    milestones = [e.data["fraction"] for e in events if e.type == EventType.CEILING_APPROACHING]
    assert milestones == [0.5, 0.8, 0.95]


async def test_dispatch_is_not_cancellable(harness: Harness) -> None:
    """cancel() on a dispatch raises NotCancellable, saying to declare a task."""
    orc = harness.orchestrator()

    @orc.job(runtime="2m")
    def quick() -> str:
        return "hello [[sleep 1m]]"

    async with orc:
        handle = await quick.start()
        with pytest.raises(NotCancellable, match="cancellable=True"):
            await handle.cancel()
        await handle.result()


async def test_failed_dispatch_raises_job_failed(harness: Harness) -> None:
    """An error event before the ceiling is a failure with the platform's reason."""
    orc = harness.orchestrator()

    @orc.job(runtime="2m")
    def broken() -> str:
        return 'Try [[fail "the model gave up"]]'

    async with orc:
        handle = await broken.start()
        with pytest.raises(JobFailed, match="the model gave up") as info:
            await handle.result()
    assert info.value.reason == "the model gave up"
    assert info.value.job_id == handle.id


async def test_retries_restart_a_failed_dispatch(harness: Harness) -> None:
    """retries=1 starts a failed dispatch once more, on a new channel, then reports the failure."""
    orc = harness.orchestrator()

    @orc.job(runtime="2m", retries=1)
    def flaky() -> str:
        return '[[fail "boom"]]'

    async with orc:
        handle = await flaky.start()
        with pytest.raises(JobFailed):
            await handle.result()
        events = [e async for e in handle.events()]
    assert [e.data["attempt"] for e in events if e.type == EventType.RETRY] == [2]
    assert [e.data["attempt"] for e in events if e.type == EventType.STARTED] == [1, 2]


async def test_live_tool_is_answered(harness: Harness) -> None:
    """A callable in the prompt is run when the agent calls it, and the run continues to its result."""
    orc = harness.orchestrator()
    calls: list[str] = []

    async def lookup_order(order_id: str) -> dict[str, str]:
        """Look up an order."""
        calls.append(order_id)
        return {"order_id": order_id, "status": "shipped"}

    @orc.job(runtime="5m")
    def support(order: str) -> Prompt:
        return Prompt(
            text=f'Where is my order? [[call lookup_order {{"order_id": "{order}"}}]]',
            functions=[lookup_order],
        )

    async with orc:
        handle = await support.start("A-17")
        result = await handle.result()
        events = [e async for e in handle.events()]
    assert calls == ["A-17"]
    tool_results = [e.data for e in events if e.type == EventType.TOOL_RESULT]
    assert tool_results == [
        {"name": "lookup_order", "channel": tool_results[0]["channel"], "ok": True, "error": None}
    ]
    assert any(e.type == EventType.TOOL_CALL for e in events)
    assert result.text


async def test_failing_tool_reports_error_to_agent(harness: Harness) -> None:
    """A tool that raises is answered with its error; the job goes on."""
    orc = harness.orchestrator()

    def explode() -> str:
        """Always fails."""
        raise RuntimeError("database down")

    @orc.job(runtime="5m")
    def uses_tool() -> Prompt:
        return Prompt(text="[[call explode {}]]", functions=[explode])

    async with orc:
        handle = await uses_tool.start()
        try:
            await handle.result()
        except JobFailed:
            pass
        events = [e async for e in handle.events()]
    (tool_result,) = [e.data for e in events if e.type == EventType.TOOL_RESULT]
    assert tool_result["ok"] is False
    assert "database down" in str(tool_result["error"])


async def test_get_handle_from_another_orchestrator(harness: Harness, tmp_path: object) -> None:
    """A handle by id works from a second orchestrator sharing the store."""
    url = f"sqlite:///{tmp_path}/jobs.sqlite3"
    first = harness.orchestrator(store=url)

    @first.job(runtime="1m", name="hello")
    def hello() -> str:
        return "hi [[tokens 3]]"

    async with first:
        handle = await hello.start()
        await handle.result()
    second = harness.orchestrator(store=url)
    async with second:
        same = await second.load_handle(handle.id)
        assert same.job_name == "hello"
        assert (await same.result()).text == (await second.get_handle(handle.id).result()).text


async def test_max_concurrency_holds_excess_as_pending(harness: Harness) -> None:
    """With max_concurrency=1, a second start waits as pending and starts after the first, in order."""
    orc = harness.orchestrator()

    @orc.job(runtime="5m", max_concurrency=1)
    def serial(n: int) -> str:
        return f"job {n} [[sleep 2m]]"

    async with orc:
        first = await serial.start(1)
        second = await serial.start(2)
        assert await second.status() is JobStatus.PENDING
        r1 = await first.result()
        r2 = await second.result()
    assert r1.finished_at is not None and r2.started_at is not None
    assert r2.started_at >= r1.finished_at


async def test_routing_advice_when_p95_nears_ceiling(harness: Harness) -> None:
    """A dispatch job whose runs take over 80% of the ceiling gets routing advice in its log and the report."""
    orc = harness.orchestrator()

    @orc.job(runtime="10m")
    def creeping() -> str:
        return "[[sleep 13m]] done"

    async with orc:
        handle = await creeping.start()
        await handle.result()
        events = [e async for e in handle.events()]
        report = orc.routing_report()
    assert any(e.type == EventType.ROUTING_ADVICE for e in events)
    row = report.row("creeping")
    assert row.samples == 1
    assert row.advice is not None and "task" in row.advice
    assert row.p95 is not None and row.p95 >= timedelta(minutes=13)


async def test_stateful_dispatch_keeps_history(harness: Harness) -> None:
    """A stateful dispatch writes into the conversation; its result carries the conversation id."""
    client = harness.platform.client()
    async with client:
        conversation = await client.conversations.create({})
    orc = harness.orchestrator()

    @orc.job(runtime="2m")
    def followup(conversation_id: str) -> Prompt:
        return Prompt(text="continue [[tokens 4]]", conversation_id=conversation_id)

    async with orc:
        result = await followup.run(conversation.id)
    assert result.conversation_id == conversation.id
    async with harness.platform.client() as client:
        messages = [m async for m in client.conversations.messages(conversation.id, order="asc")]
    assert [m.type for m in messages][-2:] == ["user", "bot"]


async def test_orchestrator_defaults_to_embedded_local_platform(tmp_path: object) -> None:
    """With no platform and no token, the orchestrator runs on an embedded local platform."""
    clock = VirtualClock()
    orc = Orchestrator(store="memory://", clock=clock, environ={})

    @orc.job(runtime="1m")
    def ping() -> str:
        return "ping [[tokens 2]]"

    async with orc:
        result = await ping.run()
    assert result.text


async def test_platform_refusal_fails_start(harness: Harness) -> None:
    """A body the platform refuses fails start() with the platform's error and records the job failed."""
    orc = harness.orchestrator()

    @orc.job(runtime="1m")
    def bad_bot() -> Prompt:
        return Prompt(text="hi", bot_id="bot_does_not_exist")

    async with orc:
        from orchestrator import PlatformError

        with pytest.raises(PlatformError):
            await bad_bot.start()
        (record,) = await orc.store.list_jobs(job_name=bad_bot.name)
    assert record.status is JobStatus.FAILED


async def test_local_platform_fixture_type(harness: Harness) -> None:
    """The harness serves a LocalPlatform on loopback."""
    assert isinstance(harness.platform, LocalPlatform)
    assert harness.platform.base_url.startswith("http://127.0.0.1:")
