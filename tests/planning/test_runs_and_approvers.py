"""Plans, to the end: the runs of recurring plan tasks as child jobs, and approvers registered by name."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from orchestrator import JobStatus, UsageError
from orchestrator.planning import PlanEvent, PlannedTask, load_plan
from orchestrator.testing import Harness

from ._support import execution_count, plan_events

DAILY = 'Keep an eye on the market.\n- Write the morning brief [[schedule "0 7 * * *"]] [[runtime 20m]] [[sleep 5m]]\n'
BRIEF = "write-the-morning-brief"
ONE_OFF = "Count the stock.\n- Count the widgets [[runtime 1h]] [[sleep 10m]]\n"
WIDGETS = "count-the-widgets"


async def test_recurring_plan_task_runs_are_child_jobs(harness: Harness) -> None:
    """A recurring plan task's three runs appear as three child jobs of the plan: tasks, result() and events()."""
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(DAILY)
        (brief,) = await plan.wait_planned()
        await harness.clock.sleep(timedelta(days=3))
        await plan.refresh()
        runs = plan.runs
        statuses = [await h.status() for h in runs]
        result = await plan.result()
        events = await plan_events(plan)
        children = await orc.store.list_jobs(parent_id=plan.id)
        executions = await execution_count(harness, brief.task_id)
    assert executions == 3
    assert len(runs) == 3 and len({h.id for h in runs}) == 3
    assert statuses == [JobStatus.SUCCEEDED] * 3
    assert [h.id for h in plan.tasks] == [brief.job_id, *(h.id for h in runs)]
    assert {r.parent_id for r in children} == {plan.id} and len(children) == 4
    assert len(result.runs[BRIEF]) == 3
    assert all(r.text.startswith("Done: Write the morning brief") for r in result.runs[BRIEF])
    assert set(result.next_runs) == {BRIEF}
    run_events = [e.data for e in events if e.type == PlanEvent.TASK_RUN]
    assert [d["job_id"] for d in run_events] == [h.id for h in runs]
    # each run's own log follows the plan's: started and succeeded once per run
    for handle in runs:
        types = [e.type for e in events if e.job_id == handle.id]
        assert types[0] == "job.started" and types[-1] == "job.succeeded"


async def test_runs_are_followed_after_a_restart(harness: Harness, tmp_path: Path) -> None:
    """A restarted orchestrator keeps adopting a recurring plan task's runs (the tasks to follow are in the store)."""
    url = f"sqlite:///{tmp_path}/jobs.sqlite3"
    first = harness.orchestrator(store=url)
    async with first:
        plan = await first.plan(DAILY)
        await plan.wait_planned()
        await harness.clock.sleep(timedelta(days=1))
    await harness.clock.sleep(timedelta(days=1))  # a run while no orchestrator is up
    second = harness.orchestrator(store=url)
    async with second:
        await harness.clock.sleep(timedelta(days=1))
        again = await second.plan(DAILY)
        await again.refresh()
        statuses = [await h.status() for h in again.runs]
    assert statuses == [JobStatus.SUCCEEDED] * 3


async def test_named_approver_releases_a_held_task_after_a_restart(harness: Harness, tmp_path: Path) -> None:
    """A plan held for approver "finance" is approved by the restarted orchestrator that registers "finance"."""
    url = f"sqlite:///{tmp_path}/jobs.sqlite3"
    first = harness.orchestrator(store=url)
    asked: list[list[str]] = []

    @first.approver("finance")
    def never_asked(tasks: Sequence[PlannedTask]) -> bool:
        asked.append([t.name for t in tasks])
        return True

    async with first:
        plan = await first.plan(ONE_OFF, approver="finance")
    # the first process stopped before its planning run ended: its approver never saw the plan
    second = harness.orchestrator(store=url)

    @second.approver("finance")
    def finance(tasks: Sequence[PlannedTask]) -> list[str]:
        asked.append([t.name for t in tasks])
        return [t.name for t in tasks]

    async with second:
        again = await second.plan(ONE_OFF, approver="finance")
        assert again.id == plan.id
        result = await again.result()
        events = await plan_events(again)
    assert asked == [[WIDGETS]]
    assert result.results[WIDGETS].text.startswith("Done: Count the widgets")
    types = [e.type for e in events]
    assert types.count(PlanEvent.TASK_HELD) == 1 and types.count(PlanEvent.TASK_APPROVED) == 1


async def test_reattached_on_open_without_planning_again(harness: Harness, tmp_path: Path) -> None:
    """Opening an orchestrator that registers the approver is enough: the held plan is decided without orc.plan()."""
    url = f"sqlite:///{tmp_path}/jobs.sqlite3"
    first = harness.orchestrator(store=url)
    first.approver("finance")(lambda tasks: True)
    async with first:
        plan = await first.plan(ONE_OFF, approver="finance")
    second = harness.orchestrator(store=url)
    second.approver("finance")(lambda tasks: True)
    async with second:
        await harness.clock.sleep(timedelta(hours=2))
        handle = await load_plan(second, plan.id)
        (task,) = await handle.refresh()
        assert task.status == "scheduled" and task.job_id is not None
        assert await second.get_handle(task.job_id).status() is JobStatus.SUCCEEDED
        assert await second.store.get_meta("plan-approvals") == []


async def test_unknown_approver_is_refused(harness: Harness) -> None:
    """orc.plan(approver=...) names a registered approver, else it is refused saying what to register."""
    orc = harness.orchestrator()
    async with orc:
        with pytest.raises(UsageError, match=r"@orc.approver\('legal'\)"):
            await orc.plan(ONE_OFF, approver="legal")
        orc.approver("legal")(lambda tasks: True)
        with pytest.raises(UsageError, match="not both"):
            await orc.plan(ONE_OFF, approver="legal", approve=lambda tasks: True)
    with pytest.raises(UsageError, match="already registered"):
        orc.approver("legal")(lambda tasks: False)


async def test_a_cancelled_plans_recurring_task_is_followed_no_more(harness: Harness) -> None:
    """Once a plan is cancelled (its recurring task deleted), no run is adopted and the store forgets the task."""
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(DAILY)
        (brief,) = await plan.wait_planned()
        followed = await orc.store.get_meta("plan-recurring")
        await plan.cancel()
        await harness.clock.sleep(timedelta(days=2))
        await plan.refresh()
        remaining = await orc.store.get_meta("plan-recurring")
    assert isinstance(followed, dict) and brief.task_id in followed
    assert plan.runs == []
    assert remaining == {}
