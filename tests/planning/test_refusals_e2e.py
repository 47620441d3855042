"""Policy refusals end to end: each proposal is refused with a reason the agent receives, and the plan goes on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator import JobStatus
from orchestrator.planning import PlanEvent, PlanPolicy
from orchestrator.testing import Harness, local_harness

from ._support import ScriptedPlanner, plan_events, platform_tasks, tool_answers

GOOD = "- Write the weekly summary [[runtime 30m]]\n"


async def test_violation_is_refused_reported_and_the_rest_proceeds(harness: Harness) -> None:
    """A too-frequent schedule is refused; the agent is told why; the other tasks are created."""
    request = 'Plan this.\n- Poll the feed [[schedule "*/5 * * * *"]]\n' + GOOD
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(request)
        result = await plan.result()
        events = await plan_events(plan)
    answers = tool_answers(events)
    assert answers[0]["ok"] is False
    assert "every 5m" in answers[0]["error"] and "less frequent" in answers[0]["error"]
    assert answers[1]["ok"] is True
    assert "Refused:\n- poll-the-feed: schedule '*/5 * * * *' runs as often as every 5m" in result.reply
    assert [r.name for r in result.refused] == ["poll-the-feed"]
    assert list(result.results) == ["write-the-weekly-summary"]
    assert [e.data["name"] for e in events if e.type == PlanEvent.TASK_REFUSED] == ["poll-the-feed"]
    assert [t.name for t in await platform_tasks(harness)] == ["write-the-weekly-summary"]


@pytest.mark.parametrize(
    ("policy", "line", "reason"),
    [
        (
            PlanPolicy(max_task_runtime=timedelta(hours=2)),
            "- Crawl [[runtime 3h]]",
            "over the 2h allowed per task",
        ),
        (
            PlanPolicy(max_total_runtime=timedelta(hours=1), max_task_runtime=timedelta(hours=1)),
            "- Crawl [[runtime 45m]]",
            "over the 1h allowed in total",
        ),
        (PlanPolicy(max_tasks=1), "- Crawl", "already holds 1 tasks"),
        (
            PlanPolicy(allowed_timezones=frozenset({"UTC"})),
            '- Crawl [[schedule "0 9 * * *"]] [[timezone "Europe/Paris"]]',
            "timezone 'Europe/Paris' is not allowed: use one of: UTC",
        ),
        (
            PlanPolicy(allowed_timezones=frozenset({"UTC"})),
            '- Crawl [[schedule "0 9 * * *"]]',
            "set timezone to one of: UTC",
        ),
        (
            PlanPolicy(max_instruction_length=40),
            "- Crawl every source we know of, one by one",
            "at most 40 are",
        ),
        (
            PlanPolicy(name_pattern=r"[a-z-]{1,24}"),
            "- Crawl the web and more sources everywhere",
            r"must match the pattern [a-z-]{1,24}",
        ),
        (PlanPolicy(), '- Crawl [[schedule "61 * * * *"]]', "is not a valid cron expression"),
        (
            PlanPolicy(),
            '- Crawl [[schedule "0 9 * * *"]] [[timezone "Mars/Olympus"]]',
            "not an IANA timezone",
        ),
        (PlanPolicy(min_interval=timedelta(days=2)), '- Crawl [[schedule "daily"]]', "every 1d"),
    ],
)
async def test_each_bound_is_refused_with_its_reason(
    harness: Harness, policy: PlanPolicy, line: str, reason: str
) -> None:
    """Every bound of the policy refuses a proposal that breaks it, and the agent's answer says which and why."""
    request = f"Plan this.\n{GOOD}{line}\n"
    orc = harness.orchestrator()
    async with orc:
        plan = await orc.plan(request, policy=policy)
        planned = await plan.wait_planned()
        events = await plan_events(plan)
    answers = tool_answers(events)
    assert [a["ok"] for a in answers] == [True, False]
    assert reason in answers[1]["error"]
    assert [t.name for t in planned] == ["write-the-weekly-summary"]


async def test_scripted_agent_corrects_itself_and_odd_input_is_handled() -> None:
    """Unknown fields are ignored (and said so), bad types refused, a corrected proposal accepted, a start time held."""
    start = datetime(2026, 3, 23, 9, 0, tzinfo=UTC)
    calls: list[dict[str, Any]] = [
        {
            "name": "fetch",
            "instructions": "Fetch the data",
            "botId": "evil",
            "maxTime": 1,
            "priority": "high",
        },
        {"name": 42, "instructions": "x"},
        {"name": "report", "instructions": "Write it", "runtime": "9h"},
        {"name": "report", "instructions": "Write it", "runtime": "2h", "start_at": start.isoformat()},
        {"name": "Report", "instructions": "Something else entirely"},
        {"name": "late", "instructions": "Too late", "start_at": "2020-01-01T00:00:00Z"},
    ]
    agent = ScriptedPlanner(calls)
    async with local_harness(agent=agent) as h:
        orc = h.orchestrator()
        async with orc:
            plan = await orc.plan("Plan the report.")
            planned = {t.name: t for t in await plan.wait_planned()}
            report = orc.get_handle(str(planned["report"].job_id))
            waiting = await report.status()
            result = await plan.result()
            tasks = {t.name: t for t in await platform_tasks(h, plan.id)}
    fetched, bad_type, too_long, corrected, duplicate, late = agent.answers
    assert fetched["ok"] is True and fetched["ignored_fields"] == ["botId", "maxTime", "priority"]
    assert tasks["fetch"].bot_id != "evil" and tasks["fetch"].max_time == 3600 * 1000
    assert bad_type == {"ok": False, "name": None, "error": "name must be a string, got int"}
    assert too_long["ok"] is False and "over the 6h allowed per task" in too_long["error"]
    assert corrected["ok"] is True and corrected["start_at"] == start.isoformat()
    assert duplicate["ok"] is False and "already in this plan" in duplicate["error"]
    assert late["ok"] is False and "in the past" in late["error"]
    assert waiting is JobStatus.PENDING  # held until 09:00
    assert result.results["report"].started is not None and result.results["report"].started >= start
    assert result.results["report"].text.startswith("ran: Write it")
    assert len(tasks) == 2
