"""Starting a plan (``orc.plan(...)``), finding one again, and the keeper that completes and approves it."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import anyio.to_thread
import structlog

from .._clock import VirtualClock
from .._errors import OrchestratorError, UsageError
from ._doc import PlanDoc, load_doc, plan_id_for, plan_lock, request_hash
from ._handle import PlanHandle
from ._lifecycle import decide, finalise_locked, start_attempt
from ._policy import PlanPolicy
from ._values import PlannedTask

if TYPE_CHECKING:
    from ..runtime import Runtime, RuntimeOwner

__all__ = ["ApprovalVerdict", "Approver", "load_plan", "start_plan"]

log = structlog.get_logger("orchestrator.planning")

ApprovalVerdict: TypeAlias = bool | Iterable[str | PlannedTask]
"""``True``: approve every held task; ``False``: reject them all; else the tasks (or their names) to approve."""
Approver: TypeAlias = Callable[[Sequence[PlannedTask]], ApprovalVerdict | Awaitable[ApprovalVerdict]]
"""Called once the plan is complete, with its held tasks; sync (run in a worker thread) or async."""


async def start_plan(
    owner: RuntimeOwner,
    request: str,
    *,
    bot_id: str | None = None,
    backstory: str | None = None,
    policy: PlanPolicy | None = None,
    key: str | None = None,
    approve: Approver | None = None,
    require_approval: bool = False,
) -> PlanHandle:
    """Start a plan, or return the existing plan with the same key (see ``Orchestrator.plan``).

    Idempotent: the plan key (``key``, else a hash of the request and the bot) names the plan. A plan whose
    planning run is under way or that is planned is returned as it is. A plan whose last planning run failed, was
    killed at the ceiling or held no plan is planned again by a new run; the tasks it already created are found by
    their keys and never created twice.

    Raises:
        UsageError: an empty request, or a key already used by another request.
        PlatformError: the platform refused the planning run.
    """
    orc = owner.runtime
    orc.require_open()
    if not isinstance(request, str) or not request.strip():
        raise UsageError("orc.plan() needs a request: the text that says what needs to happen")
    if key is not None and (not isinstance(key, str) or not key.strip()):
        raise UsageError("key must be a non-empty string (or None to derive it from the request)")
    if approve is not None and not callable(approve):
        raise UsageError("approve must be a callable taking the held tasks (sync or async)")
    policy = policy if policy is not None else PlanPolicy()
    if not isinstance(policy, PlanPolicy):
        raise UsageError(f"policy must be a PlanPolicy, got {type(policy).__name__}")
    approval = "callable" if approve is not None else "manual" if require_approval else "none"
    rhash = request_hash(request, bot_id, backstory)
    plan_key = key or rhash
    plan_id = plan_id_for(plan_key)
    store = orc.store
    async with plan_lock(store, plan_id):
        doc = await load_doc(store, plan_id)
        if doc is not None and doc.request_hash != rhash:
            raise UsageError(
                f"plan key {plan_key!r} already names another request (plan {plan_id}): pass another key="
            )
        if doc is None:
            config = {"backstory": backstory} if backstory is not None else {}
            doc = PlanDoc(plan_id, plan_key, rhash, approval, bot_id, config)
            fresh = True
        else:
            await finalise_locked(orc, doc)
            fresh = doc.status in ("failed", "rejected")
        if fresh:
            doc.approval = approval
            await start_attempt(orc, doc, request=request, policy=policy, backstory=backstory)
    log.info("plan started" if fresh else "plan found", plan_id=plan_id, attempts=len(doc.attempts))
    handle = PlanHandle(orc, doc)
    tg = orc.task_group
    if tg is not None:
        tg.start_soon(_keep, orc, PlanHandle(orc, doc), approve)
    return handle


async def load_plan(owner: RuntimeOwner, plan_id: str) -> PlanHandle:
    """A handle on a plan in the store, by id (from any process sharing it).

    Raises:
        UsageError: no such plan.
    """
    orc = owner.runtime
    doc = await load_doc(orc.store, plan_id)
    if doc is None:
        raise UsageError(f"no plan {plan_id!r} in the store {orc.store.url}")
    return PlanHandle(orc, doc)


def _names(verdict: Any, held: Sequence[PlannedTask]) -> list[str]:
    if verdict is True:
        return [t.name for t in held]
    if verdict is False:
        return []
    if verdict is None or not isinstance(verdict, Iterable):
        raise UsageError(
            f"the approver returned {verdict!r}: return True (approve all), False (reject all) or the tasks to keep"
        )
    items = [verdict] if isinstance(verdict, str) else list(verdict)
    names = [item.name if isinstance(item, PlannedTask) else str(item) for item in items]
    known = {t.name.casefold(): t.name for t in held}
    unknown = [n for n in names if n.casefold() not in known]
    if unknown:
        raise UsageError(
            f"the approver named tasks that are not held: {unknown}; held: {list(known.values())}"
        )
    return [known[n.casefold()] for n in names]


async def _ask(orc: Runtime, approver: Approver, held: Sequence[PlannedTask]) -> Any:
    if inspect.iscoroutinefunction(approver):
        return await approver(held)
    call = functools.partial(approver, held)
    if isinstance(orc.clock, VirtualClock):
        with orc.clock.hold():  # virtual time must not jump while the approver thinks
            verdict = await anyio.to_thread.run_sync(call)
    else:
        verdict = await anyio.to_thread.run_sync(call)
    return await verdict if inspect.isawaitable(verdict) else verdict


async def _keep(orc: Runtime, handle: PlanHandle, approver: Approver | None) -> None:
    """Complete the plan as soon as its planning run ends (a text plan's tasks are created then), then ask the
    approver, if any, about the held tasks. Never raises into the orchestrator's task group."""
    try:
        try:
            await handle.wait_planned()
        except OrchestratorError:
            return  # the plan failed or was rejected: its handle says why
        held = [t for t in handle.planned_tasks if t.status == "held"]
        if approver is None or not held:
            return
        try:
            keep = _names(await _ask(orc, approver, held), held)
        except Exception as exc:  # the approver is user code: fail closed, nothing unapproved runs
            log.warning("plan approver failed; rejecting the held tasks", plan_id=handle.id, error=repr(exc))
            await decide(orc, handle.id, None, approve=False, reason=f"the approver failed: {exc!r}")
            return
        wanted = {n.casefold() for n in keep}
        if keep:
            await handle.approve(keep)
        rest = [t.name for t in held if t.name.casefold() not in wanted]
        if rest:
            await handle.reject(rest)
    except OrchestratorError as exc:
        log.warning("plan keeper stopped", plan_id=handle.id, error=str(exc))
    except Exception as exc:  # a bug here must not stop every job of the orchestrator
        log.exception("plan keeper failed", plan_id=handle.id, error=repr(exc))
