"""What the pages show, shaped from store records and the orchestrator's public API (no HTML here)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..jobs import format_duration
from ..store import JobRecord, JobStatus
from ._source import Source

__all__ = [
    "CEILING_MARKS",
    "JobDetail",
    "Progress",
    "fmt_time",
    "job_detail",
    "job_row",
    "progress_of",
    "valid_id",
]

CEILING_MARKS = (0.5, 0.8, 0.95)
DEFAULT_CEILING = 15 * 60.0
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def valid_id(value: str) -> bool:
    """Whether ``value`` has the shape of a job or plan id (letters, digits and ``_.:-``, at most 128)."""
    return bool(_ID.match(value))


def fmt_time(epoch: float | None) -> str:
    """An epoch time as ``YYYY-MM-DD HH:MM:SS`` UTC (``-`` for none)."""
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso(epoch: float | None) -> str:
    return "" if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def _duration(record: JobRecord, now: float) -> str:
    if record.started_at is None:
        return "-"
    end = record.finished_at if record.finished_at is not None else now
    return format_duration(max(0.0, end - record.started_at))


def job_row(record: JobRecord, now: float) -> dict[str, Any]:
    """One line of the jobs list."""
    return {
        "id": record.id,
        "job_name": record.job_name,
        "route": record.route,
        "status": record.status.value,
        "created": fmt_time(record.created_at),
        "created_iso": iso(record.created_at),
        "duration": _duration(record, now),
    }


@dataclass(frozen=True)
class Progress:
    """A dispatch's time used against the ceiling."""

    elapsed: float
    ceiling: float
    running: bool

    @property
    def fraction(self) -> float:
        return min(1.0, max(0.0, self.elapsed / self.ceiling))

    def as_dict(self) -> dict[str, Any]:
        return {
            "fraction": round(self.fraction, 4),
            "percent": round(self.fraction * 100, 1),
            "elapsed": format_duration(self.elapsed),
            "ceiling": format_duration(self.ceiling),
            "running": self.running,
        }


def ceiling_of(source: Source) -> float:
    return source.orc.routing.ceiling.total_seconds() if source.orc is not None else DEFAULT_CEILING


def progress_of(record: JobRecord, source: Source, now: float) -> Progress | None:
    """The ceiling bar of a dispatch (``None`` for other routes)."""
    if record.route != "dispatch":
        return None
    ceiling = ceiling_of(source)
    if record.started_at is None:
        return Progress(0.0, ceiling, running=not record.status.terminal)
    end = record.finished_at if record.finished_at is not None else now
    return Progress(max(0.0, end - record.started_at), ceiling, running=not record.status.terminal)


@dataclass(frozen=True)
class JobDetail:
    """Everything the page of one job shows besides its live timeline."""

    record: JobRecord
    declaration: list[tuple[str, str]]
    reasons: Sequence[str]
    warnings: Sequence[str]
    platform_ids: list[tuple[str, str]]
    progress: Progress | None
    cancel_note: str | None
    outcome: Mapping[str, Any] = field(default_factory=dict)


_NOT_CANCELLABLE = {
    "dispatch": (
        "A dispatch cannot be cancelled: the platform offers no way to stop it once started (it ends by itself, "
        "at the latest at the 15-minute ceiling). Declare the job cancellable=True to run it as a task."
    ),
    "complete": (
        "A completion cannot be cancelled: it is one streamed call, over as soon as its reply is written."
    ),
}


def _declaration(
    record: JobRecord, source: Source
) -> tuple[list[tuple[str, str]], Sequence[str], Sequence[str]]:
    j = source.orc.jobs.get(record.job_name) if source.orc is not None else None
    spec_reasons = [str(r) for r in record.spec.get("reasons") or ()]
    if j is None:
        rows = [("route", record.route), ("declared", "not in this process (reasons as recorded)")]
        return rows, spec_reasons, ()
    d = j.definition
    rows = [
        ("route", d.route.value),
        ("runtime", "-" if d.runtime is None else format_duration(d.runtime)),
        ("cancellable", "yes" if d.cancellable else "no"),
        ("interactive", "yes" if d.interactive else "no"),
    ]
    if d.schedule:
        rows.append(("schedule", f"{d.schedule} ({d.timezone or 'UTC'})"))
    if d.max_concurrency is not None:
        rows.append(("max concurrency", str(d.max_concurrency)))
    if d.retries:
        rows.append(("retries", str(d.retries)))
    decision = j.explain()
    return rows, list(decision.reasons) or spec_reasons, list(decision.warnings)


def _platform_ids(record: JobRecord) -> list[tuple[str, str]]:
    sources: list[Mapping[str, Any]] = [record.state, record.result or {}, record.spec]
    out = []
    for key, label in (
        ("channel_id", "channel"),
        ("task_id", "task"),
        ("execution_id", "execution"),
        ("conversation_id", "conversation"),
    ):
        value = next((s.get(key) for s in sources if s.get(key)), None)
        if value:
            out.append((label, str(value)))
    return out


def _outcome(record: JobRecord) -> dict[str, Any]:
    if record.status is JobStatus.SUCCEEDED:
        result = record.result or {}
        return {"kind": "result", "text": str(result.get("text") or result.get("summary") or "")}
    err = dict(record.error or {})
    if not record.status.terminal:
        return {"kind": ""}
    return {
        "kind": "error",
        "reason": str(err.get("reason") or record.status.value),
        "partial": str(err.get("partial_output") or ""),
    }


def job_detail(record: JobRecord, source: Source, now: float) -> JobDetail:
    rows, reasons, warnings = _declaration(record, source)
    rows += [
        ("created", fmt_time(record.created_at) + " UTC"),
        ("started", fmt_time(record.started_at) + (" UTC" if record.started_at else "")),
        ("finished", fmt_time(record.finished_at) + (" UTC" if record.finished_at else "")),
        ("duration", _duration(record, now)),
    ]
    if record.parent_id:
        rows.append(("parent", record.parent_id))
    note = None if record.route == "task" else _NOT_CANCELLABLE.get(record.route)
    return JobDetail(
        record=record,
        declaration=rows,
        reasons=reasons,
        warnings=warnings,
        platform_ids=_platform_ids(record),
        progress=progress_of(record, source, now),
        cancel_note=note,
        outcome=_outcome(record),
    )
