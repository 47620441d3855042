"""A job's hard bound and its ceiling policy: ``timeout=``, ``on_ceiling=`` and ``max_continuations=``.

``runtime`` is what the user expects a run to take (it routes the job); the *bound* is where a run is stopped:

- a task's ``maxTime``: the declared ``timeout``, else ``runtime / headroom`` (the same headroom the routing rule
  leaves under the dispatch ceiling), so that a run of the declared runtime is not killed at that runtime;
- a dispatch's bound is the platform's ceiling. ``on_ceiling`` says what happens when a run is killed there:
  ``"fail"`` (the job ends ``ceiling_exceeded``), ``"continue"`` (a continuation dispatch picks up where it
  stopped, at most ``max_continuations`` times; ``timeout`` then bounds the parts together) or ``"task"`` (the run
  is re-run as a task, which has no ceiling; ``timeout`` is that task's ``maxTime``).

Every declaration that cannot hold is refused when the decorator runs (:func:`check_bounds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, get_args

from .._duration import format_duration, parse_duration
from .._errors import RoutingError
from ._routing import Route, RoutingPolicy

__all__ = ["CeilingPolicy", "JobBounds", "check_bounds", "describe_bound", "task_fields", "task_max_time"]

CeilingPolicy = Literal["fail", "continue", "task"]
_POLICIES: tuple[str, ...] = get_args(CeilingPolicy)


@dataclass(frozen=True, slots=True)
class JobBounds:
    """The validated bound settings of one job."""

    timeout: timedelta | None = None
    on_ceiling: CeilingPolicy = "fail"
    max_continuations: int = 3


def task_max_time(runtime: timedelta | None, timeout: timedelta | None, policy: RoutingPolicy) -> timedelta:
    """A task's ``maxTime``: the declared ``timeout``, else the runtime (or the default) over the headroom."""
    if timeout is not None:
        return timeout
    return (runtime or policy.default_runtime) / policy.headroom


def check_bounds(
    where: str,
    *,
    route: Route,
    runtime: timedelta | None,
    interactive: bool,
    schedule: str | None,
    timeout: object,
    on_ceiling: object,
    max_continuations: object,
) -> JobBounds:
    """Validate ``timeout``, ``on_ceiling`` and ``max_continuations`` against the job's route.

    Raises:
        RoutingError: a value of the wrong form, or a combination the route cannot honour (saying what to declare).
    """
    if on_ceiling not in _POLICIES:
        raise RoutingError(
            f"{where}: on_ceiling={on_ceiling!r} is not one of {', '.join(map(repr, _POLICIES))}"
        )
    if isinstance(max_continuations, bool) or not isinstance(max_continuations, int) or max_continuations < 1:
        raise RoutingError(
            f"{where}: max_continuations must be a whole number of at least 1, got {max_continuations!r}"
        )
    try:
        bound = None if timeout is None else parse_duration(timeout, what="timeout")  # type: ignore[arg-type]
    except ValueError as exc:
        raise RoutingError(f"{where}: {exc}") from exc
    if bound is not None and bound <= timedelta(0):
        raise RoutingError(f"{where}: timeout must be positive, got {timeout!r}")
    if bound is not None and runtime is not None and bound < runtime:
        raise RoutingError(
            f"{where}: timeout {format_duration(bound)} is shorter than the declared runtime "
            f"{format_duration(runtime)}: the timeout is the hard bound of a run expected to take the runtime. "
            "Declare a timeout of at least the runtime (or drop timeout= for runtime / headroom)"
        )
    if on_ceiling != "fail" and route is not Route.DISPATCH:
        what = "an interactive completion" if interactive or route is Route.COMPLETE else "a task"
        why = (
            "it replies in the same call, which a continuation cannot be part of"
            if what.startswith("an interactive")
            else "a task has no ceiling (its bound is maxTime: declare timeout= instead)"
        )
        if schedule is not None:
            why = "a scheduled job runs as a task, which has no ceiling (declare timeout= for its maxTime)"
        raise RoutingError(
            f"{where}: on_ceiling={on_ceiling!r} applies to a dispatch killed at the ceiling, but this job runs as "
            f"{what}: {why}. Drop on_ceiling="
        )
    if route is Route.DISPATCH and bound is not None and on_ceiling == "fail":
        raise RoutingError(
            f"{where}: a dispatch cannot be stopped, so its bound is the platform's ceiling, not timeout="
            f"{format_duration(bound)}. Declare cancellable=True (a task, whose maxTime is the timeout), or "
            "on_ceiling='continue' (the timeout then bounds the parts together) or on_ceiling='task'"
        )
    if route is Route.COMPLETE and bound is not None:
        raise RoutingError(
            f"{where}: an interactive completion is bounded by its call (~800s), not by timeout=. Drop timeout=, "
            "or drop interactive=True to run it in the background"
        )
    return JobBounds(timeout=bound, on_ceiling=on_ceiling, max_continuations=max_continuations)  # type: ignore[arg-type]


def describe_bound(route: Route, runtime: timedelta | None, bounds: JobBounds, policy: RoutingPolicy) -> str:
    """One line for ``explain()``: where a run of this job is stopped, and what happens then."""
    if route is Route.TASK:
        max_time = task_max_time(runtime, bounds.timeout, policy)
        source = (
            "the declared timeout"
            if bounds.timeout is not None
            else f"runtime {format_duration(runtime or policy.default_runtime)} / headroom {policy.headroom:g}"
        )
        return f"bound: maxTime {format_duration(max_time)} ({source}); a run past it ends timed_out"
    if route is Route.COMPLETE:
        return f"bound: one completion call (~{format_duration(policy.completion_bound)})"
    ceiling = format_duration(policy.ceiling)
    if bounds.on_ceiling == "continue":
        total = (
            f"; timeout {format_duration(bounds.timeout)} bounds the parts together" if bounds.timeout else ""
        )
        return (
            f"bound: the {ceiling} dispatch ceiling per part; on_ceiling='continue': a run killed there is "
            f"continued, at most {bounds.max_continuations} times{total}"
        )
    if bounds.on_ceiling == "task":
        task_bound = (
            f"maxTime {format_duration(bounds.timeout)}"
            if bounds.timeout
            else "the platform's default maxTime"
        )
        return (
            f"bound: the {ceiling} dispatch ceiling; on_ceiling='task': a run killed there is re-run as a task "
            f"({task_bound})"
        )
    return (
        f"bound: the {ceiling} dispatch ceiling; a run killed there ends ceiling_exceeded (on_ceiling='fail')"
    )


def task_fields(
    *,
    name: str,
    description: str,
    max_time: timedelta | None,
    expires_at_ms: int,
    timezone: str | None,
) -> dict[str, object]:
    """The ``task/create`` fields of a one-off task run (``maxTime`` omitted: the platform's default)."""
    task: dict[str, object] = {"name": name, "description": description, "expiresAt": expires_at_ms}
    if max_time is not None:
        task["maxTime"] = int(max_time.total_seconds() * 1000)
    if timezone:
        task["timezone"] = timezone
    return task
