"""A job's declaration: the frozen :class:`JobDefinition`, validated and routed when the decorator runs.

Every problem with a declaration (a bad name, runtime, route, schedule or timezone, a scheduled job with required
arguments) is a :class:`RoutingError` that says what to declare instead.
"""

from __future__ import annotations

import inspect
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from croniter import croniter

from .._duration import parse_duration
from .._errors import RoutingError
from ._bounds import CeilingPolicy, JobBounds, check_bounds, describe_bound
from ._routing import JobShape, Route, RouteDecision, RoutingPolicy

__all__ = [
    "SCHEDULE_PRESETS",
    "JobDefinition",
    "make_definition",
    "reroute",
    "rerouted",
    "validate_schedule",
    "validate_timezone",
]

SCHEDULE_PRESETS: dict[str, str] = {
    "quarterhourly": "*/15 * * * *",
    "halfhourly": "*/30 * * * *",
    "hourly": "0 * * * *",
    "daily": "0 0 * * *",
    "twicedaily": "0 0,12 * * *",
    "weekly": "0 0 * * 1",
    "twiceweekly": "0 0 * * 1,4",
    "monthly": "0 0 1 * *",
    "twicemonthly": "0 0 1,15 * *",
}
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def validate_schedule(schedule: str, timezone: str | None, *, where: str) -> None:
    """Raise :class:`RoutingError` for a cron expression or timezone the platform would refuse."""
    expr = SCHEDULE_PRESETS.get(schedule, schedule)
    if schedule == "never" or not croniter.is_valid(expr):
        raise RoutingError(
            f"{where}: schedule {schedule!r} is not a valid cron expression. Write five fields "
            "'minute hour day-of-month month day-of-week', e.g. '0 7 * * 1-5' (07:00 on weekdays), "
            f"or a preset: {', '.join(SCHEDULE_PRESETS)}"
        )
    if timezone is not None:
        validate_timezone(timezone, where=where)


def validate_timezone(timezone: str, *, where: str) -> None:
    """Raise :class:`RoutingError` for a timezone that is not an IANA name."""
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise RoutingError(
            f"{where}: timezone {timezone!r} is not an IANA timezone name; use e.g. 'Europe/London' or 'UTC'"
        ) from exc


@dataclass(frozen=True, slots=True)
class JobDefinition:
    """A job's declaration, validated and routed when the decorator runs."""

    name: str
    runtime: timedelta | None
    cancellable: bool
    schedule: str | None
    timezone: str | None
    interactive: bool
    forced_route: Route | None
    max_concurrency: int | None
    retries: int
    decision: RouteDecision
    bounds: JobBounds = field(default_factory=JobBounds)

    @property
    def route(self) -> Route:
        return self.decision.route

    @property
    def timeout(self) -> timedelta | None:
        """The hard bound of a run (a task's ``maxTime``), when declared."""
        return self.bounds.timeout

    @property
    def on_ceiling(self) -> CeilingPolicy:
        """What happens to a dispatch killed at the ceiling: ``"fail"``, ``"continue"`` or ``"task"``."""
        return self.bounds.on_ceiling


