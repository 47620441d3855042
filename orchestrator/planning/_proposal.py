"""One proposed task, parsed from untrusted input (the plan tool's arguments, or an entry of a JSON plan).

Parsing is strict: every field has one type, text is stripped, a cron expression and a timezone must be valid,
and unknown keys are never honoured (they are reported back as ignored). Nothing in a proposal is evaluated,
fetched or followed; it only ever becomes the text and fields of a task.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .._errors import RoutingError
from ..jobs import parse_duration, validate_schedule, validate_timezone

__all__ = ["FIELDS", "InvalidProposal", "Proposal", "parse_proposal", "task_key"]

FIELDS = ("name", "instructions", "schedule", "timezone", "runtime", "start_at")
_MAX_NAME = 200
_MAX_TEXT = 100_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InvalidProposal(ValueError):
    """A proposal that cannot be parsed; the message is written for the agent."""


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed task, normalised.

    Attributes:
        name: the task's name (whitespace collapsed); unique within a plan, case-insensitively.
        instructions: what the task run is told to do.
        schedule: a cron expression or preset for a recurring task; ``None`` for a one-off task.
        timezone: the IANA timezone of the schedule (and of a start time without an offset).
        runtime: how long one run may take (``None`` until the policy fills in its default).
        start_at: when a one-off task starts (aware, UTC); ``None`` starts it at once.
        naive_start: the start time was written without an offset (read in ``timezone``, else UTC).
        ignored: the unknown keys that were dropped.
    """

    name: str
    instructions: str
    schedule: str | None = None
    timezone: str | None = None
    runtime: timedelta | None = None
    start_at: datetime | None = None
    naive_start: bool = False
    ignored: tuple[str, ...] = ()

    @property
    def recurring(self) -> bool:
        return self.schedule is not None

    def same_work(self, other: Proposal) -> bool:
        """Whether ``other`` asks for the same task (ignoring how it was written)."""
        return (self.instructions, self.schedule, self.timezone, self.runtime, self.start_at) == (
            other.instructions,
            other.schedule,
            other.timezone,
            other.runtime,
            other.start_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "instructions": self.instructions,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "runtime": None if self.runtime is None else self.runtime.total_seconds(),
            "start_at": None if self.start_at is None else self.start_at.timestamp(),
            "naive_start": self.naive_start,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Proposal:
        runtime, start = data.get("runtime"), data.get("start_at")
        return cls(
            name=str(data["name"]),
            instructions=str(data["instructions"]),
            schedule=data.get("schedule"),
            timezone=data.get("timezone"),
            runtime=None if runtime is None else timedelta(seconds=float(runtime)),
            start_at=None if start is None else datetime.fromtimestamp(float(start), UTC),
            naive_start=bool(data.get("naive_start")),
        )


def task_key(plan_key: str, name: str) -> str:
    """The deterministic key of a plan's task: the ``meta`` key of its platform task and its job's key."""
    digest = hashlib.sha256(f"{plan_key}\x00{name.casefold()}".encode()).hexdigest()
    return f"pt_{digest[:32]}"


def _text(args: Mapping[str, Any], key: str, *, required: bool, limit: int) -> str | None:
    value = args.get(key)
    if value is None:
        if required:
            raise InvalidProposal(f"{key} is required (a string)")
        return None
    if not isinstance(value, str):
        raise InvalidProposal(f"{key} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidProposal(f"{key} is {len(value)} characters long, far over any limit: shorten it")
    value = value.strip()
    if not value:
        if required:
            raise InvalidProposal(f"{key} must not be empty")
        return None
    return value


def _runtime(value: Any) -> timedelta | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidProposal(f"runtime must be a duration like '30m' or '2h', got {type(value).__name__}")
    try:
        runtime = parse_duration(value, what="runtime")
    except (ValueError, OverflowError) as exc:  # NaN, infinity and absurd sizes too
        raise InvalidProposal(
            f"runtime {str(value)[:40]!r} is not a usable duration: write e.g. '30m' or '2h'"
        ) from exc
    if runtime <= timedelta(0):
        raise InvalidProposal("runtime must be longer than zero, e.g. '30m'")
    return runtime


def _start(text: str | None, timezone: str | None) -> tuple[datetime | None, bool]:
    if text is None:
        return None, False
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise InvalidProposal(
            f"start_at {text[:60]!r} is not an ISO 8601 date-time: write e.g. '2026-04-01T09:00:00+01:00'"
        ) from exc
    naive = when.tzinfo is None
    if naive:
        when = when.replace(tzinfo=ZoneInfo(timezone) if timezone else UTC)
    return when.astimezone(UTC), naive


def parse_proposal(args: Any) -> Proposal:
    """Parse one proposal from untrusted input.

    Args:
        args: the plan tool's arguments, or one entry of a JSON plan: ``name``, ``instructions`` and optionally
            ``schedule`` (cron or preset), ``timezone`` (IANA), ``runtime`` (``"30m"``, ``"2h"`` or seconds) and
            ``start_at`` (ISO 8601, one-off tasks only). Other keys are ignored.

    Raises:
        InvalidProposal: what is wrong, written for the agent.
    """
    if not isinstance(args, Mapping):
        raise InvalidProposal(
            f"a task must be an object with name and instructions, got {type(args).__name__}"
        )
    ignored = tuple(sorted(str(k)[:40] for k in args if k not in FIELDS))
    raw_name = _text(args, "name", required=True, limit=_MAX_NAME)
    assert raw_name is not None
    name = " ".join(raw_name.split())
    instructions = _text(args, "instructions", required=True, limit=_MAX_TEXT)
    assert instructions is not None
    if _CONTROL.search(instructions) or _CONTROL.search(name):
        raise InvalidProposal("name and instructions must not contain control characters")
    where = f"task {name[:80]!r}"
    schedule = _text(args, "schedule", required=False, limit=200)
    timezone = _text(args, "timezone", required=False, limit=100)
    try:
        if schedule is not None:
            validate_schedule(schedule, timezone, where=where)
        elif timezone is not None:
            validate_timezone(timezone, where=where)
    except RoutingError as exc:
        raise InvalidProposal(exc.message) from exc
    runtime = _runtime(args.get("runtime"))
    start_at, naive = _start(_text(args, "start_at", required=False, limit=100), timezone)
    if schedule is not None and start_at is not None:
        raise InvalidProposal(
            f"{where}: start_at is for one-off tasks; a recurring task starts on its schedule. Drop one of them"
        )
    return Proposal(
        name=name,
        instructions=instructions,
        schedule=schedule,
        timezone=timezone,
        runtime=runtime,
        start_at=start_at,
        naive_start=naive,
        ignored=ignored,
    )
