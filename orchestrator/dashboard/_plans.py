"""The plans page's data: each plan folded from its planning runs' records and ``plan.*`` events.

Reading the public event vocabulary (see :mod:`orchestrator.planning`) rather than the plan document keeps this
page working on a bare store (a read-only standalone dashboard) as well as on a running orchestrator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..jobs import format_duration
from ..planning import PLAN_JOB, PlanEvent
from ..store import JobRecord, JobStore
from ._schedules import next_runs

__all__ = ["PlanView", "PlannedView", "load_plans"]


@dataclass
class PlannedView:
    """One task of a plan as the page shows it."""

    name: str
    status: str
    task_id: str
    job_id: str | None
    schedule: str | None
    timezone: str | None
    runtime: str
    start_at: str | None
    instructions: str = ""
    next_run: str = ""
    child_jobs: list[JobRecord] = field(default_factory=list)


@dataclass
class PlanView:
    """One plan: its request, its runs, its tasks and the proposals its policy refused."""

    id: str
    request: str
    status: str
    created_at: float
    runs: list[JobRecord] = field(default_factory=list)
    tasks: dict[str, PlannedView] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)

    @property
    def held(self) -> list[PlannedView]:
        return [t for t in self.tasks.values() if t.status == "held"]


_TERMINAL_PLAN = {
    PlanEvent.PLANNED: "planned",
    PlanEvent.REJECTED: "rejected",
    PlanEvent.FAILED: "failed",
    PlanEvent.CANCELLED: "cancelled",
}
_TASK_STATUS = {
    PlanEvent.TASK_APPROVED: "scheduled",
    PlanEvent.TASK_REJECTED: "rejected",
    PlanEvent.TASK_CANCELLED: "cancelled",
}


def _apply(plan: PlanView, type_: str, data: dict[str, Any]) -> None:
    name = str(data.get("name") or "")
    if type_ in (PlanEvent.TASK_HELD, PlanEvent.TASK_SCHEDULED):
        runtime = data.get("runtime")
        plan.tasks[name] = PlannedView(
            name=name,
            status="held" if type_ == PlanEvent.TASK_HELD else "scheduled",
            task_id=str(data.get("task_id") or ""),
            job_id=data.get("job_id"),
            schedule=data.get("schedule"),
            timezone=data.get("timezone"),
            runtime="-" if runtime is None else format_duration(float(runtime)),
            start_at=data.get("start_at"),
        )
    elif type_ == PlanEvent.TASK_REFUSED:
        plan.refused.append((name or "(unnamed)", str(data.get("error") or "")))
    elif type_ in _TASK_STATUS and name in plan.tasks:
        task = plan.tasks[name]
        task.status = _TASK_STATUS[PlanEvent(type_)]
        if data.get("job_id"):
            task.job_id = str(data["job_id"])
    elif type_ in _TERMINAL_PLAN:
        plan.status = _TERMINAL_PLAN[PlanEvent(type_)]


async def load_plans(
    store: JobStore, now: float, *, plan_id: str | None = None, limit: int = 50
) -> list[PlanView]:
    """The newest plans (or the one ``plan_id``), each with its tasks, refusals and the tasks' child jobs."""
    runs = await store.find_jobs(job_name=PLAN_JOB, limit=500)
    plans: dict[str, PlanView] = {}
    for run in reversed(runs):  # oldest first: the first run holds the request
        pid = str(run.spec.get("plan_id") or run.id)
        if plan_id is not None and pid != plan_id:
            continue
        kwargs = run.spec.get("kwargs") or {}
        plan = plans.get(pid)
        if plan is None:
            plan = plans[pid] = PlanView(
                id=pid, request=str(kwargs.get("request") or ""), status="planning", created_at=run.created_at
            )
        plan.runs.append(run)
    out = sorted(plans.values(), key=lambda p: p.created_at, reverse=True)[:limit]
    for plan in out:
        for run in plan.runs:
            for event in await store.events(run.id):
                if event.type.startswith("plan."):
                    _apply(plan, event.type, dict(event.data))
        if plan.status == "planning" and plan.runs and plan.runs[-1].status.terminal:
            plan.status = "ended"
        for task in plan.tasks.values():
            if task.job_id:
                child = await store.get_job(task.job_id)
                task.child_jobs = [child] if child is not None else []
                task.child_jobs += await store.list_jobs(parent_id=task.job_id, limit=5)
                if child is not None:
                    task.instructions = str((child.spec.get("task") or {}).get("description") or "")
            task.next_run = _next(task, now)
    return out


def _next(task: PlannedView, now: float) -> str:
    if task.status != "scheduled":
        return "-" if task.status != "held" else "when approved"
    if task.schedule:
        runs = next_runs(task.schedule, task.timezone, now, count=1)
        return runs[0].isoformat() if runs else "-"
    if task.start_at:
        try:
            return datetime.fromisoformat(task.start_at).isoformat()
        except ValueError:
            return task.start_at
    return "started at once"
