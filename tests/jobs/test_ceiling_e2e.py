"""Beyond the ceiling, end to end on the local platform: on_ceiling="continue" and "task", and timeout= bounds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator import (
    CeilingExceeded,
    EventType,
    JobStatus,
    JobTimedOut,
    NotCancellable,
    Prompt,
    Route,
    RoutingError,
    VirtualClock,
)
from orchestrator.testing import Harness, local_harness


@pytest.mark.parametrize("kill", ["silent", "error"])
async def test_stateful_continue_finishes_in_three_parts(kill: str) -> None:
    """A stateful 40-minute dispatch with on_ceiling="continue" ends in three parts: one job, one result."""
    clock = VirtualClock()
    async with local_harness(clock=clock, ceiling_kill=kill) as h:
        async with h.platform.client() as client:
            conversation = await client.conversations.create({})
        orc = h.orchestrator()

        @orc.job(runtime="10m", on_ceiling="continue")
        def research(conversation_id: str) -> Prompt:
            return Prompt(text="Research the topic [[sleep 40m]]", conversation_id=conversation_id)

        async with orc:
            t0 = clock.time()
            handle = await research.start(conversation.id)
            result = await handle.result()
            events = [e async for e in handle.events()]
            assert await handle.status() is JobStatus.SUCCEEDED
        elapsed = clock.time() - t0
        async with h.platform.client() as client:
            messages = [m async for m in client.conversations.messages(conversation.id, order="asc")]
    assert result.parts == 3
    assert len(result.channel_ids) == 3 and len(set(result.channel_ids)) == 3
    assert result.channel_id == result.channel_ids[-1]
    assert result.text.endswith("Done: Research the topic")
    assert result.conversation_id == conversation.id
    assert result.usage.get("token", 0) > 0
    continued = [e.data for e in events if e.type == EventType.CEILING_CONTINUED]
    assert [c["part"] for c in continued] == [2, 3]
    assert [c["channel_id"] for c in continued] == list(result.channel_ids[1:])
    started = [e.data for e in events if e.type == EventType.STARTED]
    assert [s["channel_id"] for s in started] == list(result.channel_ids)
    assert [e.type for e in events].count(EventType.SUCCEEDED) == 1
    assert EventType.CEILING_EXCEEDED not in [e.type for e in events]
    # 40 minutes of work: 15 + 15 + 10, plus the time it took to notice each kill
    assert timedelta(seconds=elapsed) >= timedelta(minutes=40)
    assert result.duration is not None and result.duration >= timedelta(minutes=40)
    # the history holds the cut-off replies, marked, and the continuation requests
    kinds = [(m.type, "incomplete" in m.meta) for m in messages]
    assert kinds == [
        ("user", False),
        ("bot", True),
        ("user", False),
        ("bot", True),
        ("user", False),
        ("bot", False),
    ]


async def test_stateless_continue_passes_the_partial_output_back(harness: Harness) -> None:
    """A stateless continuation carries the partial reply back; the result joins the parts' text."""
    orc = harness.orchestrator()

    @orc.job(runtime="10m", on_ceiling="continue")
    def digest() -> str:
        return "Write the digest [[tokens 3]] [[sleep 20m]] [[tokens 2]]"

    async with orc:
        handle = await digest.start()
        result = await handle.result()
        events = [e async for e in handle.events()]
    assert result.parts == 2
    # part 1 streamed 3 tokens before the kill; part 2 did not stream them again
    assert result.text.startswith("alpha bravo charlie alpha bravo Done: Write the digest")
    tokens = "".join(str(e.data["token"]) for e in events if e.type == EventType.TOKEN)
    assert tokens == result.text


async def test_continue_stops_after_max_continuations(harness: Harness) -> None:
    """A run still killed after max_continuations ends ceiling_exceeded with every part's partial output."""
    orc = harness.orchestrator()

    @orc.job(runtime="10m", on_ceiling="continue", max_continuations=1)
    def endless() -> str:
        return "Go [[tokens 2]] [[sleep 2h]]"

    async with orc:
        handle = await endless.start()
        with pytest.raises(CeilingExceeded, match="max_continuations=1") as info:
            await handle.result()
        events = [e.type async for e in handle.events()]
    assert info.value.partial_output == "alpha bravo "
    assert events.count(EventType.CEILING_CONTINUED) == 1


async def test_continue_timeout_bounds_the_parts_together(harness: Harness) -> None:
    """With on_ceiling="continue", timeout= bounds the parts together: past it the job ends timed_out."""
    orc = harness.orchestrator()

    @orc.job(runtime="10m", on_ceiling="continue", timeout="20m")
    def long_one() -> str:
        return "Go [[tokens 2]] [[sleep 2h]]"

    async with orc:
        handle = await long_one.start()
        with pytest.raises(JobTimedOut) as info:
            await handle.result()
        assert await handle.status() is JobStatus.TIMED_OUT
    assert info.value.timeout == 1200.0
    assert info.value.partial_output == "alpha bravo "


