"""Declaring jobs: the ``job`` decorator, the frozen :class:`JobDefinition` it attaches, and :class:`Job`."""

from __future__ import annotations

import inspect
import re
import zoneinfo
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypeVar, overload

from croniter import croniter

from .._errors import RoutingError, UsageError
from ._duration import parse_duration
from ._prompt import Prompt
from ._routing import JobShape, Route, RouteDecision, RoutingPolicy
from ._runtime import HandleRuntime

if TYPE_CHECKING:
    from ._handle import JobHandle
    from ._result import JobResult

__all__ = [
    "SCHEDULE_PRESETS",
    "Job",
    "JobDefinition",
    "JobFunction",
    "JobOptions",
    "JobRuntime",
    "decorate",
    "job",
    "rebind_policy",
    "validate_schedule",
    "validate_timezone",
]

P = ParamSpec("P")
R = TypeVar("R")
JobFunction = Callable[P, Prompt | str] | Callable[P, Awaitable[Prompt | str]]

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

    @property
    def route(self) -> Route:
        return self.decision.route


class JobRuntime(HandleRuntime, Protocol):
    """Start, cancel, trigger and read jobs: what a :class:`Job` needs from the runtime it is registered with."""

    @property
    def routing(self) -> RoutingPolicy:
        """The routing policy the runtime's jobs are routed under."""
        ...

    @property
    def running(self) -> bool:
        """Whether jobs can start now (inside ``async with orc``)."""
        ...

    async def start_job(self, j: Job[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> JobHandle:
        """Record ``j`` with these arguments, start it on the platform and supervise it."""
        ...

    async def trigger_scheduled(self, j: Job[Any]) -> JobHandle:
        """Run a scheduled job once, now."""
        ...


class Job(Generic[P]):
    """A declared job. Calling it returns its prompt; ``start()`` runs it on the platform.

    Create with ``@orc.job(...)`` (bound to that orchestrator) or ``@job(...)`` and ``Orchestrator(jobs=[...])``.
    """

    def __init__(self, fn: JobFunction[P], definition: JobDefinition) -> None:
        self.fn = fn
        self.definition = definition
        self._orc: JobRuntime | None = None
        self.__name__ = getattr(fn, "__name__", definition.name)
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"<Job {self.name!r} route={self.route.value}>"

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def route(self) -> Route:
        """The platform surface this job runs on."""
        return self.definition.route

    def explain(self) -> RouteDecision:
        """The route and the reasons for it (``str()`` of it reads well)."""
        return self.definition.decision

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Prompt | str | Awaitable[Prompt | str]:
        return self.fn(*args, **kwargs)

    async def prompt(self, *args: P.args, **kwargs: P.kwargs) -> Prompt:
        """The job's prompt for these arguments (awaits an async job function)."""
        value = self.fn(*args, **kwargs)
        if inspect.isawaitable(value):
            value = await value
        return Prompt.coerce(value)

    def bind(self, orc: JobRuntime) -> None:
        """Attach to ``orc`` (an orchestrator's runtime); a job moves to another only once its previous one stopped."""
        if self._orc is not None and self._orc is not orc and self._orc.running:
            raise UsageError(
                f"job {self.name!r} is registered with an Orchestrator that is running; a job belongs to one "
                "running orchestrator at a time: exit that one first, or declare a second job"
            )
        self._orc = orc

    @property
    def orchestrator(self) -> JobRuntime:
        """The runtime this job is registered with (that of its ``Orchestrator``)."""
        if self._orc is None:
            raise UsageError(
                f"job {self.name!r} is not registered with an Orchestrator: declare it with @orc.job(...) "
                "or pass it as Orchestrator(jobs=[...])"
            )
        return self._orc

    async def start(self, *args: P.args, **kwargs: P.kwargs) -> JobHandle:
        """Record the job and start it on the platform; returns once the platform accepted the work.

        With ``max_concurrency`` reached, returns at once with the job ``pending``; it starts, in order, when a
        slot frees.
        """
        return await self.orchestrator.start_job(self, args, kwargs)

    async def run(self, *args: P.args, **kwargs: P.kwargs) -> JobResult:
        """Start the job and wait for its result."""
        handle = await self.start(*args, **kwargs)
        return await handle.result()

    async def trigger_now(self) -> JobHandle:
        """Run a scheduled job once, now, off its schedule (the run in progress if one is running)."""
        return await self.orchestrator.trigger_scheduled(self)


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
) -> JobDefinition:
    """Validate a declaration and route it; every problem is a :class:`RoutingError` saying what to declare."""
    job_name = str(name or getattr(fn, "__name__", None) or "job")
    where = f"job {job_name!r}"
    if not _NAME.match(job_name):
        raise RoutingError(f"{where}: a job name may use letters, digits and _ . : - (1-128 characters)")
    if not callable(fn):
        raise RoutingError(f"{where}: @job decorates a function returning a Prompt or str, got {fn!r}")
    try:
        rt = None if runtime is None else parse_duration(runtime, what="runtime")
    except ValueError as exc:
        raise RoutingError(f"{where}: {exc}") from exc
    if rt is not None and rt <= timedelta(0):
        raise RoutingError(f"{where}: runtime must be positive, got {runtime!r}")
    forced: Route | None
    try:
        forced = None if route is None else Route(route)
    except ValueError as exc:
        raise RoutingError(f"{where}: route {route!r} is not one of {[r.value for r in Route]}") from exc
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
    )


