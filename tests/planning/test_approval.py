"""Approval: proposed tasks are held (created without a live schedule, not started) until approved."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from orchestrator import UsageError
from orchestrator.planning import PlanEvent, PlannedTask
from orchestrator.testing import Harness

from ._support import THREE_LINES, execution_count, plan_events, platform_tasks, tool_answers

NEWS, DIGEST, CAPACITY = (
    "collect-recent-news-on-eu-battery-recycling",
    "post-a-digest-of-new-findings",
    "summarise-the-largest-recyclers-capacity",
)


async def test_require_approval_holds_then_releases(harness: Harness) -> None:
    """Held tasks have no schedule and no run; approved ones are scheduled or started; rejected ones deleted."""
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(THREE_LINES, require_approval=True)
        held = {t.name: t for t in await plan.wait_planned()}
        await harness.clock.sleep(3600)
        held_tasks = {t.name: t for t in await platform_tasks(harness, plan.id)}
        runs_while_held = [await execution_count(harness, t.id) for t in held_tasks.values()]
        children_while_held = await orc.store.list_jobs(parent_id=plan.id)
        events = await plan_events(plan)
        with pytest.raises(UsageError, match="no held task named"):
            await plan.approve(["nope"])
        approved = await plan.approve([NEWS, DIGEST])
        rejected = await plan.reject([CAPACITY])
        result = await plan.result()
        after = {t.name: t for t in await platform_tasks(harness, plan.id)}
        events = await plan_events(plan)
    assert {t.status for t in held.values()} == {"held"}
    assert all(t.job_id is None for t in held.values())
    assert held_tasks[DIGEST].schedule is None and held_tasks[DIGEST].next_run_at is None
    assert runs_while_held == [0, 0, 0]
    assert children_while_held == []
    assert all("held until the plan is approved" in a["note"] for a in tool_answers(events))
    assert [t.name for t in approved] == [NEWS, DIGEST] and {t.status for t in approved} == {"scheduled"}
    assert [t.name for t in rejected] == [CAPACITY]
    assert set(after) == {NEWS, DIGEST}
    assert after[DIGEST].schedule == "0 7 * * 1-5" and after[DIGEST].next_run_at is not None
    assert list(result.results) == [NEWS]
    assert set(result.next_runs) == {DIGEST}
    assert {t.name: t.status for t in result.tasks}[CAPACITY] == "rejected"
    types = [e.type for e in events]
    assert types.count(PlanEvent.TASK_HELD) == 3
    assert types.count(PlanEvent.TASK_APPROVED) == 2 and types.count(PlanEvent.TASK_REJECTED) == 1


async def test_approve_callable_decides(harness: Harness) -> None:
    """An approve= callable gets the held tasks once the plan is made; those it returns run, the rest are deleted."""
    seen: list[list[str]] = []

    async def only_one_offs(tasks: Sequence[PlannedTask]) -> list[str]:
        seen.append([t.name for t in tasks])
        return [t.name for t in tasks if not t.recurring]

    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(THREE_LINES, approve=only_one_offs)
        result = await plan.result()
        remaining = {t.name for t in await platform_tasks(harness, plan.id)}
    assert seen == [[NEWS, DIGEST, CAPACITY]]
    assert set(result.results) == {NEWS, CAPACITY}
    assert result.next_runs == {}
    assert remaining == {NEWS, CAPACITY}


async def test_sync_approver_that_raises_fails_closed(harness: Harness) -> None:
    """A sync approver that raises rejects every held task: nothing unapproved runs."""

    def broken(tasks: Sequence[PlannedTask]) -> bool:
        raise RuntimeError("approval service down")

    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(THREE_LINES, approve=broken)
        result = await plan.result()
        events = await plan_events(plan)
        remaining = await platform_tasks(harness, plan.id)
    assert result.results == {} and result.next_runs == {}
    assert {t.status for t in result.tasks} == {"rejected"}
    assert remaining == []
    reasons = [e.data["reason"] for e in events if e.type == PlanEvent.TASK_REJECTED]
    assert len(reasons) == 3 and all("approval service down" in str(r) for r in reasons)


async def test_approver_returning_true_approves_all(harness: Harness) -> None:
    """An approver returning True approves every held task."""
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(THREE_LINES, approve=lambda tasks: True)
        result = await plan.result()
    assert set(result.results) == {NEWS, CAPACITY}
    assert set(result.next_runs) == {DIGEST}
