"""Starting a plan (``orc.plan(...)``), finding one again, and the keeper that completes and approves it."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import anyio.abc
import anyio.to_thread
import structlog

from .._clock import VirtualClock
from .._errors import OrchestratorError, UsageError
from ._approvers import (
    APPROVAL_PREFIX,
    INDEX_KEY,
    ApprovalVerdict,
    Approver,
    ApproverRegistry,
    approver_name,
    forget,
    remember,
)
from ._doc import PlanDoc, load_doc, plan_id_for, plan_lock, request_hash
from ._handle import PlanHandle
from ._lifecycle import decide, finalise_locked, start_attempt
from ._policy import PlanPolicy
from ._values import PlannedTask

if TYPE_CHECKING:
    from ..runtime import Runtime, RuntimeOwner

__all__ = ["ApprovalVerdict", "Approver", "approvers_of", "keep_plan", "load_plan", "reattach", "start_plan"]

log = structlog.get_logger("orchestrator.planning")


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
    approver: str | None = None,
) -> PlanHandle:
    """Start a plan, or return the existing plan with the same key (see ``Orchestrator.plan``).

    Idempotent: the plan key (``key``, else a hash of the request and the bot) names the plan. A plan whose
    planning run is under way or that is planned is returned as it is. A plan whose last planning run failed, was
    killed at the ceiling or held no plan is planned again by a new run; the tasks it already created are found by
    their keys and never created twice.

    With ``approver=`` (the name of an approver registered with ``@orc.approver(name)``) the name is stored with the
    plan, and whichever orchestrator opens on the store next re-attaches that approver if the plan is still held.

    Raises:
        UsageError: an empty request, a key already used by another request, or an approver not registered.
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
    if approver is not None:
        if approve is not None:
            raise UsageError(
                "pass approve= (a callable, this process only) or approver= (a registered name), not both"
            )
        approve = approvers_of(orc).get(approver)
    policy = policy if policy is not None else PlanPolicy()
    if not isinstance(policy, PlanPolicy):
        raise UsageError(f"policy must be a PlanPolicy, got {type(policy).__name__}")
    approval = (
        f"{APPROVAL_PREFIX}{approver}"
        if approver is not None
        else "callable"
        if approve is not None
        else "manual"
        if require_approval
        else "none"
    )
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
    if approver is not None:
        await remember(orc, plan_id)
    log.info("plan started" if fresh else "plan found", plan_id=plan_id, attempts=len(doc.attempts))
    handle = PlanHandle(orc, doc)
    tg = orc.task_group
    if tg is not None:
        tg.start_soon(keep_plan, orc, PlanHandle(orc, doc), approve)
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


async def keep_plan(orc: Runtime, handle: PlanHandle, approver: Approver | None) -> None:
    """Complete the plan as soon as its planning run ends (a text plan's tasks are created then), then ask the
    approver, if any, about the held tasks. Never raises into the orchestrator's task group."""
    try:
        await _keep(orc, handle, approver)
        if approver_name(handle._doc.approval) is not None:
            await forget(
                orc, handle.id
            )  # decided (or nothing to decide): no orchestrator needs to re-attach it
    except OrchestratorError as exc:
        log.warning("plan keeper stopped", plan_id=handle.id, error=str(exc))


async def _keep(orc: Runtime, handle: PlanHandle, approver: Approver | None) -> None:
    try:
        try:
            await handle.wait_planned()
        except OrchestratorError:
            return  # the plan failed or was rejected: its handle says why
        if approver is None:
            return
        # one approver asked at a time per plan, in every process: a second keeper finds nothing held
        async with orc.store.lock(f"approval:{handle.id}"):
            await handle.refresh()
            held = [t for t in handle.planned_tasks if t.status == "held"]
            if not held:
                return
            try:
                keep = _names(await _ask(orc, approver, held), held)
            except Exception as exc:  # the approver is user code: fail closed, nothing unapproved runs
                log.warning(
                    "plan approver failed; rejecting the held tasks", plan_id=handle.id, error=repr(exc)
                )
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


def approvers_of(owner: RuntimeOwner) -> ApproverRegistry:
    """The approvers registered on an orchestrator (made on first use; re-attached whenever it opens)."""
    rt = owner.runtime
    registry = rt.addons.get("approvers")
    if not isinstance(registry, ApproverRegistry):
        registry = ApproverRegistry()
        rt.addons["approvers"] = registry

        async def on_open(tg: anyio.abc.TaskGroup) -> None:
            await reattach(rt, tg)

        rt.on_open.append(on_open)
    return registry


async def reattach(orc: Runtime, tg: anyio.abc.TaskGroup) -> None:
    """Ask this orchestrator's registered approvers about the plans in the store that wait for them."""
    registry = approvers_of(orc)
    index = await orc.store.get_meta(INDEX_KEY)
    for plan_id in [str(p) for p in index] if isinstance(index, list) else []:
        doc = await load_doc(orc.store, plan_id)
        name = approver_name(doc.approval) if doc is not None else None
        if doc is None or name is None:
            await forget(orc, plan_id)
            continue
        if name not in registry:
            log.warning("a plan waits for an approver not registered here", plan_id=plan_id, approver=name)
            continue
        log.info("approver re-attached to a plan", plan_id=plan_id, approver=name)
        tg.start_soon(keep_plan, orc, PlanHandle(orc, doc), registry.get(name))
