"""A planning run killed at the ceiling, or an orchestrator stopped mid-plan: recovery creates no duplicates.

The simulated planner runs every directive of its non-plan lines before it plans, so it cannot be told to sleep
between two tool calls. The tests slow the tool answers down instead, with a latency fault on channel publishes:
the planner then waits on a tool answer when the ceiling (or the stop) comes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from orchestrator import CeilingExceeded, EventType, JobStatus, UsageError
from orchestrator.local import latency
from orchestrator.planning import PLAN_JOB, load_plan
from orchestrator.planning._proposal import task_key
from orchestrator.testing import Harness

from ._support import THREE_LINES, plan_events, platform_tasks, tool_answers

PUBLISH = r"^/channel/.*/publish$"


async def test_killed_at_the_ceiling_then_recovered_without_duplicates(harness: Harness) -> None:
    """A plan killed mid-way keeps the tasks it made; planning again adds the missing one and duplicates none."""
    request = "Plan it carefully [[sleep 14m]]\n" + THREE_LINES
    harness.platform.faults.add(latency(PUBLISH, delay=45))
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(request)
        with pytest.raises(CeilingExceeded, match="same request") as info:
            await plan.wait_planned()
        before = await platform_tasks(harness, plan.id)
        harness.platform.faults.clear()
        again = await orc.plan(request)
        planned = await again.wait_planned()
        runs = await orc.store.list_jobs(job_name=PLAN_JOB)
        children = await orc.store.list_jobs(parent_id=plan.id)
        after = await platform_tasks(harness, plan.id)
        events = await plan_events(again)
    assert info.value.job_id == plan.id
    assert 1 <= len(before) < 3  # the run died with the plan half made
    assert again.id == plan.id
    assert sorted(r.status for r in runs) == [JobStatus.CEILING_EXCEEDED, JobStatus.SUCCEEDED]
    assert len(after) == 3
    assert Counter(t.name for t in after).most_common(1)[0][1] == 1
    assert len(children) == 3
    assert {t.task_id for t in planned} == {t.id for t in after}
    second = [a for a in tool_answers(events) if "already in this plan" in str(a.get("note"))]
    assert len(second) == len(before)


async def test_orchestrator_stopped_mid_plan_is_resumed_by_the_next(harness: Harness, tmp_path: Path) -> None:
    """A planning run whose orchestrator stops is resumed by the next one on the same store; its tool is rebuilt."""
    url = f"sqlite:///{tmp_path}/jobs.sqlite3"
    harness.platform.faults.add(latency(PUBLISH, delay=60))
    first = harness.orchestrator(store=url)
    async with first:
        plan = await first.plan(THREE_LINES)
        await harness.clock.sleep(90)  # one answer delivered, the second still on its way
        record = await first.store.get_job(plan.id)
        assert record is not None and record.status is JobStatus.RUNNING
    harness.platform.faults.clear()
    made_before = len(await platform_tasks(harness, plan.id))
    second = harness.orchestrator(store=url)
    async with second:
        again = await second.plan(THREE_LINES)  # finds the run in flight: no second planning run
        result = await again.result()
        runs = await second.store.list_jobs(job_name=PLAN_JOB)
        events = await plan_events(again)
        children = await second.store.list_jobs(parent_id=plan.id)
    tasks = await platform_tasks(harness, plan.id)
    assert 1 <= made_before < 3
    assert len(runs) == 1
    assert len(tasks) == 3
    assert len(children) == 3
    assert len(result.results) == 2 and len(result.next_runs) == 1
    assert sum(1 for e in events if e.type == EventType.SUCCEEDED) == 1


async def test_task_created_just_before_a_crash_is_found_not_duplicated(harness: Harness) -> None:
    """A platform task made before a crash (held, no schedule) is found by its key and made live, not made again."""
    name = "post-a-digest-of-new-findings"
    key = task_key("board-research", name)
    async with harness.platform.client() as client:
        orphan = await client.tasks.create(
            {"name": name, "description": "left by a crash", "meta": {"orchestratorKey": key}}
        )
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(THREE_LINES, key="board-research")
        planned = {t.name: t for t in await plan.wait_planned()}
        with pytest.raises(UsageError, match="no plan"):
            await load_plan(orc, "plan_missing")
    tasks = [t for t in await platform_tasks(harness) if t.name == name]
    assert [t.id for t in tasks] == [orphan]
    assert planned[name].task_id == orphan
    assert tasks[0].schedule == "0 7 * * 1-5" and tasks[0].next_run_at is not None
