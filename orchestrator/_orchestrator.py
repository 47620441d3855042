"""The :class:`Orchestrator`: the facade users declare jobs on, enter, and start, await and cancel jobs through.

It composes the parts of :class:`orchestrator.runtime.Runtime` (admission, the run loop, leases, retention,
schedules) over a platform client and a store it opens on entry; planning (``orc.plan``) builds on the same
runtime. See ARCHITECTURE.md for the layers and the flow of a job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, Unpack, overload

import structlog

from ._clock import Clock, SystemClock
from ._duration import Duration, parse_duration, positive_duration
from ._opening import close_runtime, default_replica_id, open_runtime
from .jobs import (
    AdaptiveRouter,
    Job,
    JobArgs,
    JobFunction,
    JobHandle,
    JobOptions,
    RoutingPolicy,
    RoutingReport,
)
from .jobs import decorate as decorate_job
from .planning import PlanHandle, PlanPolicy, approvers_of, install, plan_runs_of, start_plan
from .platform import PlatformClient
from .runtime import Runtime, RuntimeConfig, ScheduleManager
from .store import JobStore
from .supervise import SupervisorContext

if TYPE_CHECKING:
    from .local import LocalPlatform

__all__ = ["Orchestrator"]

log = structlog.get_logger("orchestrator")
P = ParamSpec("P")
A = TypeVar("A", bound=Callable[..., Any])


class Orchestrator:
    """Runs declared jobs on the agent platform, supervised, durable across restarts and replicas.

    Args:
        platform: a :class:`PlatformClient` or a :class:`LocalPlatform` (either is closed with the orchestrator), or
            ``None``: ``PlatformClient.from_env()`` when ``CHATBOTKIT_API_TOKEN`` is set, else an embedded local
            platform on this orchestrator's clock.
        store: a store URL (``memory://``, ``sqlite:///path``, ``postgresql://...``) or a :class:`JobStore`;
            ``None`` reads ``ORCHESTRATOR_STORE``, else SQLite at ``.orchestrator/jobs.sqlite3``.
        clock: the clock every wait uses (``VirtualClock`` in tests); defaults to the platform's, else system time.
        routing: the routing rule (ceiling, headroom).
        jobs: jobs declared with the module-level ``@job`` to register.
        max_concurrency: at most this many jobs run at once in this process (excess starts wait, in order).
        replica_id: this process's name in leases (default: host-pid-random).
        lease: how long a replica's claim on its in-flight jobs lasts without renewal.
        grace: how long after the ceiling a silent dispatch is declared killed.
        retention: finished jobs and their events are pruned after this long; also the expiry of one-off tasks.
            Durations take a ``timedelta``, seconds, or a string such as ``"30s"`` (like a job's ``runtime``).
    """

    def __init__(
        self,
        *,
        platform: PlatformClient | LocalPlatform | None = None,
        store: str | JobStore | None = None,
        clock: Clock | None = None,
        routing: RoutingPolicy | None = None,
        jobs: Sequence[Job[Any]] | None = None,
        max_concurrency: int | None = None,
        replica_id: str | None = None,
        lease: Duration = timedelta(seconds=30),
        grace: Duration = timedelta(seconds=60),
        retention: Duration = timedelta(days=7),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1 (or None for no limit)")
        self._platform_arg = platform
        self._store_arg = store
        self._environ = environ
        platform_clock = getattr(platform, "clock", None)
        config = RuntimeConfig(
            clock=clock or platform_clock or SystemClock(),
            routing=routing or RoutingPolicy(),
            replica_id=replica_id or default_replica_id(),
            lease=positive_duration(lease, what="lease"),
            grace=parse_duration(grace, what="grace"),
            retention=parse_duration(retention, what="retention"),
            max_concurrency=max_concurrency,
        )
        self.runtime = Runtime(config, owner=self)
        self.clock: Clock = self.runtime.clock
        self.routing = self.runtime.routing
        self.replica_id = self.runtime.replica_id
        self.schedules: ScheduleManager = self.runtime.schedules
        self._stack: AsyncExitStack | None = None
        install(self)  # the planning job, so that a restart can rebuild a planning run's live tool
        plan_runs_of(self.runtime)  # runs of recurring plan tasks become child jobs of their plan
        approvers_of(self)  # plans held for a named approver registered here are re-attached on entry
        for j in jobs or ():
            self.register(j)

    def __repr__(self) -> str:
        rt = self.runtime
        return f"<Orchestrator replica={self.replica_id} state={rt.state.value} jobs={sorted(rt.jobs)}>"

    # -- declaring ----------------------------------------------------------------------------------------

    @overload
    def job(self, fn: JobFunction[P], /) -> Job[P]: ...
    @overload
    def job(self, /, **options: Unpack[JobArgs]) -> Callable[[JobFunction[P]], Job[P]]: ...
    def job(self, fn: Callable[..., Any] | None = None, /, **options: Unpack[JobArgs]) -> Any:
        """Declare a job on this orchestrator; validated and routed now (:class:`RoutingError` if impossible).

        The options (:class:`orchestrator.jobs.JobArgs`): ``runtime``, ``cancellable``, ``schedule``,
        ``timezone``, ``interactive``, ``route``, ``name``, ``max_concurrency``, ``retries``, ``timeout``,
        ``on_ceiling``, ``max_continuations``; the module-level ``@job`` takes the same.
        """
        opts = JobOptions.of(options)

        def decorate(f: Callable[..., Any]) -> Job[Any]:
            j = decorate_job(f, opts, self.routing)
            self.register(j)
            return j

        return decorate(fn) if fn is not None else decorate

    def register(self, j: Job[Any]) -> None:
        """Register a job declared with the module-level ``@job``."""
        self.runtime.register(j)

    def approver(self, name: str) -> Callable[[A], A]:
        """Register a plan approver under ``name``: ``orc.plan(..., approver=name)`` then stores the name, so that
        a restarted orchestrator (or another replica) that registers the same name re-attaches it.

        The approver is called with the held tasks once the plan is complete (sync, in a worker thread, or async)
        and returns ``True`` (approve all), ``False`` (reject all) or the tasks (or names) to approve.
        """
        return approvers_of(self.runtime).register(name)

    @property
    def adaptive(self) -> AdaptiveRouter:
        """The adaptive routing decisions as this orchestrator last read them from the store."""
        return self.runtime.adaptive

    @property
    def running(self) -> bool:
        """Whether the orchestrator is inside ``async with``."""
        return self.runtime.running

    @property
    def jobs(self) -> Mapping[str, Job[Any]]:
        """The declared jobs by name."""
        return dict(self.runtime.jobs)

    # -- lifecycle ----------------------------------------------------------------------------------------

    @property
    def store(self) -> JobStore:
        return self.runtime.store

    @property
    def client(self) -> PlatformClient:
        return self.runtime.client

    @property
    def context(self) -> SupervisorContext:
        return self.runtime.context

    async def __aenter__(self) -> Orchestrator:
        self._stack = await open_runtime(
            self.runtime, self._platform_arg, self._store_arg, environ=self._environ
        )
        log.info(
            "orchestrator started", replica=self.replica_id, store=self.store.url, jobs=len(self.runtime.jobs)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        stack, self._stack = self._stack, None
        await close_runtime(self.runtime, stack)
        log.info("orchestrator stopped", replica=self.replica_id)

    # -- what a Job uses (orchestrator.jobs.JobRuntime) ---------------------------------------------------

    async def start_job(self, j: Job[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> JobHandle:
        """Record ``j`` with these arguments and start it (what ``j.start(*args, **kwargs)`` does)."""
        return await self.runtime.start_job(j, args, kwargs)

    async def cancel_job(self, job_id: str) -> None:
        """Cancel a job by id (what ``handle.cancel()`` does)."""
        await self.runtime.cancel_job(job_id)

    async def trigger_scheduled(self, j: Job[Any]) -> JobHandle:
        """Run a scheduled job once, now (what ``j.trigger_now()`` does)."""
        return await self.runtime.trigger_scheduled(j)

    # -- handles, plans, reports ----------------------------------------------------------------------------

    def get_handle(self, job_id: str) -> JobHandle:
        """A handle on any job in the store, by id (from this or any other process sharing the store).

        ``job_name`` and ``route`` are filled from what this process knows; ``await orc.load_handle(id)``
        reads them from the store.
        """
        return self.runtime.get_handle(job_id)

    async def load_handle(self, job_id: str) -> JobHandle:
        """A handle on a job, read from the store (:class:`UsageError` if there is no such job)."""
        return await self.runtime.load_handle(job_id)

    def routing_report(self) -> RoutingReport:
        """Observed p50/p95 durations of each declared job against its declared runtime and the ceiling."""
        rows = [(j.name, j.route, j.definition.runtime) for j in self.runtime.jobs.values()]
        return self.runtime.adaptive.annotate(self.runtime.stats.report(rows, self.routing))

    async def plan(
        self,
        request: str,
        *,
        bot_id: str | None = None,
        backstory: str | None = None,
        policy: PlanPolicy | None = None,
        key: str | None = None,
        approve: Callable[..., Any] | None = None,
        require_approval: bool = False,
        approver: str | None = None,
    ) -> PlanHandle:
        """Start a planning dispatch that breaks ``request`` into scheduled tasks (see :mod:`orchestrator.planning`).

        ``approve=`` is a callable deciding the held tasks in this process; ``approver=`` the name of one registered
        with :meth:`approver`, re-attached by whichever orchestrator opens on the store if this one stops.
        """
        self.runtime.require_open()
        return await start_plan(
            self,
            request,
            bot_id=bot_id,
            backstory=backstory,
            policy=policy,
            key=key,
            approve=approve,
            require_approval=require_approval,
            approver=approver,
        )