async def test_on_ceiling_task_reruns_a_40_minute_job_as_a_task(harness: Harness) -> None:
    """on_ceiling="task": a 40-minute dispatch killed at 15 minutes is re-run as a task in the same job."""
    orc = harness.orchestrator()

    @orc.job(runtime="10m", on_ceiling="task")
    def survey() -> Prompt:
        return Prompt(text="Survey the field [[sleep 40m]]", backstory="You survey fields.")

    assert survey.route is Route.DISPATCH
    async with orc:
        handle = await survey.start()
        result = await handle.result()
        events = [e async for e in handle.events()]
    types = [e.type for e in events]
    assert EventType.CEILING_AS_TASK in types
    assert EventType.TASK_EXECUTION in types
    assert types.count(EventType.SUCCEEDED) == 1
    started = [e.data for e in events if e.type == EventType.STARTED]
    assert [s["route"] for s in started] == ["dispatch", "task"]
    assert result.task_id and result.execution_id
    assert result.text.startswith("Done: Survey the field")
    assert result.duration is not None and result.duration >= timedelta(minutes=55)


async def test_a_task_rerun_is_cancellable(harness: Harness) -> None:
    """A dispatch re-run as a task can be cancelled, unlike the dispatch it replaced."""
    orc = harness.orchestrator()

    @orc.job(runtime="10m", on_ceiling="task")
    def survey() -> Prompt:
        return Prompt(text="Survey [[sleep 5h]]", backstory="You survey fields.")

    async with orc:
        handle = await survey.start()
        with pytest.raises(NotCancellable):
            await handle.cancel()
        async for event in handle.events():
            if event.type == EventType.TASK_EXECUTION:
                break
        await handle.cancel()
        assert await handle.status() in (JobStatus.RUNNING, JobStatus.CANCELLED)
        with pytest.raises(Exception, match="cancelled"):
            await handle.result()
        assert await handle.status() is JobStatus.CANCELLED


async def test_declared_runtime_is_an_estimate_not_the_bound(harness: Harness) -> None:
    """A runtime="2h" task whose work takes a little over two hours succeeds: its bound is 2h / 0.8."""
    orc = harness.orchestrator()

    @orc.job(runtime="2h", cancellable=True)
    def analyse() -> Prompt:
        return Prompt(text="Analyse [[sleep 2h5m]]", backstory="You analyse.")

    assert "maxTime 2h30m" in str(analyse.explain())
    async with orc:
        result = await analyse.run()
    assert result.duration is not None and result.duration >= timedelta(hours=2, minutes=5)


async def test_explicit_timeout_is_the_tasks_max_time(harness: Harness) -> None:
    """timeout= is a task's maxTime, stated by explain(); a run past it ends timed_out."""
    orc = harness.orchestrator()

    @orc.job(runtime="30m", timeout="45m", cancellable=True)
    def bounded() -> Prompt:
        return Prompt(text="Work [[sleep 1h]]", backstory="You work.")

    assert "maxTime 45m (the declared timeout)" in str(bounded.explain())
    async with orc:
        handle = await bounded.start()
        with pytest.raises(JobTimedOut) as info:
            await handle.result()
    assert info.value.timeout == 2700.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"interactive": True, "on_ceiling": "continue"}, "interactive completion"),
        ({"cancellable": True, "on_ceiling": "continue"}, "a task has no ceiling"),
        ({"schedule": "daily", "on_ceiling": "task"}, "scheduled job"),
        ({"on_ceiling": "retry"}, "not one of"),
        ({"on_ceiling": "continue", "max_continuations": 0}, "at least 1"),
        ({"timeout": "20m"}, "a dispatch cannot be stopped"),
        ({"timeout": "1m", "runtime": "5m", "cancellable": True}, "shorter than the declared runtime"),
        ({"timeout": "soon", "cancellable": True}, "not a duration"),
        ({"interactive": True, "timeout": "5m"}, "completion is bounded by its call"),
    ],
)
async def test_declarations_that_cannot_hold_are_refused(
    harness: Harness, kwargs: dict[str, object], match: str
) -> None:
    """A ceiling policy or timeout the route cannot honour is refused at declaration, saying what to declare."""
    orc = harness.orchestrator()

    def bad() -> str:
        return "x"

    with pytest.raises(RoutingError, match=match):
        orc.job(**kwargs)(bad)  # type: ignore[call-overload]


async def test_explain_states_the_bound_of_each_route(harness: Harness) -> None:
    """explain() says where a run stops and what follows, for each ceiling policy."""
    orc = harness.orchestrator()

    @orc.job(runtime="5m")
    def fail() -> str:
        return "x"

    @orc.job(runtime="5m", on_ceiling="continue", max_continuations=2)
    def cont() -> str:
        return "x"

    @orc.job(runtime="5m", on_ceiling="task", timeout="3h")
    def as_task() -> str:
        return "x"

    assert "ends ceiling_exceeded (on_ceiling='fail')" in str(fail.explain())
    assert "continued, at most 2 times" in str(cont.explain())
    assert "re-run as a task (maxTime 3h)" in str(as_task.explain())
    assert fail.explain().bound is not None
