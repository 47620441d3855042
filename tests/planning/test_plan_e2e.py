"""Plans end to end on the local platform and its simulated planner, on a virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator import EventType, JobCancelled, JobStatus, PlanRejected, Route, UsageError
from orchestrator.planning import PLAN_JOB, PlanEvent, PlanHandle, load_plan
from orchestrator.testing import Harness

from ._support import THREE_LINES, execution_count, plan_events, platform_tasks, tool_answers

NEWS, DIGEST, CAPACITY = (
    "collect-recent-news-on-eu-battery-recycling",
    "post-a-digest-of-new-findings",
    "summarise-the-largest-recyclers-capacity",
)


async def test_three_line_request_becomes_three_correct_tasks(harness: Harness) -> None:
    """Each '- ' line becomes one platform task with its schedule, timezone and runtime, followed by a child job."""
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(THREE_LINES)
        planned = {t.name: t for t in await plan.wait_planned()}
        records = {r.job_name: r for r in await orc.store.list_jobs(parent_id=plan.id)}
        tasks = {str(t.name): t for t in await platform_tasks(harness, plan.id)}
    assert set(planned) == {NEWS, DIGEST, CAPACITY}
    assert set(tasks) == set(planned)
    digest = tasks[DIGEST]
    assert (digest.schedule, digest.timezone, digest.max_time) == (
        "0 7 * * 1-5",
        "Europe/London",
        20 * 60 * 1000,
    )
    assert tasks[NEWS].schedule is None and tasks[NEWS].max_time == 2 * 3600 * 1000
    assert tasks[CAPACITY].max_time == 3600 * 1000
    assert (
        tasks[NEWS].description == "Collect recent news on EU battery recycling [[runtime 2h]] [[sleep 30m]]"
    )
    assert all(t.bot_id for t in tasks.values())
    assert all(
        planned[name].task_id == task.id and planned[name].status == "scheduled"
        for name, task in tasks.items()
    )
    assert {name.removeprefix(PLAN_JOB + "/") for name in records} == set(planned)
    assert all(r.route == "task" and r.parent_id == plan.id for r in records.values())
    assert {h.id for h in plan.tasks} == {t.job_id for t in planned.values()}
    assert all(h.route is Route.TASK for h in plan.tasks)


async def test_running_the_same_plan_again_creates_nothing(harness: Harness) -> None:
    """orc.plan() with the same request returns the same plan: no second planning run, no new task."""
    orc = harness.orchestrator()
    async with orc:
        first = await orc.plan(THREE_LINES)
        await first.wait_planned()
        again = await orc.plan(THREE_LINES)
        planned = await again.wait_planned()
        runs = await orc.store.list_jobs(job_name=PLAN_JOB)
        tasks = await platform_tasks(harness)
    assert again.id == first.id
    assert len(runs) == 1
    assert len(tasks) == 3
    assert len(planned) == 3


async def test_fan_in_returns_every_one_off_result_and_next_runs(harness: Harness) -> None:
    """result() waits for every one-off task and reports the recurring one with its next run, without waiting."""
    request = THREE_LINES + '- Check the failing source [[fail "source unreachable"]]\n'
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(request)
        result = await plan.result()
        statuses = {h.job_name: await h.status() for h in plan.tasks}
    assert set(result.results) == {NEWS, CAPACITY}
    assert all(r.text and r.route is Route.TASK and r.task_id for r in result.results.values())
    took = result.results[NEWS].duration
    assert took is not None and took >= timedelta(minutes=30)
    assert set(result.errors) == {"check-the-failing-source"}
    assert "source unreachable" in result.errors["check-the-failing-source"].message
    # Monday 2026-03-23: 07:00 in London is 07:00 UTC (summer time starts on the 29th)
    assert result.next_runs == {DIGEST: datetime(2026, 3, 23, 7, 0, tzinfo=UTC)}
    assert result.reply.startswith("Scheduled 4 of 4 tasks.")
    assert statuses[f"{PLAN_JOB}/{DIGEST}"] is JobStatus.SUCCEEDED


async def test_recurring_task_handle_reports_its_schedule(harness: Harness) -> None:
    """A recurring task's job reports its schedule and first run; the platform then runs it on schedule."""
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(THREE_LINES)
        planned = {t.name: t for t in await plan.wait_planned()}
        digest = planned[DIGEST]
        assert digest.job_id is not None
        result = await orc.get_handle(digest.job_id).result()
        await harness.clock.sleep(timedelta(days=1))
        runs = await execution_count(harness, digest.task_id)
    assert result.task_id == digest.task_id
    assert "0 7 * * 1-5" in result.text and "2026-03-23T07:00:00+00:00" in result.text
    assert runs == 1


