"""Task schedules: cron expressions (croniter) and the platform's presets, evaluated in the task's timezone.

A schedule is a cron expression (5 fields, or croniter's 6-field and ``@hourly``-style forms), one of the
presets ``never, quarterhourly, halfhourly, hourly, daily, twicedaily, weekly, twiceweekly, monthly,
twicemonthly``, or an ISO-8601 date-time for a single run (naive = in the task's timezone). DST is respected:
``0 7 * * 1-5`` in ``Europe/London`` is 07:00 UTC in winter and 06:00 UTC in summer.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

__all__ = ["PRESETS", "next_run", "validate_schedule", "zone"]

PRESETS: dict[str, str | None] = {
    "never": None,
    "quarterhourly": "*/15 * * * *",
    "halfhourly": "*/30 * * * *",
    "hourly": "0 * * * *",
    "daily": "0 0 * * *",
    "twicedaily": "0 0,12 * * *",
    "weekly": "0 0 * * 0",
    "twiceweekly": "0 0 * * 0,3",
    "monthly": "0 0 1 * *",
    "twicemonthly": "0 0 1,15 * *",
}


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name`` (UTC when ``None``).

    Raises:
        ValueError: unknown zone.
    """
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"timezone {name!r} is not an IANA timezone name (e.g. 'Europe/London', 'UTC')"
        ) from exc


def _one_off(expression: str, tz: ZoneInfo) -> datetime | None:
    if not expression[:4].isdigit() or "-" not in expression:
        return None
    try:
        when = datetime.fromisoformat(expression.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=tz)


def validate_schedule(expression: str) -> None:
    """Raises ``ValueError`` saying what is wrong with ``expression``."""
    text = expression.strip()
    if text.lower() in PRESETS:
        return
    if _one_off(text, ZoneInfo("UTC")) is not None:
        return
    if not croniter.is_valid(text):
        presets = ", ".join(PRESETS)
        raise ValueError(
            f"schedule {expression!r} is not a cron expression (e.g. '0 7 * * 1-5'), "
            f"an ISO date-time, or a preset ({presets})"
        )


def next_run(expression: str | None, timezone: str | None, after: float) -> float | None:
    """The first run time strictly after ``after`` (epoch seconds), or ``None`` when there is none."""
    if not expression:
        return None
    text = expression.strip()
    cron = PRESETS.get(text.lower(), text)
    if cron is None:
        return None
    tz = zone(timezone)
    once = _one_off(cron, tz)
    if once is not None:
        return once.timestamp() if once.timestamp() > after else None
    start = datetime.fromtimestamp(after, tz)
    following = croniter(cron, start).get_next(datetime)
    return float(following.timestamp())
