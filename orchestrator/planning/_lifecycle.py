"""A plan's life after its request: planning runs (attempts), completing the plan, approval, cancellation.

Each step takes the plan lock, reads the plan document, changes it and saves it; each is idempotent, so that any
process sharing the store may run it, any number of times, after any crash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import structlog

from .._errors import CeilingExceeded, JobCancelled, JobError, JobFailed, UsageError
from ..jobs import EventType, Route
from ..store import JobRecord, JobStatus
from ..supervise import excerpt
from ._doc import PlanDoc, load_doc, plan_lock, save_doc
from ._events import PlanEvent
from ._planner import PLAN_TOOL, place_proposal
from ._policy import PlanPolicy
from ._tasks import PLAN_JOB, record_child, release, withdraw
from ._textplan import extract_plan
from ._values import PlannedTask

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["cancel_plan", "decide", "finalise", "finalise_locked", "plan_failure", "start_attempt"]

log = structlog.get_logger("orchestrator.planning")


async def start_attempt(
    orc: Runtime, doc: PlanDoc, *, request: str, policy: PlanPolicy, backstory: str | None
) -> None:
    """Record and launch the plan's next planning run (the caller holds the plan lock and saves ``doc``)."""
    store = orc.store
    j = orc.jobs[PLAN_JOB]
    n = len(doc.attempts) + 1
    attempt_id = doc.id if n == 1 else f"{doc.id}-{n}"
    kwargs: dict[str, Any] = {
        "request": request,
        "plan_id": doc.id,
        "plan_key": doc.key,
        "attempt": n,
        "policy": policy.to_dict(),
        "bot_id": doc.bot_id,
        "backstory": backstory,
        "approval": doc.approval,
    }
    prompt = await j.prompt(**kwargs)
    spec = {**orc.build_spec(j, prompt, (), kwargs), "plan_id": doc.id}
    now = orc.clock.time()
    spec["reasons"] = [f"planning run {n} of plan {doc.id}: a dispatch offering the {PLAN_TOOL} tool"]
    template = JobRecord(
        id=attempt_id,
        job_name=PLAN_JOB,
        route=Route.DISPATCH.value,
        status=JobStatus.PENDING,
        created_at=now,
        updated_at=now,
        idempotency_key=f"{doc.id}:attempt:{n}",
        spec=spec,
        owner=orc.replica_id,
        lease_expires_at=now + orc.lease,
    )
    fresh = await store.get_job(attempt_id) is None
    doc.attempts.append(attempt_id)
    doc.status, doc.error = "planning", None
    await save_doc(store, doc)
    if not fresh:
        # recorded before (by a run of this plan that stopped): supervise it, do not start it again
        record = await store.create_job(template)
        orc.remember(attempt_id, PLAN_JOB, Route.DISPATCH)
        orc.runs.spawn(record, holds_slot=False)
        return
    await orc.admission.admit(j, template)


async def _called_tool(orc: Runtime, attempt_id: str) -> bool:
    for event in await orc.store.events(attempt_id):
        function = event.data.get("function") if event.type == EventType.TOOL_CALL else None
        if isinstance(function, Mapping) and function.get("name") == PLAN_TOOL:
            return True
    return False


def _refusal_summary(doc: PlanDoc, attempt: int) -> str:
    refused = [f"{r.name or '?'}: {r.error}" for r in doc.refusals if r.attempt == attempt]
    return ("; refused: " + " | ".join(refused[:5])) if refused else ""


async def finalise_locked(orc: Runtime, doc: PlanDoc) -> bool:
    """Complete the plan once its latest planning run ended (the caller holds the lock). Returns if it changed.

    A run that called the tool is done; one that did not has its reply read as a JSON plan, validated the same
    way. A plan left with no live task is rejected; a run that failed or was killed makes the plan ``failed``.
    """
    n = len(doc.attempts)
    if doc.status == "cancelled" or n == 0 or doc.finalised >= n:
        return False
    store = orc.store
    record = await store.get_job(doc.latest)
    if record is not None and not record.status.terminal:
        return False
    doc.finalised = n
    if record is None or record.status is not JobStatus.SUCCEEDED:
        error = (
            dict(record.error or {})
            if record is not None
            else {"reason": "its record is gone from the store"}
        )
        doc.status, doc.error = "failed", str(error.get("reason") or "the planning run failed")
        status = record.status.value if record is not None else "missing"
        await _event(orc, doc, PlanEvent.FAILED, {"reason": doc.error, "status": status}, key=f"failed:{n}")
        await save_doc(store, doc)
        return True
    doc.reply = str((record.result or {}).get("text") or "")
    source = "tool"
    reason = ""
    if not await _called_tool(orc, record.id):
        source = "text"
        entries = extract_plan(doc.reply)
        if entries is None:
            reason = (
                f"the planning run's reply holds no plan: it never called {PLAN_TOOL} and its text has no JSON plan "
                f'({{"tasks": [...]}}); it said: {excerpt(doc.reply) or "(nothing)"}'
            )
        else:
            policy = PlanPolicy.from_dict(record.spec["kwargs"]["policy"])
            for raw in entries[: policy.max_tasks * 3]:
                await place_proposal(orc, doc, policy, raw, attempt=n, source="text")
    live = doc.live()
    if live:
        doc.status = "planned"
        data = {"tasks": len(live), "held": len(doc.held()), "source": source}
        await _event(orc, doc, PlanEvent.PLANNED, data, key=f"planned:{n}")
    else:
        doc.status = "rejected"
        doc.error = reason or f"the planning run scheduled no task{_refusal_summary(doc, n)}"
        await _event(orc, doc, PlanEvent.REJECTED, {"reason": doc.error}, key=f"rejected:{n}")
    await save_doc(store, doc)
    return True


