"""The planning dispatch: an internal job that offers the agent the plan tool, and the tool's answers.

:func:`install` registers the job ``orchestrator.plan`` on every orchestrator. Its arguments are JSON (the
request, the plan's id and key, the attempt number, the policy as a mapping, the bot, the approval mode), so that
after a restart the orchestrator rebuilds the live ``schedule_task`` tool from the stored record and answers the
calls still waiting. Each call is parsed, validated, and the task created idempotently (by its deterministic key)
before the agent is told the task id, or why the proposal was refused and what to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .._errors import PlatformError
from ..jobs import Job, JobOptions, Prompt, Route, Tool, decorate, format_duration
from ._doc import PlanDoc, TaskEntry, load_doc, plan_lock, save_doc
from ._events import PlanEvent
from ._policy import PlanPolicy
from ._proposal import InvalidProposal, Proposal, parse_proposal, task_key
from ._tasks import PLAN_JOB, place, record_child
from ._values import RefusedProposal

if TYPE_CHECKING:
    from ..runtime import Runtime, RuntimeOwner

__all__ = ["PLAN_TOOL", "install", "place_proposal", "prompt_text", "propose"]

PLAN_TOOL = "schedule_task"
_DESCRIPTION = (
    "Schedule one task of the plan; call it once per task. The task runs later, on its own, with only its "
    "instructions. Answers {ok: true, task_id} or {ok: false, error}: on an error, fix the proposal and call again."
)
_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "a short name, unique within the plan"},
        "instructions": {"type": "string", "description": "self-contained instructions for the task run"},
        "schedule": {
            "type": "string",
            "description": "recurring tasks only: a cron expression, e.g. '0 7 * * 1-5'",
        },
        "timezone": {"type": "string", "description": "IANA timezone of the schedule, e.g. 'Europe/London'"},
        "runtime": {"type": "string", "description": "how long one run may take, e.g. '30m' or '2h'"},
        "start_at": {
            "type": "string",
            "description": "one-off tasks only: ISO 8601 start time; omit to start now",
        },
    },
    "required": ["name", "instructions"],
    "additionalProperties": False,
}


def prompt_text(request: str, policy: PlanPolicy, approval: str) -> str:
    """What the planning agent is told: the framing, the bounds, then the request."""
    # no line of the framing may start with "- ": the local simulated planner reads those as tasks
    held = (
        " Tasks are held until a person approves the plan; they do not run before."
        if approval != "none"
        else ""
    )
    return (
        "You are planning background work. This run is short (minutes), so do not do the work yourself: decide "
        "which tasks need to happen and schedule each one by calling the schedule_task tool, once per task. "
        "Give every task a short unique name and self-contained instructions (each run sees only its own "
        "instructions). For recurring work give a cron schedule (five fields) and an IANA timezone; for one-off "
        "work leave the schedule out, and give start_at (ISO 8601) only if it must not start at once. Give a "
        f"runtime such as 30m or 2h.{held}\n"
        f"Limits: {policy.describe()}.\n"
        "When a call is refused, read the error, correct the proposal and call again, or leave that task out. "
        'If you cannot call tools, reply with only a JSON object {"tasks": [{"name": ..., "instructions": ..., '
        '"schedule": ..., "timezone": ..., "runtime": ..., "start_at": ...}]}. Otherwise finish with a short '
        "summary of what you scheduled.\n\n"
        f"Request:\n{request}"
    )


def install(owner: RuntimeOwner) -> Job[Any]:
    """Register the planning job (``orchestrator.plan``) on ``owner``; called by ``Orchestrator.__init__``."""
    orc = owner.runtime

    def orchestrator_plan(
        request: str,
        plan_id: str,
        plan_key: str,
        attempt: int,
        policy: dict[str, Any],
        bot_id: str | None = None,
        backstory: str | None = None,
        approval: str = "none",
    ) -> Prompt:
        """A planning run: the request, and the plan tool answered by this orchestrator."""
        bounds = PlanPolicy.from_dict(policy)

        async def schedule_task(**args: Any) -> dict[str, Any]:
            return await propose(orc, plan_id=plan_id, attempt=attempt, policy=bounds, args=args)

        tool = Tool(name=PLAN_TOOL, description=_DESCRIPTION, parameters=_PARAMETERS, handler=schedule_task)
        return Prompt(
            text=prompt_text(request, bounds, approval),
            bot_id=bot_id,
            backstory=backstory,
            functions=[tool],
            limits={"calls": bounds.max_tasks * 3 + 2},
        )

    j = decorate(orchestrator_plan, JobOptions(route=Route.DISPATCH, name=PLAN_JOB), orc.routing)
    orc.register(j)
    return j


async def propose(
    orc: Runtime, *, plan_id: str, attempt: int, policy: PlanPolicy, args: Mapping[str, Any]
) -> dict[str, Any]:
    """Answer one ``schedule_task`` call: the task created (or found), or why it was refused."""
    store = orc.store
    async with plan_lock(store, plan_id):
        doc = await load_doc(store, plan_id)
        if doc is None:
            return {
                "ok": False,
                "error": "this plan no longer exists: schedule nothing more and reply with a summary",
            }
        answer = await place_proposal(orc, doc, policy, args, attempt=attempt, source="tool")
        await save_doc(store, doc)
    return answer


def _raw_name(args: Any) -> str | None:
    name = args.get("name") if isinstance(args, Mapping) else None
    if not isinstance(name, str):
        return None
    return " ".join(name.split())[:80] or None


def _event_job(doc: PlanDoc, attempt: int) -> str:
    return doc.attempts[attempt - 1] if 0 < attempt <= len(doc.attempts) else doc.latest


def _describe(entry: TaskEntry) -> dict[str, Any]:
    p = entry.proposal
    return {
        "name": p.name,
        "key": entry.key,
        "task_id": entry.task_id,
        "job_id": entry.job_id,
        "schedule": p.schedule,
        "timezone": p.timezone,
        "runtime": None if p.runtime is None else p.runtime.total_seconds(),
        "start_at": None if p.start_at is None else p.start_at.isoformat(),
        "source": entry.source,
    }


def _accepted(entry: TaskEntry, proposal: Proposal, note: str | None) -> dict[str, Any]:
    p = entry.proposal
    answer: dict[str, Any] = {"ok": True, "name": p.name, "task_id": entry.task_id, "status": entry.status}
    if p.runtime is not None:
        answer["runtime"] = format_duration(p.runtime)
    if p.schedule is not None:
        answer.update(schedule=p.schedule, timezone=p.timezone or "UTC")
    if p.start_at is not None:
        answer["start_at"] = p.start_at.isoformat()
    if note:
        answer["note"] = note
    if proposal.ignored:
        answer["ignored_fields"] = list(proposal.ignored)
    return answer


async def place_proposal(
    orc: Runtime, doc: PlanDoc, policy: PlanPolicy, args: Any, *, attempt: int, source: str
) -> dict[str, Any]:
    """Parse, validate and place one proposal into ``doc`` (the caller holds the plan lock and saves it)."""
    store = orc.store
    job = _event_job(doc, attempt)

    async def refuse(name: str | None, error: str) -> dict[str, Any]:
        doc.refusals.append(RefusedProposal(name=name, error=error, attempt=attempt))
        await store.append_event(
            job, PlanEvent.TASK_REFUSED, {"name": name, "error": error, "source": source}
        )
        return {"ok": False, "name": name, "error": error}

    if doc.status == "cancelled":
        return await refuse(
            _raw_name(args), "the plan was cancelled: schedule nothing more and reply with a summary"
        )
    try:
        proposal = parse_proposal(args)
    except InvalidProposal as exc:
        return await refuse(_raw_name(args), str(exc))
    key = task_key(doc.key, proposal.name)
    existing = doc.entry(key)
    if existing is not None:
        if not existing.live:
            return await refuse(
                proposal.name, f"task {proposal.name!r} was {existing.status}: do not propose it again"
            )
        candidate = replace(proposal, runtime=proposal.runtime or policy.default_runtime)
        if (
            existing.attempt == attempt
            and existing.source == source
            and not existing.proposal.same_work(candidate)
        ):
            return await refuse(
                proposal.name,
                f"a task named {existing.proposal.name!r} is already in this plan (task {existing.task_id}): give "
                "this task another name, or leave it out if it is the same work",
            )
        return _accepted(existing, proposal, "already in this plan: nothing new was created")
    checked = policy.validate(proposal, [t.proposal for t in doc.live()], now=orc.clock.time())
    if isinstance(checked, str):
        return await refuse(proposal.name, checked)
    held = doc.approval != "none"
    try:
        task_id = await place(orc, doc, key, checked, held=held)
        entry = TaskEntry(key, checked, "held" if held else "scheduled", task_id, None, attempt, source)
        if not held:
            entry.job_id = await record_child(orc, doc, entry)
    except PlatformError as exc:
        return await refuse(
            proposal.name,
            f"the platform could not create the task ({exc.message}): call again, or leave it out",
        )
    doc.tasks.append(entry)
    event = PlanEvent.TASK_HELD if held else PlanEvent.TASK_SCHEDULED
    await store.append_event(job, event, _describe(entry), key=f"{event}:{key}")
    note = "held until the plan is approved; it does not run before" if held else None
    return _accepted(entry, proposal, note)