async def test_text_plan_is_parsed_and_validated(harness: Harness) -> None:
    """A planner that answers with a JSON plan in its text gets the same tasks, validated the same way."""
    request = THREE_LINES + '[[plan-as-text]]\n- Poll every minute [[schedule "* * * * *"]]\n'
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(request)
        planned = {t.name: t for t in await plan.wait_planned()}
        result = await plan.result()
        events = await plan_events(plan)
        tasks = await platform_tasks(harness, plan.id)
    assert set(planned) == {NEWS, DIGEST, CAPACITY}
    assert len(tasks) == 3
    assert [r.name for r in result.refused] == ["poll-every-minute"]
    assert "every 1m" in result.refused[0].error
    assert not any(e.type == EventType.TOOL_CALL for e in events)
    scheduled = [e.data for e in events if e.type == PlanEvent.TASK_SCHEDULED]
    assert {d["source"] for d in scheduled} == {"text"}
    assert [e.data["source"] for e in events if e.type == PlanEvent.PLANNED] == ["text"]


async def test_reply_without_a_plan_is_rejected(harness: Harness) -> None:
    """A planning run that neither calls the tool nor writes a JSON plan fails the plan with PlanRejected."""
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan("Think about battery recycling in general.")
        with pytest.raises(PlanRejected, match="holds no plan") as info:
            await plan.result()
        status = await plan.status()
        events = await plan_events(plan)
    assert "Nothing to schedule" in info.value.message
    assert status == "rejected"
    assert [e.type for e in events][-1] == PlanEvent.REJECTED


async def test_plan_events_tell_the_story(harness: Harness) -> None:
    """plan.events() holds the planning run's log with the plan's events, in order and gap-free."""
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(THREE_LINES)
        await plan.wait_planned()
        events = await plan_events(plan)
    types = [e.type for e in events]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert types[0] == EventType.CREATED and types[1] == EventType.STARTED
    assert types.count(EventType.TOOL_CALL) == 3
    assert types.count(PlanEvent.TASK_SCHEDULED) == 3
    assert types[-2:] == [EventType.SUCCEEDED, PlanEvent.PLANNED]
    assert [a["ok"] for a in tool_answers(events)] == [True, True, True]
    assert all(a["task_id"] for a in tool_answers(events))


async def test_cancel_cancels_every_task(harness: Harness) -> None:
    """cancel() stops the running one-off tasks and deletes the recurring one; nothing of the plan runs on."""
    request = THREE_LINES.replace("[[sleep 10m]]", "[[sleep 50m]]")
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(request)
        await plan.wait_planned()
        await harness.clock.sleep(600)
        await plan.cancel()
        statuses = {h.job_name.removeprefix(PLAN_JOB + "/"): await h.status() for h in plan.tasks}
        with pytest.raises(JobCancelled):
            await plan.result()
        for handle in plan.tasks:
            if handle.job_name != f"{PLAN_JOB}/{DIGEST}":
                with pytest.raises(JobCancelled):
                    await handle.result()
        remaining = {t.name for t in await platform_tasks(harness, plan.id)}
        planned = await plan.refresh()
    assert statuses[DIGEST] is JobStatus.SUCCEEDED  # its job recorded the scheduling; the task is gone
    assert DIGEST not in remaining
    assert {t.status for t in planned} == {"cancelled"}


async def test_a_key_names_one_request(harness: Harness) -> None:
    """The same key with another request is refused; load_plan() finds a plan by id."""
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(THREE_LINES, key="weekly-research")
        with pytest.raises(UsageError, match="another request"):
            await orc.plan("- something else", key="weekly-research")
        with pytest.raises(UsageError, match="needs a request"):
            await orc.plan("   ")
        found = await load_plan(orc, plan.id)
        assert isinstance(found, PlanHandle)
        assert found.key == "weekly-research"
        assert len(await found.wait_planned()) == 3