async def finalise(orc: Runtime, plan_id: str) -> PlanDoc:
    """The plan's document, completed if its latest planning run has ended."""
    async with plan_lock(orc.store, plan_id):
        doc = await load_doc(orc.store, plan_id)
        if doc is None:
            raise UsageError(f"no plan {plan_id!r} in the store {orc.store.url}")
        await finalise_locked(orc, doc)
    return doc


async def _event(
    orc: Runtime, doc: PlanDoc, type: str, data: dict[str, Any], *, key: str | None = None
) -> None:
    await orc.store.append_event(doc.latest, type, data, key=key)


async def plan_failure(orc: Runtime, doc: PlanDoc) -> JobError:
    """The error of a plan whose latest planning run failed, saying how to finish planning."""
    record = await orc.store.get_job(doc.latest)
    kept = len(doc.live())
    advice = (
        f"{kept} task(s) scheduled before that are kept. Run orc.plan() again with the same request (or key) to "
        "plan again: tasks already scheduled are not created twice"
    )
    kwargs: dict[str, Any] = {"job_id": doc.latest, "job_name": PLAN_JOB}
    error = dict(record.error or {}) if record is not None else {}
    if record is not None and record.status is JobStatus.CEILING_EXCEEDED:
        return CeilingExceeded(
            f"plan {doc.id}: the planning run was killed at the platform's dispatch ceiling before it finished; "
            + advice,
            partial_output=str(error.get("partial_output") or ""),
            ceiling=error.get("ceiling"),
            **kwargs,
        )
    if record is not None and record.status is JobStatus.CANCELLED:
        return JobCancelled(f"plan {doc.id}: the planning run was cancelled; {advice}", **kwargs)
    reason = doc.error or "the planning run failed"
    return JobFailed(f"plan {doc.id}: the planning run failed: {reason}. {advice}", reason=reason, **kwargs)


async def decide(
    orc: Runtime, plan_id: str, names: Iterable[str] | None, *, approve: bool, reason: str | None = None
) -> list[PlannedTask]:
    """Approve (schedule) or reject (delete) held tasks: ``names`` of them, or all when ``None``."""
    store = orc.store
    done: list[PlannedTask] = []
    async with plan_lock(store, plan_id):
        doc = await load_doc(store, plan_id)
        if doc is None:
            raise UsageError(f"no plan {plan_id!r} in the store {store.url}")
        held = doc.held()
        if names is None:
            chosen = held
        else:
            wanted = {str(n).casefold() for n in ([names] if isinstance(names, str) else names)}
            chosen = [t for t in held if t.proposal.name.casefold() in wanted]
            missing = wanted - {t.proposal.name.casefold() for t in chosen}
            if missing:
                shown = ", ".join(repr(t.proposal.name) for t in held) or "none"
                raise UsageError(f"plan {plan_id}: no held task named {sorted(missing)}; held tasks: {shown}")
        for entry in chosen:
            if approve:
                await release(orc, entry.task_id, entry.proposal)
                entry.status = "scheduled"
                entry.job_id = await record_child(orc, doc, entry)
                data: dict[str, Any] = {
                    "name": entry.proposal.name,
                    "task_id": entry.task_id,
                    "job_id": entry.job_id,
                }
                await _event(orc, doc, PlanEvent.TASK_APPROVED, data, key=f"approved:{entry.key}")
            else:
                await withdraw(orc, entry)
                entry.status = "rejected"
                data = {"name": entry.proposal.name, "task_id": entry.task_id, "reason": reason}
                await _event(orc, doc, PlanEvent.TASK_REJECTED, data, key=f"rejected:{entry.key}")
            await save_doc(store, doc)
            done.append(entry.public())
    log.info("plan tasks " + ("approved" if approve else "rejected"), plan_id=plan_id, count=len(done))
    return done


async def cancel_plan(orc: Runtime, plan_id: str) -> PlanDoc:
    """Cancel every task of the plan (runs stopped, schedules deleted) and refuse any further proposal."""
    store = orc.store
    async with plan_lock(store, plan_id):
        doc = await load_doc(store, plan_id)
        if doc is None:
            raise UsageError(f"no plan {plan_id!r} in the store {store.url}")
        for entry in doc.live():
            await withdraw(orc, entry)
            entry.status = "cancelled"
            data = {"name": entry.proposal.name, "task_id": entry.task_id}
            await _event(orc, doc, PlanEvent.TASK_CANCELLED, data, key=f"cancelled:{entry.key}")
            await save_doc(store, doc)
        if doc.status != "cancelled":
            doc.status = "cancelled"
            await _event(orc, doc, PlanEvent.CANCELLED, {}, key="cancelled")
            await save_doc(store, doc)
    log.info("plan cancelled", plan_id=plan_id, tasks=len(doc.tasks))
    return doc
