"""Adaptive routing: a dispatch job whose observed p95 nears the ceiling runs as a task, and comes back.

With ``RoutingPolicy(adaptive=True)``, after each run of a job declared as a dispatch the p95 of its last
``adaptive_window`` finished runs (the store's durations: every replica's runs) is compared with two marks:

- over the *high* mark (``ceiling x headroom``, 12 minutes by default) while it goes as a dispatch: its next runs go
  as **tasks** (no ceiling);
- under the *low* mark (``ceiling x adaptive_low``, 9 minutes) while it goes as a task: back to **dispatch**.

Between the marks nothing changes (hysteresis, so that a job near one mark does not flap). The decision and its
evidence are kept in the store's metadata (``adaptive-route:<job>``), so every replica routes alike; the decision
is taken under the store's lock, together with recording the run finished (runs that end together each count the
ones before), and a change is logged once, by the replica that made it. ``job.explain()``, the routing report
and ``orchestrator routes --store URL`` show it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog

from .._duration import format_duration
from ._events import EventType
from ._report import RoutingReport, percentile
from ._routing import Route, RouteDecision, RoutingPolicy

if TYPE_CHECKING:
    from .._clock import Clock
    from ..store import JobStore

__all__ = ["AdaptiveDecision", "AdaptiveRouter", "meta_key"]

log = structlog.get_logger("orchestrator.routing")


def meta_key(job_name: str) -> str:
    """The store metadata key of a job's adaptive routing decision."""
    return f"adaptive-route:{job_name}"


@dataclass(frozen=True, slots=True)
class AdaptiveDecision:
    """Where adaptive routing sends a job's next runs, and the evidence it decided on."""

    route: Route
    previous: Route
    p95: float
    samples: int
    mark: float
    decided_at: float

    def describe(self) -> str:
        if self.route is Route.TASK:
            return (
                f"adaptive: observed p95 {format_duration(self.p95)} over the last {self.samples} runs passed "
                f"the {format_duration(self.mark)} mark: its runs go as tasks until p95 falls back"
            )
        return (
            f"adaptive: observed p95 {format_duration(self.p95)} over the last {self.samples} runs fell under "
            f"the {format_duration(self.mark)} mark: back to dispatch"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route.value,
            "previous": self.previous.value,
            "p95": self.p95,
            "samples": self.samples,
            "mark": self.mark,
            "decided_at": self.decided_at,
        }

    @classmethod
    def from_dict(cls, data: Any) -> AdaptiveDecision | None:
        if not isinstance(data, Mapping):
            return None
        try:
            return cls(
                route=Route(data["route"]),
                previous=Route(data["previous"]),
                p95=float(data["p95"]),
                samples=int(data["samples"]),
                mark=float(data["mark"]),
                decided_at=float(data["decided_at"]),
            )
        except (KeyError, ValueError, TypeError):
            return None


