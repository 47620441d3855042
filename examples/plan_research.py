"""A research request planned into background tasks: a bounded run decides, tasks do the hours of work.

What it shows:

- ``orc.plan(request, policy=PlanPolicy(...), approve=...)``: a planning *dispatch* (it has minutes, not hours)
  that offers the agent one tool, ``schedule_task``. Every proposal is validated against the policy before
  anything is created; the agent is told the task id, or why a proposal was refused (here: a feed poll every
  five minutes, under the one-hour minimum interval).
- Approval: the proposed tasks are held (created without a live schedule) until ``review`` approves them.
- ``await plan.result()``: the fan-in. The one-off tasks' results (each a platform task of up to hours), and the
  recurring digest with its next run.
- Running it again with the same request finds the same plan: nothing is created twice.

Run it::

    python examples/plan_research.py

Without ``CHATBOTKIT_API_TOKEN`` it runs on the embedded local platform, whose simulated planner turns each line
of the request that starts with ``- `` into one ``schedule_task`` call, on a virtual clock (hours of task work
pass in about a second). With ``CHATBOTKIT_API_TOKEN`` set it runs on ChatBotKit, in real time, with a real model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta

import anyio

from orchestrator import Clock, Orchestrator, VirtualClock
from orchestrator.jobs import format_duration
from orchestrator.planning import PlanHandle, PlannedTask, PlanPolicy, PlanResult


def on_real_platform() -> bool:
    """Whether ``Orchestrator()`` will use ChatBotKit (``CHATBOTKIT_API_TOKEN`` is set) rather than the local one."""
    return bool(os.environ.get("CHATBOTKIT_API_TOKEN"))


def simulate(directives: str) -> str:
    """Directives that steer the local platform's simulated agent; nothing of it is sent to a real model."""
    return "" if on_real_platform() else f" {directives}"


def research_request() -> str:
    return (
        "Research the state of battery recycling in Europe for our board pack.\n"
        "- Collect this year's news on EU battery recycling regulation"
        + simulate("[[runtime 2h]] [[sleep 90m]]")
        + "\n- Compare the capacity of the five largest European recyclers"
        + simulate("[[runtime 1h]] [[sleep 40m]]")
        + "\n- Poll the EU press-release feed for new recycling rules"
        + simulate('[[schedule "*/5 * * * *"]] [[timezone "UTC"]] [[runtime 5m]]')
        + "\n- Every weekday morning, send a digest of new findings to the team"
        + simulate('[[schedule "0 7 * * 1-5"]] [[timezone "Europe/London"]] [[runtime 20m]]')
        + "\n"
    )


POLICY = PlanPolicy(
    max_tasks=5,
    min_interval=timedelta(hours=1),
    max_task_runtime=timedelta(hours=3),
    max_total_runtime=timedelta(hours=8),
    allowed_timezones=frozenset({"Europe/London", "UTC"}),
)


def describe(task: PlannedTask) -> str:
    when = f"{task.schedule} ({task.timezone or 'UTC'})" if task.recurring else "once, now"
    return f"{task.name}: {when}, up to {format_duration(task.runtime)}"


def review(tasks: Sequence[PlannedTask]) -> bool:
    """The approver: sees every proposed task before any runs (here it approves them all)."""
    print(f"review: {len(tasks)} task(s) proposed")
    for task in tasks:
        print(f"  - {describe(task)}")
    return True


async def plan_research(orc: Orchestrator) -> PlanHandle:
    """Start the plan (or find it: the request and the bot name the plan)."""
    return await orc.plan(
        research_request(),
        policy=POLICY,
        backstory="You are a careful research assistant. Cite your sources.",
        approve=review,
    )


async def main(*, clock: Clock | None = None) -> PlanResult:
    """Plan the research, approve it, and wait for the one-off tasks. Returns the plan's fan-in."""
    if clock is None and not on_real_platform():
        clock = VirtualClock()
    orc = Orchestrator(store="memory://", clock=clock)
    async with orc:
        plan = await plan_research(orc)
        print(f"plan {plan.id}: planning run started")
        for task in await plan.wait_planned():
            print(f"planned {describe(task)} [{task.status}]")
        result = await plan.result()
        for refusal in result.refused:
            print(f"refused {refusal.name}: {refusal.error}")
        for name, job in result.results.items():
            took = format_duration(job.duration) if job.duration else "?"
            print(f"done {name} in {took}: {' '.join(job.text.split())[:100]}")
        for name, error in result.errors.items():
            print(f"failed {name}: {error.message}")
        for name, at in result.next_runs.items():
            print(f"recurring {name}: next run {at.isoformat() if at else 'not scheduled'}")
        again = await plan_research(orc)
        print(
            f"same request again: the same plan ({again.id} == {plan.id}), {len(again.tasks)} tasks, none new"
        )
    return result


if __name__ == "__main__":
    anyio.run(main)
