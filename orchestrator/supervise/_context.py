"""What every supervisor shares: the context it runs in, and the outcome it reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._clock import Clock
from ..jobs import EventType, JobResult, Route, RoutingPolicy
from ..platform import PlatformClient
from ..store import JobRecord, JobStatus, JobStore
from ._log import excerpt, log
from ._runlog import DEFAULT_TOKEN_WINDOW
from ._tracker import TaskTracker

__all__ = ["Outcome", "SupervisorContext", "excerpt", "log", "read_result_event", "succeeded"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended, as a supervisor saw it; the orchestrator records it (or retries)."""

    status: JobStatus
    event_type: EventType
    event_data: Mapping[str, Any]
    result: Mapping[str, Any] | None = None
    error: Mapping[str, Any] | None = None
    retryable: bool = False

    @classmethod
    def failed(cls, reason: str, *, code: str | None = None, retryable: bool = True) -> Outcome:
        error = {"reason": reason, "code": code}
        return cls(JobStatus.FAILED, EventType.FAILED, error, error=error, retryable=retryable)

    @classmethod
    def cancelled(cls, reason: str) -> Outcome:
        error = {"reason": reason}
        return cls(JobStatus.CANCELLED, EventType.CANCELLED, error, error=error)

    @classmethod
    def succeeded(cls, result: Mapping[str, Any]) -> Outcome:
        return cls(JobStatus.SUCCEEDED, EventType.SUCCEEDED, result, result=result)

    @classmethod
    def ceiling(cls, *, partial_output: str, ceiling: float, reason: str) -> Outcome:
        error = {"partial_output": partial_output, "ceiling": ceiling, "reason": reason}
        return cls(JobStatus.CEILING_EXCEEDED, EventType.CEILING_EXCEEDED, error, error=error)

    @classmethod
    def timed_out(cls, *, partial_output: str, timeout: float, reason: str) -> Outcome:
        error = {"partial_output": partial_output, "timeout": timeout, "reason": reason}
        return cls(JobStatus.TIMED_OUT, EventType.TIMED_OUT, error, error=error)


def read_result_event(data: Any, streamed: str) -> tuple[str, str | None, dict[str, Any]]:
    """``(text, end reason, usage)`` from a ``result`` event's data; the streamed tokens when it has no text."""
    payload = data if isinstance(data, Mapping) else {}
    end = payload.get("end")
    reason = end.get("reason") if isinstance(end, Mapping) else None
    text = payload.get("text")
    return (str(text) if text is not None else streamed), reason, dict(payload.get("usage") or {})


def succeeded(record: JobRecord, *, text: str, finished_at: float, **fields: Any) -> Outcome:
    """A success outcome whose result is this job's :class:`JobResult`."""
    result = JobResult(
        job_id=record.id,
        job_name=record.job_name,
        route=Route(record.route),
        text=text,
        finished_at=finished_at,
        **fields,
    )
    return Outcome.succeeded(result.to_dict())


@dataclass
class SupervisorContext:
    """The orchestrator's services, as supervisors see them."""

    store: JobStore
    client: PlatformClient
    clock: Clock
    policy: RoutingPolicy
    tracker: TaskTracker
    grace: float = 60.0
    reconnect_max: float = 30.0
    token_window: float = DEFAULT_TOKEN_WINDOW  # see RunLog: seconds over which token deltas are merged
    extra: dict[str, Any] = field(default_factory=dict)
