"""Helpers for the planning tests: platform look-ups, the plan tool's answers, and a scripted planner agent."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator import EventType, JobEvent
from orchestrator.local import AgentReply, AgentRequest, RunContext
from orchestrator.planning import PLAN_TOOL, PlanHandle
from orchestrator.platform import Task
from orchestrator.testing import Harness

THREE_LINES = """Set up the battery recycling research.
- Collect recent news on EU battery recycling [[runtime 2h]] [[sleep 30m]]
- Post a digest of new findings [[schedule "0 7 * * 1-5"]] [[timezone "Europe/London"]] [[runtime 20m]]
- Summarise the largest recyclers' capacity [[runtime 1h]] [[sleep 10m]]
"""


async def platform_tasks(harness: Harness, plan_id: str | None = None) -> list[Task]:
    """The tasks on the local platform (of one plan, when given)."""
    meta = {"orchestratorPlan": plan_id} if plan_id else None
    async with harness.platform.client() as client:
        return [t async for t in client.tasks.list(meta=meta)]


async def execution_count(harness: Harness, task_id: str) -> int:
    async with harness.platform.client() as client:
        return len([e async for e in client.tasks.executions(task_id)])


async def plan_events(plan: PlanHandle) -> list[JobEvent]:
    return [e async for e in plan.events()]


def tool_answers(events: Sequence[JobEvent]) -> list[dict[str, Any]]:
    """What the agent received from the plan tool, call by call (from the runs' ``tool.end`` events)."""
    answers = []
    for event in events:
        if event.type != EventType.TOOL_END:
            continue
        message = event.data.get("message")
        if isinstance(message, Mapping) and isinstance(message.get("data"), Mapping):
            answers.append(dict(message["data"]))
    return answers


class ScriptedPlanner:
    """A local-platform agent that, as a planner, calls the plan tool with the given arguments, in order.

    Task runs (no plan tool offered) reply ``ran: <instructions>``. ``answers`` keeps what the tool answered.
    """

    model = "scripted"

    def __init__(self, calls: Sequence[Any], *, reply: str | None = None) -> None:
        self.calls = list(calls)
        self.reply = reply
        self.answers: list[Any] = []

    async def run(self, request: AgentRequest, ctx: RunContext) -> AgentReply:
        if PLAN_TOOL not in request.function_names:
            text = "ran: " + " ".join(request.prompt.split())[:80]
            ctx.token(text)
            return AgentReply(text=text)
        for args in self.calls:
            result = await ctx.call(PLAN_TOOL, args)
            self.answers.append(result.value if result.ok else {"error": result.error})
        text = self.reply if self.reply is not None else json.dumps(self.answers)
        ctx.token(text)
        return AgentReply(text=text)
