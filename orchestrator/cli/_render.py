"""Job records and events as the CLI shows them: JSON-ready mappings, one-line event summaries, status colours."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from ..store import JobEvent, JobRecord, JobStatus
from ._common import fmt_time, record_duration

__all__ = ["event_line", "excerpt", "record_dict", "record_summary", "status_style"]

_STYLES = {
    JobStatus.PENDING: "yellow",
    JobStatus.RUNNING: "cyan",
    JobStatus.SUCCEEDED: "green",
    JobStatus.FAILED: "red",
    JobStatus.CANCELLED: "magenta",
    JobStatus.CEILING_EXCEEDED: "red",
    JobStatus.TIMED_OUT: "dark_orange",
}
_TIME_KEYS = frozenset({"deadline", "started_at", "finished_at"})
_VALUE_LIMIT = 80
_LINE_LIMIT = 200


def status_style(status: JobStatus | str) -> str:
    """The colour a status is shown in."""
    try:
        return _STYLES[JobStatus(status)]
    except ValueError:
        return "white"


def excerpt(text: str, limit: int = _VALUE_LIMIT) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def record_summary(record: JobRecord) -> dict[str, Any]:
    """The fields ``jobs list --json`` prints."""
    return {
        "id": record.id,
        "job_name": record.job_name,
        "route": record.route,
        "status": record.status.value,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "duration": record_duration(record),
        "parent_id": record.parent_id,
    }


def record_dict(record: JobRecord) -> dict[str, Any]:
    """Every field of a record, JSON-ready."""
    out: dict[str, Any] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if isinstance(value, JobStatus):
            value = value.value
        elif isinstance(value, Mapping):
            value = dict(value)
        out[f.name] = value
    return out


def _value(key: str, value: Any) -> str:
    if key in _TIME_KEYS and isinstance(value, int | float):
        return fmt_time(float(value))
    if isinstance(value, str):
        return excerpt(value)
    return excerpt(json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":")))


def event_line(event: JobEvent) -> str:
    """``#12   07:00:05  job.started  route=dispatch channel_id=orc-...``: one event on one line."""
    data = event.data
    if event.type == "job.succeeded":
        parts = [f"text={_value('text', data.get('text', ''))}"]
    else:
        parts = [f"{k}={_value(k, v)}" for k, v in data.items() if v not in (None, "", [], {})]
    line = f"#{event.seq:<4} {fmt_time(event.created_at)[11:]}  {event.type:<22} {' '.join(parts)}".rstrip()
    return line if len(line) <= _LINE_LIMIT else line[: _LINE_LIMIT - 1] + "…"