class AdaptiveRouter:
    """One orchestrator's view of the adaptive decisions (the store holds them; this caches the last read)."""

    def __init__(self, policy: RoutingPolicy) -> None:
        self.policy = policy
        self._cache: dict[str, AdaptiveDecision] = {}

    def marks(self) -> tuple[float, float]:
        """``(low, high)`` in seconds: back to dispatch under low, to task over high."""
        ceiling = self.policy.ceiling.total_seconds()
        return ceiling * self.policy.adaptive_low, ceiling * self.policy.headroom

    def applies(self, declared: RouteDecision, forced: Route | None) -> bool:
        """Whether adaptive routing may move this job (only a dispatch chosen by the rule, not a forced one)."""
        return self.policy.adaptive and declared.route is Route.DISPATCH and forced is None

    async def read(self, store: JobStore, job_name: str) -> AdaptiveDecision | None:
        decision = AdaptiveDecision.from_dict(await store.get_meta(meta_key(job_name)))
        if decision is None:
            self._cache.pop(job_name, None)
        else:
            self._cache[job_name] = decision
        return decision

    async def route_for(self, store: JobStore, job_name: str, declared: Route) -> Route:
        """The route of a new run: the stored adaptive decision, else the declared route."""
        decision = await self.read(store, job_name)
        return declared if decision is None else decision.route

    async def observe(
        self, store: JobStore, job_name: str, now: float, *, pending: float | None = None
    ) -> AdaptiveDecision | None:
        """Re-decide after a run of ``job_name`` ended; the new decision when it changed, else ``None``.

        The caller holds ``store.lock(meta_key(job_name))`` (so that replicas decide one at a time, and a change is
        made, and logged, once).

        Args:
            pending: the duration of a run that ended but is not recorded finished yet (it counts as the newest).
        """
        window = self.policy.adaptive_window
        if pending is None:
            durations = await store.durations(job_name, limit=window)
        else:
            durations = [pending, *(await store.durations(job_name, limit=window - 1) if window > 1 else [])]
        if len(durations) < window:
            return None
        p95 = percentile(durations, 0.95)
        assert p95 is not None
        low, high = self.marks()
        current = await self.read(store, job_name)
        new_route = self._change(current, p95)
        if new_route is None:
            return None
        previous = Route.DISPATCH if current is None else current.route
        decision = AdaptiveDecision(
            route=new_route,
            previous=previous,
            p95=p95,
            samples=len(durations),
            mark=high if new_route is Route.TASK else low,
            decided_at=now,
        )
        await store.set_meta(meta_key(job_name), decision.to_dict())
        self._cache[job_name] = decision
        log.info(
            "adaptive routing changed",
            job=job_name,
            route=decision.route.value,
            previous=previous.value,
            p95=round(p95, 3),
            samples=decision.samples,
            mark=decision.mark,
        )
        return decision

    @asynccontextmanager
    async def finishing(
        self, store: JobStore, job_id: str, job_name: str, clock: Clock, *, started: float | None
    ) -> AsyncIterator[None]:
        """Around recording a run of an adaptive job finished (``started``: when it started; ``None``: not adaptive).

        The decision is taken on the run's duration before the job is seen finished (so that a start after
        ``result()`` returned goes by it), and the finish is recorded under the decision's store lock (so that
        runs ending together each count the ones before). A change is logged in the job's log too.
        """
        if started is None:
            yield
            return
        async with store.lock(meta_key(job_name)):
            now = clock.time()
            changed = await self.observe(store, job_name, now, pending=now - float(started))
            if changed is not None:
                data = {"message": changed.describe(), **changed.to_dict()}
                await store.append_event(job_id, EventType.ROUTING_CHANGED, data, key="routing")
            yield

    def _change(self, current: AdaptiveDecision | None, p95: float) -> Route | None:
        low, high = self.marks()
        route = Route.DISPATCH if current is None else current.route
        if route is Route.DISPATCH and p95 > high:
            return Route.TASK
        if route is Route.TASK and p95 < low:
            return Route.DISPATCH
        return None

    def task_max_time(self, job_name: str, runtime: timedelta | None, timeout: timedelta | None) -> timedelta:
        """The ``maxTime`` of a moved job's task run: the timeout, else the longest of the declared runtime, the
        observed p95 and the ceiling, over the headroom (its runs take longer than it declared)."""
        if timeout is not None:
            return timeout
        adaptive = self._cache.get(job_name)
        observed = timedelta(seconds=adaptive.p95) if adaptive is not None else timedelta(0)
        longest = max(runtime or self.policy.default_runtime, observed, self.policy.ceiling)
        return longest / self.policy.headroom

    def cached(self, job_name: str) -> AdaptiveDecision | None:
        return self._cache.get(job_name)

    def explain(self, job_name: str, decision: RouteDecision) -> RouteDecision:
        """``decision`` with the adaptive move, when the last read decision moved the job."""
        adaptive = self._cache.get(job_name)
        if adaptive is None or decision.route is not Route.DISPATCH:
            return decision
        return replace(decision, route=adaptive.route, adaptive=adaptive.describe())

    def annotate(self, report: RoutingReport) -> RoutingReport:
        """The routing report with each moved job's adaptive decision."""
        rows = []
        for row in report.rows:
            adaptive = self._cache.get(row.job)
            if adaptive is not None and row.route is Route.DISPATCH:
                row = replace(row, route=adaptive.route, adaptive=adaptive.describe())
            rows.append(row)
        return RoutingReport(tuple(rows))
