"""What every part of the runtime shares: configuration, the job registry, and what is open while running.

:class:`Shared` is the lowest module of ``orchestrator.runtime``: the parts (slots aside) take it, plus the other
parts they call, as constructor arguments, and :class:`~._core.Runtime` extends it with those parts.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio.abc

from .._clock import Clock
from .._errors import UsageError
from ..jobs import AdaptiveRouter, DurationStats, Job, Prompt, Route, RoutingPolicy, build_spec
from ..platform import PlatformClient
from ..store import JobStore
from ..supervise import SupervisorContext

__all__ = ["RuntimeConfig", "RuntimeState", "Shared"]


class RuntimeState(enum.Enum):
    """Where an orchestrator is in its life: declared, inside ``async with``, or exited (never re-entered)."""

    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """How one orchestrator runs (the ``Orchestrator`` arguments of the same names).

    Attributes:
        clock: the clock every wait uses.
        routing: the routing policy jobs are routed under.
        replica_id: this process's name in leases.
        lease: how long a claim on in-flight jobs lasts without renewal.
        grace: how long after the ceiling a silent dispatch is declared killed.
        retention: how long finished jobs are kept; also the expiry of one-off tasks.
        max_concurrency: at most this many jobs at once in this process (``None``: no limit).
    """

    clock: Clock
    routing: RoutingPolicy
    replica_id: str
    lease: timedelta = timedelta(seconds=30)
    grace: timedelta = timedelta(seconds=60)
    retention: timedelta = timedelta(days=7)
    max_concurrency: int | None = None


class Shared:
    """The configuration, the registry and the opened services of one orchestrator."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.clock = config.clock
        self.routing = config.routing
        self.replica_id = config.replica_id
        self.lease = config.lease.total_seconds()
        self.grace = config.grace.total_seconds()
        self.retention = config.retention
        self.state = RuntimeState.NEW
        self.jobs: dict[str, Job[Any]] = {}
        self.known: dict[str, tuple[str, Route]] = {}  # job id -> (job name, route), for handles by id
        self.supervising: set[str] = set()  # job ids supervised (or reserved) in this process
        self.task_group: anyio.abc.TaskGroup | None = None
        self.stats = DurationStats()
        self.adaptive = AdaptiveRouter(config.routing)
        # what a layer above (planning) starts when the runtime opens, after recovery: followers, keepers
        self.on_open: list[Callable[[anyio.abc.TaskGroup], Awaitable[None]]] = []
        self.addons: dict[str, object] = {}  # a layer above's per-runtime state, by name (see planning)
        self.opened_store: JobStore | None = None
        self._client: PlatformClient | None = None
        self._ctx: SupervisorContext | None = None

    # -- the registry ---------------------------------------------------------------------------------------

    def remember(self, job_id: str, job_name: str, route: Route) -> None:
        """Note a job's name and route, so that ``get_handle(id)`` fills them in."""
        self.known[job_id] = (job_name, route)

    # -- what is open while running -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the orchestrator is inside ``async with``."""
        return self.state is RuntimeState.OPEN

    @property
    def store(self) -> JobStore:
        if self.opened_store is None:
            raise UsageError("the orchestrator is not running: use `async with orc:` first")
        return self.opened_store

    @property
    def client(self) -> PlatformClient:
        if self._client is None:
            raise UsageError("the orchestrator is not running: use `async with orc:` first")
        return self._client

    @property
    def context(self) -> SupervisorContext:
        if self._ctx is None:
            raise UsageError("the orchestrator is not running: use `async with orc:` first")
        return self._ctx

    def require_open(self) -> None:
        """Raise :class:`UsageError` unless jobs can start now."""
        if self.state is not RuntimeState.OPEN:
            raise UsageError(
                "the orchestrator is not running: start jobs inside `async with orc:`"
                if self.state is RuntimeState.NEW
                else "the orchestrator was closed: create a new Orchestrator"
            )

    def build_spec(
        self,
        j: Job[Any],
        prompt: Prompt,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        route: Route | None = None,
    ) -> dict[str, Any]:
        """The stored platform request of one run of ``j`` (see :func:`orchestrator.jobs.build_spec`); ``route``:
        where adaptive routing sends this run, when not the declared route."""
        moved = route is not None and route is not j.route
        return build_spec(
            j,
            prompt,
            args,
            kwargs,
            now=self.clock.time(),
            default_runtime=self.routing.default_runtime,
            retention=self.retention,
            policy=self.routing,
            route=route,
            max_time=self.adaptive.task_max_time(j.name, j.definition.runtime, j.definition.timeout)
            if moved
            else None,
        )
