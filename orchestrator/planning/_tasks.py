"""A plan's tasks on the platform, and the child jobs that follow them.

Every step is idempotent, keyed by the task's deterministic key: the platform task is found by its ``meta`` key
before one is created, and the child job by its id before it is recorded. A crash between any two steps leaves
nothing that a second run would duplicate.

A one-off task's job is a ``task`` route job like any other (``parent_id`` = the plan): the orchestrator launches
it (triggers the task, at ``start_at`` if given) and supervises its run, and resumes it after a restart. A recurring
task's job records its scheduling: it succeeds at once with the schedule and first run time; its runs happen on the
platform, on its schedule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .._errors import NotFoundError
from ..jobs import EventType, Route
from ..store import JobRecord, JobStatus
from ..supervise import JOB_META_KEY, KEY_META_KEY, ensure_bot, find_task
from ._doc import PlanDoc, TaskEntry
from ._events import PlanEvent
from ._proposal import Proposal
from ._runs import plan_runs_of

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = [
    "PLAN_JOB",
    "PLAN_META_KEY",
    "child_job_id",
    "child_job_name",
    "place",
    "record_child",
    "release",
    "withdraw",
]

PLAN_JOB = "orchestrator.plan"
PLAN_META_KEY = "orchestratorPlan"


def child_job_name(name: str) -> str:
    """The job name of a plan's task ('/' never appears in a declared job's name, so it cannot collide)."""
    return f"{PLAN_JOB}/{name}"


def child_job_id(key: str) -> str:
    return "job_" + key.removeprefix("pt_")[:24]


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def task_body(orc: Runtime, p: Proposal, *, held: bool) -> dict[str, Any]:
    """The platform task's fields (without bot and meta); a held task has no schedule and expires if left."""
    assert p.runtime is not None
    now = orc.clock.time()
    runtime = p.runtime.total_seconds()
    retention = orc.retention.total_seconds()
    body: dict[str, Any] = {"name": p.name, "description": p.instructions, "maxTime": _ms(runtime)}
    if p.timezone:
        body["timezone"] = p.timezone
    if p.recurring:
        if held:
            body["expiresAt"] = _ms(now + retention)
        else:
            body["schedule"] = p.schedule
    else:
        start = max(now, p.start_at.timestamp()) if p.start_at is not None else now
        body["expiresAt"] = _ms(start + runtime + retention)
    return body


async def place(orc: Runtime, doc: PlanDoc, key: str, p: Proposal, *, held: bool) -> str:
    """The platform task of a proposal: found by its key, else created (held: no schedule, not started)."""
    ctx = orc.context
    task_id = await find_task(ctx, {KEY_META_KEY: key})
    if task_id is None:
        bot_id = await ensure_bot(ctx, doc.bot_id, doc.bot_config)
        meta = {KEY_META_KEY: key, JOB_META_KEY: child_job_name(p.name), PLAN_META_KEY: doc.id}
        task_id = await orc.client.tasks.create(
            {**task_body(orc, p, held=held), "botId": bot_id, "meta": meta}
        )
    elif not held:
        # found after a crash: it may have been created held by an earlier run of the plan
        await release(orc, task_id, p)
    return task_id


async def release(orc: Runtime, task_id: str, p: Proposal) -> None:
    """Make a held task live: give a recurring task its schedule; a one-off task is started by its job."""
    body = task_body(orc, p, held=False)
    patch: dict[str, Any] = {"expiresAt": body.get("expiresAt")}
    if p.recurring:
        patch["schedule"] = p.schedule
    await orc.client.tasks.update(task_id, patch)


