"""What the demo shows and reports: a :class:`DemoRow` per job (mutated as its job runs) and the :class:`DemoReport`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..jobs import EventType, Route
from ..store import JobStatus
from ._render import excerpt

__all__ = ["NIGHTLY_SCHEDULE", "NIGHTLY_TIMEZONE", "TERMINAL", "DemoReport", "DemoRow", "headline"]

NIGHTLY_SCHEDULE = "0 7 * * 1-5"
NIGHTLY_TIMEZONE = "Europe/London"

TERMINAL = {
    EventType.SUCCEEDED: JobStatus.SUCCEEDED,
    EventType.FAILED: JobStatus.FAILED,
    EventType.CANCELLED: JobStatus.CANCELLED,
    EventType.CEILING_EXCEEDED: JobStatus.CEILING_EXCEEDED,
    EventType.TIMED_OUT: JobStatus.TIMED_OUT,
}


def headline(reasons: tuple[str, ...], route: Route) -> str:
    """The one reason that decided a route (the guide's decision-tree step)."""
    if not reasons:
        return ""
    if route is Route.COMPLETE or len(reasons) == 1:
        return reasons[0]
    return reasons[1]


@dataclass
class DemoRow:
    """One demo job as the view shows it; mutated by the demo while its job runs."""

    title: str
    job_name: str
    route: Route
    reasons: tuple[str, ...]
    bound: float
    bound_label: str
    expected: str
    status: str = "waiting"
    job_id: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    text: str = ""
    note: str = ""
    skipped: bool = False
    why: str | None = None

    @property
    def reason(self) -> str:
        """The one-line reason shown next to the route."""
        return self.why or headline(self.reasons, self.route)

    @property
    def done(self) -> bool:
        return self.skipped or self.status in {s.value for s in TERMINAL.values()} or self.status == "error"

    @property
    def ok(self) -> bool:
        """Whether the job ended as the scenario expects (a skipped row does not fail the demo)."""
        return self.skipped or self.status == self.expected

    @property
    def duration(self) -> float | None:
        """Platform seconds from start to end, once ended."""
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.started_at)

    def elapsed(self, now: float) -> float | None:
        if self.started_at is None:
            return None
        return max(0.0, (self.finished_at if self.finished_at is not None else now) - self.started_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "name": self.job_name,
            "job_id": self.job_id,
            "route": self.route.value,
            "reason": self.reason,
            "reasons": list(self.reasons),
            "status": self.status,
            "expected_status": self.expected,
            "ok": self.ok,
            "skipped": self.skipped,
            "duration": None if self.duration is None else round(self.duration, 3),
            "bound": self.bound,
            "bound_label": self.bound_label,
            "result_excerpt": excerpt(self.text, 160),
            "note": self.note,
        }


@dataclass
class DemoReport:
    """What the demo did: its rows, the operator's notes, and how long it took."""

    rows: list[DemoRow]
    notes: list[tuple[float, str]]
    time_scale: float | None
    platform_seconds: float
    real_seconds: float
    next_run: str | None
    plan_tasks: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "time_scale": self.time_scale,
            "platform_seconds": round(self.platform_seconds, 3),
            "real_seconds": round(self.real_seconds, 3),
            "schedule": {
                "job": "nightly_summary",
                "cron": NIGHTLY_SCHEDULE,
                "timezone": NIGHTLY_TIMEZONE,
                "next_run": self.next_run,
            },
            "jobs": [row.to_dict() for row in self.rows],
            "plan": {"tasks": self.plan_tasks},
            "notes": [{"at": round(at, 3), "text": text} for at, text in self.notes],
        }
