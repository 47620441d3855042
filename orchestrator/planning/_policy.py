"""``PlanPolicy``: the bounds every proposed task must fit before anything is created.

Agent output is untrusted input. A proposal that breaks a bound is refused with a reason written for the
agent (what is wrong and what to change), sent back as the tool's answer so that it can correct itself.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter

from .._duration import Duration, positive_duration
from .._errors import InvalidArgument
from ..jobs import SCHEDULE_PRESETS, format_duration
from ._proposal import Proposal

__all__ = ["DEFAULT_NAME_PATTERN", "PlanPolicy", "shortest_interval"]

DEFAULT_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9 _.:-]{0,63}"
_SAMPLES = 500
_WINDOW = timedelta(days=400)
_PAST_TOLERANCE = 60.0


def shortest_interval(schedule: str, *, start: datetime) -> timedelta | None:
    """The shortest gap between two consecutive fire times of ``schedule`` in a sample window after ``start``.

    Measured on the wall clock (a daylight-saving fold that repeats an hour does not count as a short gap),
    over the next 500 fire times or 400 days, whichever comes first. ``None`` when the schedule never fires
    (e.g. ``0 0 30 2 *``); a schedule that fires once in the window has no gap and gives the window.
    """
    expression = SCHEDULE_PRESETS.get(schedule, schedule)
    naive = start.astimezone(UTC).replace(tzinfo=None)
    try:
        it = croniter(expression, naive)
        previous: datetime = it.get_next(datetime)
    except ValueError:  # croniter's "failed to find next date", and any other expression it cannot run
        return None
    shortest = _WINDOW
    for _ in range(_SAMPLES):
        try:
            current: datetime = it.get_next(datetime)
        except ValueError:
            break
        shortest = min(shortest, current - previous)
        if current - naive > _WINDOW:
            break
        previous = current
    return shortest


def _timezones(value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise InvalidArgument("allowed_timezones takes a collection of IANA names, not one string")
    try:
        zones = frozenset(value)
    except TypeError as exc:
        raise InvalidArgument(
            f"allowed_timezones takes a collection of IANA names, got {type(value).__name__}"
        ) from exc
    for name in zones:
        if not isinstance(name, str):
            raise InvalidArgument(f"allowed_timezones: {name!r} is not an IANA timezone name (a str)"[:300])
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidArgument(
                f"allowed_timezones: {name!r} is not an IANA timezone name (e.g. 'Europe/London')"
            ) from exc
    return zones


@dataclass(frozen=True, slots=True, init=False)
class PlanPolicy:
    """Bounds on what a planning run may schedule.

    Args:
        max_tasks: the most tasks one plan may hold.
        min_interval: the shortest gap allowed between two consecutive runs of a recurring task (checked on the
            cron expression's fire times over a sample window, on the wall clock).
        max_task_runtime: the longest runtime (``maxTime``) a task may ask for.
        max_total_runtime: the most runtime all the plan's tasks may ask for together (one run of each).
        allowed_timezones: the IANA timezones tasks may use; ``None`` allows any valid one. When set, a recurring
            task (or a start time without an offset) must name one of them.
        max_instruction_length: the most characters a task's instructions may have.
        name_pattern: a regular expression every task name must match in full.
        default_runtime: the runtime of a task that proposes none.
        max_start_delay: how far in the future a one-off task's start time may be.

    Durations take a ``timedelta``, seconds, or a string such as ``"15m"``, like a job's ``runtime``.
    """

    max_tasks: int
    min_interval: timedelta
    max_task_runtime: timedelta
    max_total_runtime: timedelta
    allowed_timezones: frozenset[str] | None
    max_instruction_length: int
    name_pattern: str
    default_runtime: timedelta
    max_start_delay: timedelta
    _name_re: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        max_tasks: int = 10,
        min_interval: Duration = timedelta(hours=1),
        max_task_runtime: Duration = timedelta(hours=6),
        max_total_runtime: Duration = timedelta(hours=24),
        allowed_timezones: frozenset[str] | None = None,
        max_instruction_length: int = 4000,
        name_pattern: str = DEFAULT_NAME_PATTERN,
        default_runtime: Duration = timedelta(hours=1),
        max_start_delay: Duration = timedelta(days=90),
    ) -> None:
        for label, number in (("max_tasks", max_tasks), ("max_instruction_length", max_instruction_length)):
            if isinstance(number, bool) or not isinstance(number, int):
                raise InvalidArgument(f"{label} must be an int, got {type(number).__name__}")
        if not isinstance(name_pattern, str):
            raise InvalidArgument(f"name_pattern must be a str, got {type(name_pattern).__name__}")
        if max_tasks < 1:
            raise InvalidArgument(f"max_tasks must be at least 1, got {max_tasks}")
        if max_instruction_length < 1:
            raise InvalidArgument(f"max_instruction_length must be at least 1, got {max_instruction_length}")
        durations = {
            "min_interval": min_interval,
            "max_task_runtime": max_task_runtime,
            "max_total_runtime": max_total_runtime,
            "default_runtime": default_runtime,
            "max_start_delay": max_start_delay,
        }
        for label, value in durations.items():
            try:
                object.__setattr__(self, label, positive_duration(value, what=label))
            except ValueError as exc:
                raise InvalidArgument(str(exc)) from None
        object.__setattr__(self, "max_tasks", max_tasks)
        object.__setattr__(self, "max_instruction_length", max_instruction_length)
        object.__setattr__(self, "name_pattern", name_pattern)
        if self.default_runtime > self.max_task_runtime:
            raise InvalidArgument("default_runtime must not exceed max_task_runtime")
        if self.max_task_runtime > self.max_total_runtime:
            raise InvalidArgument("max_task_runtime must not exceed max_total_runtime")
        object.__setattr__(self, "allowed_timezones", _timezones(allowed_timezones))
        try:
            object.__setattr__(self, "_name_re", re.compile(self.name_pattern))
        except (re.error, OverflowError, RecursionError) as exc:
            raise InvalidArgument(
                f"name_pattern {self.name_pattern!r} is not a regular expression: {exc}"
            ) from exc

    # -- serialising (the planning job's arguments are stored as JSON) ----------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The policy as a JSON-able mapping (durations in seconds)."""
        zones = None if self.allowed_timezones is None else sorted(self.allowed_timezones)
        return {
            "max_tasks": self.max_tasks,
            "min_interval": self.min_interval.total_seconds(),
            "max_task_runtime": self.max_task_runtime.total_seconds(),
            "max_total_runtime": self.max_total_runtime.total_seconds(),
            "allowed_timezones": zones,
            "max_instruction_length": self.max_instruction_length,
            "name_pattern": self.name_pattern,
            "default_runtime": self.default_runtime.total_seconds(),
            "max_start_delay": self.max_start_delay.total_seconds(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanPolicy:
        """The policy :meth:`to_dict` wrote."""
        zones = data.get("allowed_timezones")
        return cls(
            max_tasks=int(data["max_tasks"]),
            min_interval=timedelta(seconds=float(data["min_interval"])),
            max_task_runtime=timedelta(seconds=float(data["max_task_runtime"])),
            max_total_runtime=timedelta(seconds=float(data["max_total_runtime"])),
            allowed_timezones=None if zones is None else frozenset(str(z) for z in zones),
            max_instruction_length=int(data["max_instruction_length"]),
            name_pattern=str(data["name_pattern"]),
            default_runtime=timedelta(seconds=float(data["default_runtime"])),
            max_start_delay=timedelta(seconds=float(data["max_start_delay"])),
        )

    # -- validating -------------------------------------------------------------------------------------------

    def describe(self) -> str:
        """The bounds in a sentence, for the planning agent's instructions."""
        zones = (
            "any IANA timezone"
            if self.allowed_timezones is None
            else ", ".join(sorted(self.allowed_timezones))
        )
        return (
            f"at most {self.max_tasks} tasks; recurring schedules at most once every "
            f"{format_duration(self.min_interval)}; each task at most {format_duration(self.max_task_runtime)} of "
            f"runtime (default {format_duration(self.default_runtime)}), all tasks together at most "
            f"{format_duration(self.max_total_runtime)}; timezones: {zones}; instructions at most "
            f"{self.max_instruction_length} characters; start times at most "
            f"{format_duration(self.max_start_delay)} ahead"
        )

    def validate(self, proposal: Proposal, accepted: Sequence[Proposal], *, now: float) -> Proposal | str:
        """Check one proposal against the bounds, given the proposals the plan already holds.

        Args:
            proposal: a parsed proposal (see :func:`orchestrator.planning.parse_proposal`).
            accepted: the plan's live proposals (held or scheduled), not counting this one.
            now: the current time (epoch seconds), for start times and schedules.

        Returns:
            The proposal with its runtime filled in, or the reason it is refused (written for the agent).
        """
        name = proposal.name
        if self._name_re.fullmatch(name) is None:
            hint = (
                "use 1-64 letters, digits, spaces or _ . : -, starting with a letter or digit"
                if self.name_pattern == DEFAULT_NAME_PATTERN
                else f"it must match the pattern {self.name_pattern}"
            )
            return f"name {name[:80]!r} is not allowed: {hint}"
        if len(proposal.instructions) > self.max_instruction_length:
            return (
                f"instructions are {len(proposal.instructions)} characters long; at most "
                f"{self.max_instruction_length} are allowed: shorten them"
            )
        if len(accepted) >= self.max_tasks:
            return (
                f"the plan already holds {len(accepted)} tasks, the most allowed: schedule no more, or fold this "
                "work into a task already scheduled"
            )
        runtime = proposal.runtime or self.default_runtime
        if runtime > self.max_task_runtime:
            return (
                f"runtime {format_duration(runtime)} is over the {format_duration(self.max_task_runtime)} allowed "
                "per task: split the work into shorter tasks or ask for less"
            )
        used = sum((p.runtime or self.default_runtime for p in accepted), timedelta(0))
        if used + runtime > self.max_total_runtime:
            left = max(timedelta(0), self.max_total_runtime - used)
            return (
                f"runtime {format_duration(runtime)} would bring the plan to {format_duration(used + runtime)}, over "
                f"the {format_duration(self.max_total_runtime)} allowed in total ({format_duration(left)} left): "
                "ask for less or drop the task"
            )
        if self.allowed_timezones is not None:
            allowed = ", ".join(sorted(self.allowed_timezones))
            if proposal.timezone is None and (proposal.schedule is not None or proposal.naive_start):
                return f"set timezone to one of: {allowed}"
            if proposal.timezone is not None and proposal.timezone not in self.allowed_timezones:
                return f"timezone {proposal.timezone!r} is not allowed: use one of: {allowed}"
        if proposal.schedule is not None:
            start = datetime.fromtimestamp(now, UTC)
            gap = shortest_interval(proposal.schedule, start=start)
            if gap is None:
                return f"schedule {proposal.schedule!r} never fires: check its day and month fields"
            if gap < self.min_interval:
                return (
                    f"schedule {proposal.schedule!r} runs as often as every {format_duration(gap)}; the shortest "
                    f"interval allowed is {format_duration(self.min_interval)}: choose a less frequent schedule"
                )
        if proposal.start_at is not None:
            at = proposal.start_at.timestamp()
            if at < now - _PAST_TOLERANCE:
                current = datetime.fromtimestamp(now, UTC).isoformat()
                return (
                    f"start_at {proposal.start_at.isoformat()} is in the past (it is now {current}): give a future "
                    "time, or leave start_at out to start at once"
                )
            if at > now + self.max_start_delay.total_seconds():
                return (
                    f"start_at {proposal.start_at.isoformat()} is more than "
                    f"{format_duration(self.max_start_delay)} ahead: choose an earlier start"
                )
        return replace(proposal, runtime=runtime)
