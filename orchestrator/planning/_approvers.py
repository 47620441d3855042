"""Approvers registered by name, so that a plan's approval survives a restart.

A callable passed as ``orc.plan(..., approve=fn)`` lives in one process: if that process stops before the plan is
complete, nothing approves it. ``@orc.approver("finance")`` registers a callable under a name, and
``orc.plan(..., approver="finance")`` stores the *name* with the plan. Plans waiting for a named approver are kept
in the store's metadata (``plan-approvals``); every orchestrator that opens re-attaches the approvers it has
registered to those plans, so a restarted orchestrator (or another replica) asks the approver instead of waiting
forever. A plan whose approver is registered nowhere stays held, and says so in the log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeAlias, TypeVar

import structlog

from .._errors import UsageError
from ._values import PlannedTask

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = [
    "APPROVAL_PREFIX",
    "INDEX_KEY",
    "ApprovalVerdict",
    "Approver",
    "ApproverRegistry",
    "approver_name",
    "forget",
    "remember",
]

ApprovalVerdict: TypeAlias = bool | Iterable[str | PlannedTask]
"""``True``: approve every held task; ``False``: reject them all; else the tasks (or their names) to approve."""
Approver: TypeAlias = Callable[[Sequence[PlannedTask]], ApprovalVerdict | Awaitable[ApprovalVerdict]]
"""Called once the plan is complete, with its held tasks; sync (run in a worker thread) or async."""

INDEX_KEY = "plan-approvals"
APPROVAL_PREFIX = "approver:"
A = TypeVar("A", bound=Callable[..., object])
log = structlog.get_logger("orchestrator.planning")


def approver_name(approval: str) -> str | None:
    """The approver's name of a plan's approval mode (``"approver:<name>"``), else ``None``."""
    return approval.removeprefix(APPROVAL_PREFIX) if approval.startswith(APPROVAL_PREFIX) else None


class ApproverRegistry:
    """The approvers of one orchestrator, by name."""

    def __init__(self) -> None:
        self._by_name: dict[str, Approver] = {}

    def register(self, name: str) -> Callable[[A], A]:
        """A decorator registering an approver under ``name`` (the function is returned unchanged)."""
        if not isinstance(name, str) or not name.strip():
            raise UsageError("an approver needs a name: @orc.approver('finance')")

        def decorate(fn: A) -> A:
            if not callable(fn):
                raise UsageError(f"approver {name!r} must be a callable taking the held tasks, got {fn!r}")
            if name in self._by_name and self._by_name[name] is not fn:
                raise UsageError(
                    f"an approver named {name!r} is already registered: give the other one another name"
                )
            self._by_name[name] = fn  # type: ignore[assignment]
            return fn

        return decorate

    def get(self, name: str) -> Approver:
        """The approver registered as ``name`` (:class:`UsageError`, saying what to register, if none)."""
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise UsageError(
                f"no approver named {name!r} is registered (registered: {known}): declare it with "
                f"@orc.approver({name!r}) before orc.plan(..., approver={name!r})"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name


async def remember(orc: Runtime, plan_id: str) -> None:
    """Note that ``plan_id`` waits for a named approver (so that any orchestrator that opens re-attaches it)."""
    store = orc.store
    async with store.lock(INDEX_KEY):
        index = await store.get_meta(INDEX_KEY)
        pending = [str(p) for p in index] if isinstance(index, list) else []
        if plan_id not in pending:
            await store.set_meta(INDEX_KEY, [*pending, plan_id])


async def forget(orc: Runtime, plan_id: str) -> None:
    """The plan needs its approver no more (decided, or nothing to decide)."""
    store = orc.store
    async with store.lock(INDEX_KEY):
        index = await store.get_meta(INDEX_KEY)
        pending = [str(p) for p in index] if isinstance(index, list) else []
        if plan_id in pending:
            await store.set_meta(INDEX_KEY, [p for p in pending if p != plan_id])