@dataclass(frozen=True, slots=True)
class JobOptions:
    """The decorator's arguments, as one value (``@job`` and ``@orc.job`` share it)."""

    runtime: timedelta | float | str | None = None
    cancellable: bool = False
    schedule: str | None = None
    timezone: str | None = None
    interactive: bool = False
    route: Route | str | None = None
    name: str | None = None
    max_concurrency: int | None = None
    retries: int = 0


def decorate(fn: Callable[..., Any], options: JobOptions, policy: RoutingPolicy) -> Job[Any]:
    """A :class:`Job` of ``fn``, declared with ``options`` and routed by ``policy``."""
    definition = make_definition(
        fn,
        policy=policy,
        runtime=options.runtime,
        cancellable=options.cancellable,
        schedule=options.schedule,
        timezone=options.timezone,
        interactive=options.interactive,
        route=options.route,
        name=options.name,
        max_concurrency=options.max_concurrency,
        retries=options.retries,
    )
    return Job(fn, definition)


@overload
def job(fn: JobFunction[P], /) -> Job[P]: ...
@overload
def job(
    *,
    runtime: timedelta | float | str | None = None,
    cancellable: bool = False,
    schedule: str | None = None,
    timezone: str | None = None,
    interactive: bool = False,
    route: Route | str | None = None,
    name: str | None = None,
    max_concurrency: int | None = None,
    retries: int = 0,
    policy: RoutingPolicy | None = None,
) -> Callable[[JobFunction[P]], Job[P]]: ...
def job(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    runtime: timedelta | float | str | None = None,
    cancellable: bool = False,
    schedule: str | None = None,
    timezone: str | None = None,
    interactive: bool = False,
    route: Route | str | None = None,
    name: str | None = None,
    max_concurrency: int | None = None,
    retries: int = 0,
    policy: RoutingPolicy | None = None,
) -> Any:
    """Declare a job not yet bound to an orchestrator (register it with ``Orchestrator(jobs=[...])``).

    ``@orc.job(...)`` takes the same arguments and binds at once, with that orchestrator's routing policy.
    """
    options = JobOptions(
        runtime, cancellable, schedule, timezone, interactive, route, name, max_concurrency, retries
    )
    pol = policy or RoutingPolicy()
    if fn is not None:
        return decorate(fn, options, pol)
    return lambda f: decorate(f, options, pol)


def rebind_policy(j: Job[Any], policy: RoutingPolicy) -> None:
    """Route ``j`` again under another policy (when an unbound job is registered with an orchestrator)."""
    d = j.definition
    shape = JobShape(
        name=d.name,
        runtime=d.runtime,
        cancellable=d.cancellable,
        schedule=d.schedule,
        interactive=d.interactive,
        route=d.forced_route,
    )
    j.definition = replace(d, decision=policy.decide(shape))