def make_definition(
    fn: Callable[..., Any],
    *,
    policy: RoutingPolicy,
    runtime: timedelta | float | str | None,
    cancellable: bool,
    schedule: str | None,
    timezone: str | None,
    interactive: bool,
    route: Route | str | None,
    name: str | None,
    max_concurrency: int | None,
    retries: int,
    timeout: timedelta | float | str | None = None,
    on_ceiling: CeilingPolicy = "fail",
    max_continuations: int = 3,
) -> JobDefinition:
    """Validate a declaration and route it; every problem is a :class:`RoutingError` saying what to declare."""
    if name is not None and not isinstance(name, str):
        raise RoutingError(f"@job name= must be a str, got {type(name).__name__}")
    job_name = str(name or getattr(fn, "__name__", None) or "job")
    where = f"job {job_name[:140]!r}"
    _check_types(where, cancellable, interactive, schedule, timezone, max_concurrency, retries)
    if not _NAME.match(job_name):
        raise RoutingError(f"{where}: a job name may use letters, digits and _ . : - (1-128 characters)")
    if not callable(fn):
        raise RoutingError(f"{where}: @job decorates a function returning a Prompt or str, got {fn!r}")
    try:
        rt = None if runtime is None else parse_duration(runtime, what="runtime")
    except (ValueError, TypeError, OverflowError) as exc:
        raise RoutingError(
            f"{where}: runtime {runtime!r} is not a duration ({exc}); pass a timedelta, seconds or '20m'"[
                :400
            ]
        ) from exc
    if rt is not None and rt <= timedelta(0):
        raise RoutingError(f"{where}: runtime must be positive, got {runtime!r}")
    forced: Route | None
    try:
        forced = None if route is None else Route(route)
    except (ValueError, TypeError) as exc:
        raise RoutingError(
            f"{where}: route {route!r} is not one of {[r.value for r in Route]}"[:400]
        ) from exc
    if schedule is not None:
        validate_schedule(schedule, timezone, where=where)
        required = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if required:
            raise RoutingError(
                f"{where}: a scheduled job runs with no arguments, but it takes {', '.join(required)}. "
                "Give those parameters defaults, or drop schedule= and start it with job.start(...)"
            )
    elif timezone is not None:
        validate_timezone(timezone, where=where)
    if max_concurrency is not None and max_concurrency < 1:
        raise RoutingError(f"{where}: max_concurrency must be at least 1 (or None for no limit)")
    if retries < 0:
        raise RoutingError(f"{where}: retries must be 0 or more")
    shape = JobShape(
        name=job_name,
        runtime=rt,
        cancellable=cancellable,
        schedule=schedule,
        interactive=interactive,
        route=forced,
    )
    decision = policy.decide(shape)
    bounds = check_bounds(
        where,
        route=decision.route,
        runtime=rt,
        interactive=interactive,
        schedule=schedule,
        timeout=timeout,
        on_ceiling=on_ceiling,
        max_continuations=max_continuations,
    )
    decision = replace(decision, bound=describe_bound(decision.route, rt, bounds, policy))
    return JobDefinition(
        name=job_name,
        runtime=rt,
        cancellable=cancellable,
        schedule=schedule,
        timezone=timezone,
        interactive=interactive,
        forced_route=forced,
        max_concurrency=max_concurrency,
        retries=retries,
        decision=decision,
        bounds=bounds,
    )


def _check_types(
    where: str,
    cancellable: object,
    interactive: object,
    schedule: object,
    timezone: object,
    max_concurrency: object,
    retries: object,
) -> None:
    for label, flag in (("cancellable", cancellable), ("interactive", interactive)):
        if not isinstance(flag, bool):
            raise RoutingError(f"{where}: {label}= must be True or False, got {flag!r}"[:300])
    for label, text in (("schedule", schedule), ("timezone", timezone)):
        if text is not None and not isinstance(text, str):
            raise RoutingError(f"{where}: {label}= must be a str (or None), got {type(text).__name__}")
    if max_concurrency is not None and (
        isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int)
    ):
        raise RoutingError(f"{where}: max_concurrency= must be an int of at least 1 (or None for no limit)")
    if isinstance(retries, bool) or not isinstance(retries, int):
        raise RoutingError(f"{where}: retries= must be an int, 0 or more, got {retries!r}"[:300])


def reroute(d: JobDefinition, policy: RoutingPolicy) -> RouteDecision:
    """Route declaration ``d`` again under another policy."""
    shape = JobShape(
        name=d.name,
        runtime=d.runtime,
        cancellable=d.cancellable,
        schedule=d.schedule,
        interactive=d.interactive,
        route=d.forced_route,
    )
    return policy.decide(shape)


def rerouted(d: JobDefinition, policy: RoutingPolicy) -> JobDefinition:
    """Declaration ``d`` routed again under another policy, its bounds checked against the new route."""
    decision = reroute(d, policy)
    bounds = check_bounds(
        f"job {d.name!r}",
        route=decision.route,
        runtime=d.runtime,
        interactive=d.interactive,
        schedule=d.schedule,
        timeout=d.bounds.timeout,
        on_ceiling=d.bounds.on_ceiling,
        max_continuations=d.bounds.max_continuations,
    )
    bound = describe_bound(decision.route, d.runtime, bounds, policy)
    return replace(d, decision=replace(decision, bound=bound), bounds=bounds)
