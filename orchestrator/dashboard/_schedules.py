"""The schedules page's data: each scheduled job's cron in words, its next runs and its last runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cron_descriptor import ExpressionDescriptor
from croniter import croniter

from ..store import JobRecord
from ._source import Source

__all__ = ["ScheduleView", "cron_in_words", "load_schedules", "next_runs"]


def cron_in_words(expression: str) -> str:
    """``"0 7 * * 1-5"`` as ``"At 07:00 AM, Monday through Friday"`` (the expression itself if unreadable)."""
    try:
        return str(ExpressionDescriptor(expression, use_24hour_time_format=True))
    except Exception:  # cron_descriptor raises bare exception types of its own for anything it cannot read
        return expression


def next_runs(expression: str, timezone: str | None, now: float, *, count: int = 3) -> list[datetime]:
    """The next ``count`` run times (aware, UTC) of a cron expression in ``timezone`` after ``now``."""
    try:
        tz = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    start = datetime.fromtimestamp(now, tz)
    try:
        it = croniter(expression, start)
    except (ValueError, KeyError):
        return []
    return [it.get_next(datetime).astimezone(UTC) for _ in range(count)]


@dataclass
class ScheduleView:
    """One scheduled job."""

    name: str
    cron: str
    timezone: str
    words: str
    next: list[datetime] = field(default_factory=list)
    last: list[JobRecord] = field(default_factory=list)


async def load_schedules(source: Source, now: float) -> list[ScheduleView]:
    """Every scheduled job the orchestrator declares (none on a bare store: declarations live in the app)."""
    if source.orc is None:
        return []
    out = []
    for j in sorted(source.orc.jobs.values(), key=lambda j: j.name):
        d = j.definition
        if d.schedule is None:
            continue
        tz = d.timezone or "UTC"
        view = ScheduleView(
            name=j.name,
            cron=d.schedule,
            timezone=tz,
            words=f"{cron_in_words(d.schedule)}, {tz} time",
            next=next_runs(d.schedule, tz, now),
            last=await source.store.find_jobs(job_name=j.name, limit=5),
        )
        out.append(view)
    return out
