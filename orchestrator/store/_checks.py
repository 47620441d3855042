"""What every store checks of the arguments it is given, with the :class:`UsageError` that says what is wrong.

``job_change``/``job_outcome``/``event_json`` also encode what they check as JSON text, the form the SQL stores
write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import UsageError
from ._codec import mapping_json
from ._protocol import JobStatus

__all__ = [
    "JobChange",
    "JobOutcome",
    "check_limit",
    "check_positive",
    "check_terminal",
    "event_json",
    "job_change",
    "job_outcome",
]


def check_limit(limit: int, *, what: str = "limit") -> int:
    """``limit`` if it is a positive int, else :class:`UsageError`."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise UsageError(f"{what} must be a positive integer, got {limit!r}")
    return limit


def check_positive(value: float, *, what: str) -> float:
    """``value`` as a float if it is a positive number, else :class:`UsageError`."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise UsageError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


def check_terminal(status: JobStatus) -> JobStatus:
    """``status`` as a :class:`JobStatus` if it is terminal (what ``finish_job`` takes), else :class:`UsageError`."""
    status = JobStatus(status)
    if not status.terminal:
        raise UsageError(f"finish_job needs a terminal status (succeeded, failed, ...), got {status.value!r}")
    return status


@dataclass(frozen=True, slots=True)
class JobChange:
    """The arguments of ``update_job``, checked; ``None`` leaves a field as it is.

    ``state`` is JSON text: the keys to merge into the job's state.
    """

    status: JobStatus | None
    state: str | None
    started_at: float | None
    deadline: float | None


def job_change(
    job_id: str,
    *,
    status: JobStatus | None,
    state: Mapping[str, Any] | None,
    started_at: float | None,
    deadline: float | None,
) -> JobChange:
    """What ``update_job(job_id, ...)`` asks for; :class:`UsageError` if ``state`` is not a mapping."""
    patch = mapping_json(state, what=f"job {job_id!r}'s state")
    return JobChange(
        status=None if status is None else JobStatus(status),
        state=patch,
        started_at=None if started_at is None else float(started_at),
        deadline=None if deadline is None else float(deadline),
    )


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """The arguments of ``finish_job``, checked: a terminal status, and the rest as JSON text.

    ``state`` holds the keys to merge into the job's state.
    """

    status: JobStatus
    result: str | None
    error: str | None
    state: str | None


def job_outcome(
    job_id: str,
    status: JobStatus,
    *,
    result: Mapping[str, Any] | None,
    error: Mapping[str, Any] | None,
    state: Mapping[str, Any] | None,
) -> JobOutcome:
    """What ``finish_job(job_id, status, ...)`` asks for; :class:`UsageError` for a status that is not
    terminal, or a result, error or state that is not a mapping."""
    return JobOutcome(
        status=check_terminal(status),
        result=mapping_json(result, what=f"job {job_id!r}'s result"),
        error=mapping_json(error, what=f"job {job_id!r}'s error"),
        state=mapping_json(state, what=f"job {job_id!r}'s state"),
    )


def event_json(job_id: str, event_type: str, data: Mapping[str, Any]) -> str:
    """The data of a new ``event_type`` event of job ``job_id`` as JSON text; :class:`UsageError` for an
    empty type, or data that is not a mapping."""
    if not isinstance(event_type, str) or not event_type:
        raise UsageError(f"an event type must be a non-empty string, got {event_type!r}")
    return mapping_json(data, what=f"the data of a {event_type!r} event of job {job_id!r}") or "{}"
