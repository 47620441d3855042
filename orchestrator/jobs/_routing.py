"""Routing: which platform surface a job's declared shape fits, and why.

The decision tree (the guide's terms):

1. Does the caller need the reply in the same call (a chat reply)? -> an interactive **completion**
   (bounded to ~800 s per HTTP call; the platform keeps history only with a conversation id).
2. Does it run on a schedule? -> a **task** (only tasks are schedulable).
3. Must it be cancellable? -> a **task** (a dispatch cannot be cancelled once queued).
4. Is its declared runtime over the dispatch ceiling times the headroom (15 min x 0.8)? -> a **task**
   (the platform kills a dispatch at 15 minutes).
5. Otherwise: a **dispatch** (background completion, progress on a channel).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from .._duration import Duration, format_duration, parse_duration, positive_duration
from .._errors import RoutingError

__all__ = ["COMPLETION_BOUND", "JobShape", "Route", "RouteDecision", "RoutingPolicy"]

COMPLETION_BOUND = timedelta(seconds=800)


class Route(enum.StrEnum):
    """The platform surface a job runs on."""

    COMPLETE = "complete"
    DISPATCH = "dispatch"
    TASK = "task"


@dataclass(frozen=True, slots=True)
class JobShape:
    """What a job declares about itself (the input of routing)."""

    name: str
    runtime: timedelta | None = None
    cancellable: bool = False
    schedule: str | None = None
    interactive: bool = False
    stateful: bool | None = None
    route: Route | None = None


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """A route and the reasons for it, in the guide's decision-tree terms."""

    route: Route
    reasons: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    bound: str | None = None
    """Where a run is stopped and what happens then (``timeout=``, ``on_ceiling=``)."""
    adaptive: str | None = None
    """What adaptive routing decided from the observed runtimes, when it moved the job (see ``RoutingPolicy``)."""

    def __str__(self) -> str:
        lines = [f"route: {self.route.value}"]
        lines += [f"  - {r}" for r in self.reasons]
        lines += [f"  - {x}" for x in (self.bound, self.adaptive) if x]
        lines += [f"  ! {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True, init=False)
class RoutingPolicy:
    """The routing rule.

    Durations take a ``timedelta``, seconds, or a string such as ``"15m"`` (the forms of a job's ``runtime``).

    Args:
        ceiling: the platform's hard cap on a dispatch (15 minutes).
        headroom: the fraction of the ceiling a dispatch may be declared to use; a longer runtime becomes a task.
        default_runtime: the runtime assumed for a job that declares none.
        completion_bound: how long one interactive completion call may run (~800 s).
        adaptive: move a dispatch job to a task when the p95 of its last ``adaptive_window`` runs passes
            ``ceiling x headroom``, and back when it falls under ``ceiling x adaptive_low`` (decided in the store,
            so every replica routes alike; see :mod:`orchestrator.jobs._adaptive`).
        adaptive_window: how many of a job's most recent finished runs the p95 is taken over.
        adaptive_low: the fraction of the ceiling under which a moved job's p95 returns it to dispatch.
    """

    ceiling: timedelta
    headroom: float
    default_runtime: timedelta
    completion_bound: timedelta
    adaptive: bool
    adaptive_window: int
    adaptive_low: float

    def __init__(
        self,
        ceiling: Duration = timedelta(minutes=15),
        headroom: float = 0.8,
        default_runtime: Duration = timedelta(minutes=5),
        completion_bound: Duration = COMPLETION_BOUND,
        adaptive: bool = False,
        adaptive_window: int = 20,
        adaptive_low: float = 0.6,
    ) -> None:
        if isinstance(headroom, bool) or not isinstance(headroom, int | float) or not 0 < headroom <= 1:
            raise ValueError(f"headroom must be in (0, 1], got {headroom!r}")
        object.__setattr__(self, "ceiling", positive_duration(ceiling, what="ceiling"))
        object.__setattr__(self, "headroom", float(headroom))
        object.__setattr__(self, "default_runtime", parse_duration(default_runtime, what="default_runtime"))
        object.__setattr__(
            self, "completion_bound", positive_duration(completion_bound, what="completion_bound")
        )
        if isinstance(adaptive_window, bool) or not isinstance(adaptive_window, int) or adaptive_window < 1:
            raise ValueError(f"adaptive_window must be a whole number of at least 1, got {adaptive_window!r}")
        if (
            isinstance(adaptive_low, bool)
            or not isinstance(adaptive_low, int | float)
            or not 0 < adaptive_low < headroom
        ):
            raise ValueError(
                f"adaptive_low must be above 0 and under headroom ({headroom:g}) so that a moved job does "
                f"not flap, got {adaptive_low!r}"
            )
        object.__setattr__(self, "adaptive", bool(adaptive))
        object.__setattr__(self, "adaptive_window", adaptive_window)
        object.__setattr__(self, "adaptive_low", float(adaptive_low))

    @property
    def dispatch_budget(self) -> timedelta:
        """The longest runtime routed to a dispatch: ceiling x headroom."""
        return self.ceiling * self.headroom

    def decide(self, shape: JobShape) -> RouteDecision:
        """Route a job shape, or raise :class:`RoutingError` for a declaration no route can hold."""
        self._refuse_impossible(shape)
        runtime = shape.runtime
        rt = format_duration(runtime) if runtime is not None else None
        ceiling, budget = format_duration(self.ceiling), format_duration(self.dispatch_budget)
        if shape.stateful is None:
            history = (
                "history: kept by the platform when the prompt names a conversation_id (stateful), "
                "else carried by the prompt (stateless)"
            )
        elif shape.stateful:
            history = "the platform keeps the history (stateful conversation)"
        else:
            history = "the platform keeps no history (stateless: the prompt carries it)"
        if shape.route is not None:
            return self._forced(shape, history)
        if shape.interactive:
            return RouteDecision(
                Route.COMPLETE,
                (
                    "the reply is needed in the same call (interactive): a completion",
                    history,
                    f"runtime {rt or 'not declared'} fits the ~{format_duration(self.completion_bound)} bound "
                    "of one completion call",
                ),
            )
        reasons: list[str] = ["the reply is not needed in the same call: background work"]
        if shape.schedule is not None:
            reasons.append(f"it runs on a schedule ({shape.schedule}): only tasks are schedulable")
            return RouteDecision(Route.TASK, (*reasons, self._cancel_reason(shape)))
        if shape.cancellable:
            reasons.append("it must be cancellable: a dispatch cannot be cancelled, a task can")
            return RouteDecision(Route.TASK, (*reasons, self._runtime_reason(runtime)))
        if runtime is not None and runtime > self.dispatch_budget:
            reasons.append(
                f"runtime {rt} exceeds the dispatch ceiling {ceiling} x headroom {self.headroom:g} = {budget}: "
                "a task (runs for hours)"
            )
            return RouteDecision(Route.TASK, (*reasons, "not required to be cancellable (a task is anyway)"))
        reasons.append(
            f"runtime {rt} is within the dispatch budget {budget} (ceiling {ceiling} x headroom {self.headroom:g})"
            if runtime is not None
            else f"no runtime declared: assumed {format_duration(self.default_runtime)}, within the dispatch "
            f"budget {budget}"
        )
        reasons.append(
            "not required to be cancellable: a dispatch (background completion, progress on a channel)"
        )
        reasons.append(history)
        return RouteDecision(Route.DISPATCH, tuple(reasons))

    def _runtime_reason(self, runtime: timedelta | None) -> str:
        if runtime is None:
            return "no runtime declared"
        return f"runtime {format_duration(runtime)} (a task's maxTime)"

    def _cancel_reason(self, shape: JobShape) -> str:
        return "cancellable" if shape.cancellable else "cancellable on the platform (tasks always are)"

    def _forced(self, shape: JobShape, history: str) -> RouteDecision:
        route = shape.route
        assert route is not None
        warnings: list[str] = []
        reasons = [f"route {route.value} was declared explicitly"]
        if route is Route.DISPATCH:
            reasons.append(history)
            if shape.runtime is not None and shape.runtime > self.dispatch_budget:
                warnings.append(
                    f"runtime {format_duration(shape.runtime)} leaves less than "
                    f"{1 - self.headroom:.0%} headroom under the {format_duration(self.ceiling)} ceiling: "
                    "consider a task"
                )
        elif route is Route.COMPLETE:
            reasons.append("the reply is returned by the completion call itself")
            reasons.append(history)
        else:
            reasons.append(self._runtime_reason(shape.runtime))
        return RouteDecision(route, tuple(reasons), tuple(warnings))

    def _refuse_impossible(self, shape: JobShape) -> None:
        name = shape.name
        forced, runtime = shape.route, shape.runtime
        if forced is Route.DISPATCH:
            if runtime is not None and runtime > self.ceiling:
                raise RoutingError(
                    f"job {name!r}: a dispatch is killed at the {format_duration(self.ceiling)} ceiling, but the "
                    f"declared runtime is {format_duration(runtime)}. Declare route='task' (or drop route=) "
                    "to run it as a task, which runs for hours"
                )
            if shape.cancellable:
                raise RoutingError(
                    f"job {name!r}: a dispatch cannot be cancelled once queued, but cancellable=True was declared. "
                    "Declare route='task' (or drop route=) to get a cancellable task"
                )
        if forced in (Route.DISPATCH, Route.COMPLETE) and shape.schedule is not None:
            raise RoutingError(
                f"job {name!r}: only tasks are schedulable, but route={forced.value!r} was declared with "
                f"schedule={shape.schedule!r}. Drop route= (a schedule implies a task)"
            )
        if forced is Route.TASK and shape.interactive:
            raise RoutingError(
                f"job {name!r}: an interactive job replies in the same call, which a task cannot. "
                "Drop interactive=True, or drop route='task'"
            )
        if shape.interactive or forced is Route.COMPLETE:
            if shape.cancellable:
                raise RoutingError(
                    f"job {name!r}: an interactive completion cannot be cancelled on the platform (only its "
                    "stream can be closed). Drop cancellable=True, or make it a background job (a task)"
                )
            if shape.schedule is not None:
                raise RoutingError(
                    f"job {name!r}: an interactive job cannot run on a schedule. Drop interactive=True "
                    "(a schedule implies a task)"
                )
            if runtime is not None and runtime > self.completion_bound:
                raise RoutingError(
                    f"job {name!r}: one completion call is bounded to ~{format_duration(self.completion_bound)}, "
                    f"but the declared runtime is {format_duration(runtime)}. Drop interactive=True to run it "
                    "in the background (a dispatch or a task)"
                )
