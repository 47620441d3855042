"""The outcome of a job that succeeded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ._routing import Route

__all__ = ["JobResult"]


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


@dataclass(frozen=True, slots=True)
class JobResult:
    """What a finished job produced.

    Attributes:
        text: the agent's reply (for a task: the last bot message of the run's conversation, else its summary).
        end_reason: the platform's ``end.reason`` (``stop``, ``length``, ``iteration``, ...), when known.
        usage: token usage as the platform reported it.
        conversation_id: the conversation the run wrote into, when there is one.
        summary: a task execution's summary.
        channel_ids: every part's channel id, in order, for a dispatch continued past the ceiling
            (``on_ceiling="continue"``); empty for a run in one part.
        parts: how many parts the run took (1 unless it was continued).
    """

    job_id: str
    job_name: str
    route: Route
    text: str
    end_reason: str | None = None
    usage: Mapping[str, Any] = field(default_factory=dict)
    conversation_id: str | None = None
    channel_id: str | None = None
    task_id: str | None = None
    execution_id: str | None = None
    summary: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    attempt: int = 1
    channel_ids: tuple[str, ...] = ()
    parts: int = 1

    @property
    def started(self) -> datetime | None:
        return _dt(self.started_at)

    @property
    def finished(self) -> datetime | None:
        return _dt(self.finished_at)

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return timedelta(seconds=self.finished_at - self.started_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "job_name": self.job_name,
            "route": self.route.value,
            "text": self.text,
            "end_reason": self.end_reason,
            "usage": dict(self.usage),
            "conversation_id": self.conversation_id,
            "channel_id": self.channel_id,
            "task_id": self.task_id,
            "execution_id": self.execution_id,
            "summary": self.summary,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "attempt": self.attempt,
            "channel_ids": list(self.channel_ids),
            "parts": self.parts,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobResult:
        return cls(
            job_id=str(data["job_id"]),
            job_name=str(data["job_name"]),
            route=Route(data["route"]),
            text=str(data.get("text") or ""),
            end_reason=data.get("end_reason"),
            usage=dict(data.get("usage") or {}),
            conversation_id=data.get("conversation_id"),
            channel_id=data.get("channel_id"),
            task_id=data.get("task_id"),
            execution_id=data.get("execution_id"),
            summary=data.get("summary"),
            started_at=data.get("started_at"),
            finished_at=data.get("finished_at"),
            attempt=int(data.get("attempt") or 1),
            channel_ids=tuple(str(c) for c in data.get("channel_ids") or ()),
            parts=int(data.get("parts") or 1),
        )
