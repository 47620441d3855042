"""Declaring jobs: the ``job`` decorator, :class:`Job` (what it returns), and the runtime protocol a job needs.

The frozen :class:`JobDefinition` a job carries, and its validation, are in :mod:`._declaration`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypedDict, TypeVar, Unpack, overload

from .._duration import Duration
from .._errors import InvalidArgument, UsageError
from ._bounds import CeilingPolicy
from ._declaration import (
    SCHEDULE_PRESETS,
    JobDefinition,
    make_definition,
    rerouted,
    validate_schedule,
    validate_timezone,
)
from ._prompt import Prompt
from ._routing import Route, RouteDecision, RoutingPolicy
from ._runtime import HandleRuntime

if TYPE_CHECKING:
    from ._adaptive import AdaptiveRouter
    from ._handle import JobHandle
    from ._result import JobResult

__all__ = [
    "SCHEDULE_PRESETS",
    "Job",
    "JobArgs",
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

    @property
    def adaptive(self) -> AdaptiveRouter:
        """The adaptive routing decisions as this runtime last read them (``RoutingPolicy(adaptive=True)``)."""
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
        """The route and the reasons for it, the bound of a run, and any adaptive move (``str()`` reads well)."""
        decision = self.definition.decision
        if self._orc is not None:
            return self._orc.adaptive.explain(self.name, decision)
        return decision

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
    def registered_with(self) -> JobRuntime | None:
        """The runtime this job is registered with, or ``None`` while it is not registered."""
        return self._orc

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


class JobArgs(TypedDict, total=False):
    """The keyword arguments of ``@job(...)`` and ``@orc.job(...)``, every one optional.

    - ``runtime``: how long a run is expected to take (``timedelta``, seconds, ``"90s"``, ``"20m"``, ``"3h"``);
      it routes the job. Default: the routing policy's ``default_runtime``.
    - ``cancellable``: the run must be cancellable (routes to a task). Default ``False``.
    - ``schedule``: a cron expression (or preset) in ``timezone``: a scheduled task.
    - ``timezone``: an IANA timezone for the schedule (and the platform's ``x-timezone``).
    - ``interactive``: the reply is needed in the same call: a completion, streamed. Default ``False``.
    - ``route``: force a route (``"dispatch"``, ``"task"``, ``"complete"``); refused if it cannot hold the job.
    - ``name``: the job's name (default: the function's qualified name); unique per orchestrator.
    - ``max_concurrency``: at most this many runs of this job at once; excess starts wait as ``pending``.
    - ``retries``: start a failed run again this many times (not cancelled or ceiling-killed runs). Default 0.
    - ``timeout``: the hard bound of a run (a task's ``maxTime``; default ``runtime / headroom``); a run past it
      ends ``timed_out``. On a dispatch, only with ``on_ceiling`` ``"continue"`` (bounds the parts) or ``"task"``.
    - ``on_ceiling``: a dispatch killed at the ceiling ``"fail"``s (``ceiling_exceeded``, the default), is
      ``"continue"``d where it stopped (one job, one result), or is re-run as a ``"task"``.
    - ``max_continuations``: at most this many continuations of one run (``on_ceiling="continue"``). Default 3.
    """

    runtime: Duration | None
    cancellable: bool
    schedule: str | None
    timezone: str | None
    interactive: bool
    route: Route | str | None
    name: str | None
    max_concurrency: int | None
    retries: int
    timeout: Duration | None
    on_ceiling: CeilingPolicy
    max_continuations: int


@dataclass(frozen=True, slots=True)
class JobOptions:
    """The decorator's arguments, as one value (``@job`` and ``@orc.job`` share it)."""

    runtime: Duration | None = None
    cancellable: bool = False
    schedule: str | None = None
    timezone: str | None = None
    interactive: bool = False
    route: Route | str | None = None
    name: str | None = None
    max_concurrency: int | None = None
    retries: int = 0
    timeout: Duration | None = None
    on_ceiling: CeilingPolicy = "fail"
    max_continuations: int = 3

    @classmethod
    def of(cls, args: JobArgs) -> JobOptions:
        """The options a decorator was called with (:class:`InvalidArgument` naming any unknown one)."""
        unknown = sorted(set(args) - set(JobArgs.__annotations__))
        if unknown:
            raise InvalidArgument(
                f"unknown job option(s) {', '.join(map(repr, unknown))}: "
                f"a job takes {', '.join(JobArgs.__annotations__)}"
            )
        return cls(**args)


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
        timeout=options.timeout,
        on_ceiling=options.on_ceiling,
        max_continuations=options.max_continuations,
    )
    return Job(fn, definition)


@overload
def job(fn: JobFunction[P], /) -> Job[P]: ...
@overload
def job(
    *, policy: RoutingPolicy | None = None, **options: Unpack[JobArgs]
) -> Callable[[JobFunction[P]], Job[P]]: ...
def job(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    policy: RoutingPolicy | None = None,
    **options: Unpack[JobArgs],
) -> Any:
    """Declare a job not yet bound to an orchestrator (register it with ``Orchestrator(jobs=[...])``).

    ``@orc.job(...)`` takes the same arguments and binds at once, with that orchestrator's routing policy.
    """
    opts = JobOptions.of(options)
    pol = policy or RoutingPolicy()
    if fn is not None:
        return decorate(fn, opts, pol)
    return lambda f: decorate(f, opts, pol)


def rebind_policy(j: Job[Any], policy: RoutingPolicy) -> None:
    """Route ``j`` again under another policy (when an unbound job is registered with an orchestrator)."""
    j.definition = rerouted(j.definition, policy)
