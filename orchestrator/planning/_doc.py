"""The plan document: a plan's durable state, kept in the store's metadata and changed under a store lock.

It names the plan's planning runs (attempts) and its tasks with their deterministic keys, so that any process
sharing the store, after any crash, sees the same plan and never creates a task twice. The runs' details live in
their job records; the document holds what spans them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from ..store import JobStore
from ._proposal import Proposal
from ._values import PlannedStatus, PlannedTask, RefusedProposal

__all__ = [
    "PlanDoc",
    "PlanState",
    "TaskEntry",
    "load_doc",
    "plan_id_for",
    "plan_lock",
    "request_hash",
    "save_doc",
]

PlanState = Literal["planning", "planned", "failed", "rejected", "cancelled"]
_PREFIX = "plan:"


def plan_id_for(key: str) -> str:
    """The plan id of a plan key (deterministic)."""
    return "plan_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def request_hash(request: str, bot_id: str | None, backstory: str | None) -> str:
    return hashlib.sha256(json.dumps([request, bot_id, backstory]).encode()).hexdigest()[:32]


@dataclass
class TaskEntry:
    """One task of the plan as the document keeps it."""

    key: str
    proposal: Proposal
    status: PlannedStatus
    task_id: str
    job_id: str | None
    attempt: int
    source: str  # "tool" or "text"

    @property
    def live(self) -> bool:
        return self.status in ("held", "scheduled")

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "proposal": self.proposal.to_dict(),
            "status": self.status,
            "task_id": self.task_id,
            "job_id": self.job_id,
            "attempt": self.attempt,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskEntry:
        return cls(
            key=str(data["key"]),
            proposal=Proposal.from_dict(data["proposal"]),
            status=data["status"],
            task_id=str(data["task_id"]),
            job_id=data.get("job_id"),
            attempt=int(data["attempt"]),
            source=str(data.get("source") or "tool"),
        )

    def public(self) -> PlannedTask:
        p = self.proposal
        assert p.runtime is not None
        return PlannedTask(
            name=p.name,
            instructions=p.instructions,
            schedule=p.schedule,
            timezone=p.timezone,
            runtime=p.runtime,
            start_at=p.start_at,
            status=self.status,
            task_id=self.task_id,
            job_id=self.job_id,
        )


@dataclass
class PlanDoc:
    """A plan's durable state (see the module docstring)."""

    id: str
    key: str
    request_hash: str
    approval: str  # "none", "callable" or "manual"
    bot_id: str | None
    bot_config: dict[str, Any]
    attempts: list[str] = field(default_factory=list)
    status: PlanState = "planning"
    error: str | None = None
    finalised: int = 0
    reply: str = ""
    tasks: list[TaskEntry] = field(default_factory=list)
    refusals: list[RefusedProposal] = field(default_factory=list)

    @property
    def latest(self) -> str:
        return self.attempts[-1]

    def entry(self, key: str) -> TaskEntry | None:
        return next((t for t in self.tasks if t.key == key), None)

    def live(self) -> list[TaskEntry]:
        return [t for t in self.tasks if t.live]

    def held(self) -> list[TaskEntry]:
        return [t for t in self.tasks if t.status == "held"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "id": self.id,
            "key": self.key,
            "request_hash": self.request_hash,
            "approval": self.approval,
            "bot_id": self.bot_id,
            "bot_config": self.bot_config,
            "attempts": self.attempts,
            "status": self.status,
            "error": self.error,
            "finalised": self.finalised,
            "reply": self.reply,
            "tasks": [t.to_dict() for t in self.tasks],
            "refusals": [{"name": r.name, "error": r.error, "attempt": r.attempt} for r in self.refusals],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanDoc:
        return cls(
            id=str(data["id"]),
            key=str(data["key"]),
            request_hash=str(data["request_hash"]),
            approval=str(data["approval"]),
            bot_id=data.get("bot_id"),
            bot_config=dict(data.get("bot_config") or {}),
            attempts=[str(a) for a in data.get("attempts") or ()],
            status=data.get("status") or "planning",
            error=data.get("error"),
            finalised=int(data.get("finalised") or 0),
            reply=str(data.get("reply") or ""),
            tasks=[TaskEntry.from_dict(t) for t in data.get("tasks") or ()],
            refusals=[
                RefusedProposal(name=r.get("name"), error=str(r["error"]), attempt=int(r["attempt"]))
                for r in data.get("refusals") or ()
            ],
        )


async def load_doc(store: JobStore, plan_id: str) -> PlanDoc | None:
    """The plan's document, or ``None`` when there is no such plan."""
    data = await store.get_meta(_PREFIX + plan_id)
    return PlanDoc.from_dict(data) if isinstance(data, Mapping) else None


async def save_doc(store: JobStore, doc: PlanDoc) -> None:
    await store.set_meta(_PREFIX + doc.id, doc.to_dict())


@asynccontextmanager
async def plan_lock(store: JobStore, plan_id: str) -> AsyncIterator[None]:
    """Every change to a plan's document (and its tasks) is made holding this lock (shared by all replicas)."""
    async with store.lock(_PREFIX + plan_id):
        yield
