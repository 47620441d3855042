"""Runtime learning: observed durations per job against the declared runtime and the dispatch ceiling."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from .._duration import format_duration
from ._routing import Route, RoutingPolicy

__all__ = ["DurationStats", "RoutingReport", "RoutingReportRow", "percentile"]

ADVICE_FRACTION = 0.8


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by linear interpolation, or ``None`` for no values."""
    data = sorted(values)
    if not data:
        return None
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


@dataclass(frozen=True, slots=True)
class RoutingReportRow:
    """One job's observed runtimes against its declaration."""

    job: str
    route: Route
    declared_runtime: timedelta | None
    samples: int
    p50: timedelta | None
    p95: timedelta | None
    ceiling: timedelta
    advice: str | None
    adaptive: str | None = None
    """What adaptive routing decided, when it moved the job (``route`` is then the route it goes by)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "job": self.job,
            "route": self.route.value,
            "declared_runtime": None
            if self.declared_runtime is None
            else self.declared_runtime.total_seconds(),
            "samples": self.samples,
            "p50": None if self.p50 is None else self.p50.total_seconds(),
            "p95": None if self.p95 is None else self.p95.total_seconds(),
            "ceiling": self.ceiling.total_seconds(),
            "advice": self.advice,
            "adaptive": self.adaptive,
        }


@dataclass(frozen=True, slots=True)
class RoutingReport:
    """p50/p95 of observed durations per job (``str()`` prints a table)."""

    rows: tuple[RoutingReportRow, ...]

    def __str__(self) -> str:
        def fmt(value: timedelta | None) -> str:
            return "-" if value is None else format_duration(value)

        header = f"{'job':<28} {'route':<9} {'declared':>9} {'n':>5} {'p50':>8} {'p95':>8}  advice"
        lines = [header, "-" * len(header)]
        for r in self.rows:
            lines.append(
                f"{r.job:<28} {r.route.value:<9} {fmt(r.declared_runtime):>9} {r.samples:>5} "
                f"{fmt(r.p50):>8} {fmt(r.p95):>8}  {r.adaptive or r.advice or ''}"
            )
        return "\n".join(lines)

    def row(self, job: str) -> RoutingReportRow:
        for r in self.rows:
            if r.job == job:
                return r
        raise KeyError(job)


class DurationStats:
    """The last ``window`` observed durations (seconds) of each job."""

    def __init__(self, window: int = 500) -> None:
        self._window = window
        self._data: dict[str, deque[float]] = {}

    def load(self, job: str, durations_newest_first: Iterable[float]) -> None:
        self._data[job] = deque(reversed(list(durations_newest_first)), maxlen=self._window)

    def add(self, job: str, seconds: float) -> None:
        self._data.setdefault(job, deque(maxlen=self._window)).append(seconds)

    def p95(self, job: str) -> float | None:
        return percentile(self._data.get(job, ()), 0.95)

    def advice(self, job: str, route: Route, policy: RoutingPolicy) -> str | None:
        """Advice when a dispatch job's p95 passes 80% of the ceiling."""
        ceiling = policy.ceiling.total_seconds()
        data = self._data.get(job)
        # checked on every finished run: no sort unless some duration is over the line (p95 cannot be otherwise)
        if route is not Route.DISPATCH or not data or max(data) <= ADVICE_FRACTION * ceiling:
            return None
        p95 = self.p95(job)
        if p95 is not None and p95 > ADVICE_FRACTION * ceiling:
            return (
                f"p95 {format_duration(p95)} is over {ADVICE_FRACTION:.0%} of the {format_duration(ceiling)} dispatch "
                "ceiling: declare a longer runtime or cancellable=True so that it runs as a task"
            )
        return None

    def report(
        self, jobs: Iterable[tuple[str, Route, timedelta | None]], policy: RoutingPolicy
    ) -> RoutingReport:
        rows = []
        for name, route, runtime in jobs:
            data = self._data.get(name, ())
            p50, p95 = percentile(data, 0.5), percentile(data, 0.95)
            rows.append(
                RoutingReportRow(
                    job=name,
                    route=route,
                    declared_runtime=runtime,
                    samples=len(data),
                    p50=None if p50 is None else timedelta(seconds=p50),
                    p95=None if p95 is None else timedelta(seconds=p95),
                    ceiling=policy.ceiling,
                    advice=self.advice(name, route, policy),
                )
            )
        return RoutingReport(tuple(rows))