async def record_child(orc: Runtime, doc: PlanDoc, entry: TaskEntry) -> str:
    """Record (once) the job that follows a live task; a one-off task's job is started. Returns its id."""
    store = orc.store
    job_id = child_job_id(entry.key)
    p = entry.proposal
    if await store.get_job(job_id) is not None:
        if p.recurring:  # recorded by a process that may have stopped before following its runs
            await plan_runs_of(orc).track(
                entry.task_id, plan_id=doc.id, name=p.name, job_name=child_job_name(p.name)
            )
        return job_id
    job_name = child_job_name(p.name)
    now = orc.clock.time()
    spec: dict[str, Any] = {
        "args": [],
        "kwargs": {},
        "args_stored": True,
        "task": task_body(orc, p, held=False),
        "bot_id": doc.bot_id,
        "bot_config": doc.bot_config,
        "plan_id": doc.id,
    }
    reasons = [f"planned by {doc.id}: a {'recurring' if p.recurring else 'one-off'} task"]
    if p.recurring:
        task = await orc.client.tasks.fetch(entry.task_id)
        first = _iso(task.next_run_at)
        text = f"Scheduled recurring task {p.name!r}: {p.schedule} ({p.timezone or 'UTC'}); next run {first or 'unknown'}"
        result = {
            "job_id": job_id,
            "job_name": job_name,
            "route": Route.TASK.value,
            "text": text,
            "task_id": entry.task_id,
            "summary": text,
            "started_at": now,
            "finished_at": now,
        }
        record = JobRecord(
            id=job_id,
            job_name=job_name,
            route=Route.TASK.value,
            status=JobStatus.SUCCEEDED,
            created_at=now,
            updated_at=now,
            idempotency_key=entry.key,
            spec=spec,
            state={"task_id": entry.task_id, "recurring": True},
            result=result,
            parent_id=doc.id,
            started_at=now,
            finished_at=now,
        )
        await store.create_job(record)
        orc.remember(job_id, job_name, Route.TASK)
        await store.append_event(
            job_id, EventType.CREATED, {"route": "task", "job_name": job_name, "reasons": reasons}
        )
        await store.append_event(job_id, EventType.SUCCEEDED, result, key="terminal")
        await plan_runs_of(orc).track(
            entry.task_id, plan_id=doc.id, name=p.name, job_name=job_name
        )  # its runs: child jobs too
        return job_id
    if p.start_at is not None:
        spec["not_before"] = p.start_at.timestamp()
    record = JobRecord(
        id=job_id,
        job_name=job_name,
        route=Route.TASK.value,
        status=JobStatus.PENDING,
        created_at=now,
        updated_at=now,
        idempotency_key=entry.key,
        spec=spec,
        parent_id=doc.id,
        owner=orc.replica_id,
        lease_expires_at=now + orc.lease,
    )
    stored = await store.create_job(record)
    orc.remember(job_id, job_name, Route.TASK)
    await store.append_event(
        job_id, EventType.CREATED, {"route": "task", "job_name": job_name, "reasons": reasons}, key="created"
    )
    if p.start_at is not None and p.start_at.timestamp() > now:
        data = {"waiting_for": "start_at", "start_at": p.start_at.isoformat()}
        await store.append_event(job_id, EventType.PENDING, data, key="pending")
    orc.runs.spawn(stored, holds_slot=False)
    return job_id


async def withdraw(orc: Runtime, entry: TaskEntry) -> None:
    """Stop a task for good: cancel its job's run, and delete the platform task unless a run is under way.

    A one-off run already under way is cancelled on the platform and its task expires on its own (its job
    follows the cancelled execution to its end). A recurring task is deleted, which stops its schedule.
    """
    store = orc.store
    record = await store.get_job(entry.job_id) if entry.job_id else None
    if record is not None and not record.status.terminal:
        await orc.cancel_job(record.id)
        record = await store.get_job(record.id)
    running = record is not None and not record.status.terminal and bool(record.state.get("task_id"))
    if record is not None and record.status.terminal and record.state.get("recurring"):
        await store.append_event(record.id, PlanEvent.TASK_CANCELLED, {"task_id": entry.task_id})
    if not running:
        try:
            await orc.client.tasks.delete(entry.task_id)
        except NotFoundError:
            pass
