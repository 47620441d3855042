"""What every store shares: JSON encoding, and job records to rows and back.

Every store keeps JSON text (or ``jsonb``) for ``spec``/``state``/``result``/``error``/event data/meta values,
so what goes in must be JSON-serialisable; the memory store round-trips values through JSON too, so that all
three behave alike (a tuple comes back as a list, a caller mutating its dict afterwards changes nothing
stored).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._errors import StoreError, UsageError
from ._protocol import TERMINAL_STATUSES, JobEvent, JobRecord, JobStatus

__all__ = [
    "JOB_COLUMNS",
    "TERMINAL_VALUES",
    "dumps",
    "event_from_row",
    "job_from_row",
    "job_values",
    "loads",
    "mapping_json",
]

# the order of the columns every SELECT of a job uses (rows are decoded by position)
JOB_COLUMNS = (
    "id",
    "job_name",
    "route",
    "status",
    "created_at",
    "updated_at",
    "idempotency_key",
    "spec",
    "state",
    "result",
    "error",
    "parent_id",
    "started_at",
    "finished_at",
    "deadline",
    "owner",
    "lease_expires_at",
)

TERMINAL_VALUES: list[str] = sorted(status.value for status in TERMINAL_STATUSES)


def dumps(value: Any, *, what: str) -> str:
    """``value`` as compact JSON text; :class:`StoreError` naming ``what`` if it is not JSON-serialisable."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"cannot store {what}: it is not JSON-serialisable ({exc}); "
            "store plain dicts, lists, strings, finite numbers, booleans and None"
        ) from exc


def mapping_json(value: Mapping[str, Any] | None, *, what: str) -> str | None:
    """A mapping as JSON text (``None`` stays ``None``); :class:`UsageError` for anything but a mapping."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise UsageError(f"{what} must be a mapping (a dict), got {type(value).__name__}")
    return dumps(dict(value), what=what)


def loads(text: str | None) -> Any:
    """JSON text back to a value (``None`` stays ``None``)."""
    return None if text is None else json.loads(text)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def job_from_row(row: Any) -> JobRecord:
    """A :class:`JobRecord` from a row whose first columns are :data:`JOB_COLUMNS`, in that order."""
    try:
        status = JobStatus(row[3])
    except ValueError as exc:
        raise StoreError(
            f"job {row[0]!r} has the status {row[3]!r}, which this version of orchestrator does not know: "
            "upgrade orchestrator"
        ) from exc
    return JobRecord(
        id=row[0],
        job_name=row[1],
        route=row[2],
        status=status,
        created_at=float(row[4]),
        updated_at=float(row[5]),
        idempotency_key=row[6],
        spec=loads(row[7]) or {},
        state=loads(row[8]) or {},
        result=loads(row[9]),
        error=loads(row[10]),
        parent_id=row[11],
        started_at=_opt_float(row[12]),
        finished_at=_opt_float(row[13]),
        deadline=_opt_float(row[14]),
        owner=row[15],
        lease_expires_at=_opt_float(row[16]),
    )


def job_values(record: JobRecord, *, now: float) -> tuple[Any, ...]:
    """The values of :data:`JOB_COLUMNS`, in that order, that store ``record`` as a job created ``now``.

    ``spec``/``state``/``result``/``error`` become JSON text (:class:`UsageError` if one is not a mapping).
    """
    what = f"job {record.id!r}'s"
    return (
        record.id,
        record.job_name,
        record.route,
        JobStatus(record.status).value,
        now,
        now,
        record.idempotency_key,
        mapping_json(record.spec, what=f"{what} spec") or "{}",
        mapping_json(record.state, what=f"{what} state") or "{}",
        mapping_json(record.result, what=f"{what} result"),
        mapping_json(record.error, what=f"{what} error"),
        record.parent_id,
        record.started_at,
        record.finished_at,
        record.deadline,
        record.owner,
        record.lease_expires_at,
    )


def event_from_row(job_id: str, row: Any) -> JobEvent:
    """A :class:`JobEvent` from a ``(seq, type, data, created_at, key)`` row."""
    return JobEvent(
        job_id=job_id, seq=int(row[0]), type=row[1], data=loads(row[2]), created_at=float(row[3]), key=row[4]
    )
