"""The :class:`Runtime`: what one orchestrator's parts share, and the job services handles use.

The ``Orchestrator`` is a facade over one ``Runtime``. The runtime holds the configuration (clock, routing policy,
replica id, lease, grace, retention), the registry of declared jobs, and, while running, the opened store, platform
client, supervisor context and task group. It composes the named parts, each a module of its own: the concurrency
:class:`~._slots.Slots`, :class:`~._admission.Admission` (record before the call), the :class:`~._runloop.RunLoop`
(spawn, supervise, retry, finish), the :class:`~._leases.Leases` (claim and recovery), retention pruning and the
:class:`~._schedules.ScheduleManager`. It implements :class:`~orchestrator.jobs.JobRuntime`, so that jobs and
handles depend on that protocol only, and planning builds on the runtime, never on the facade.
"""

from __future__ import annotations

from typing import Any, Protocol

import anyio.abc

from .._errors import RoutingError, UsageError
from ..jobs import Job, JobHandle, JobRuntime, Route, rebind_policy
from ..platform import PlatformClient
from ..store import JobStore
from ..supervise import SupervisorContext, TaskTracker
from ._admission import Admission
from ._cancel import cancel_job
from ._finish import Finisher
from ._leases import Leases
from ._retention import prune_loop
from ._runloop import RunLoop
from ._schedules import ScheduleManager
from ._slots import Slots
from ._state import RuntimeConfig, RuntimeState, Shared

__all__ = ["Runtime", "RuntimeConfig", "RuntimeOwner", "RuntimeState"]


class RuntimeOwner(Protocol):
    """What has a runtime: an ``Orchestrator`` (``orc.runtime``), or a :class:`Runtime` itself."""

    @property
    def runtime(self) -> Runtime: ...


class Runtime(Shared):
    """The shared state and the parts of one orchestrator (see the module docstring)."""

    def __init__(self, config: RuntimeConfig, *, owner: JobRuntime | None = None) -> None:
        super().__init__(config)
        # what registered jobs are bound to (``job.orchestrator``): the Orchestrator facade, else this runtime
        self.owner: JobRuntime = owner if owner is not None else self
        self.slots = Slots(config.max_concurrency)
        self.finisher = Finisher(self)
        self.runs = RunLoop(self, self.slots, self.finisher)
        self.admission = Admission(self, self.slots, self.finisher, self.runs)
        self.leases = Leases(self, self.finisher, self.runs)
        self.schedules = ScheduleManager(self, self.runs)

    @property
    def runtime(self) -> Runtime:
        """This runtime (so that planning's entry points take an ``Orchestrator`` or its runtime alike)."""
        return self

    def register(self, j: Job[Any]) -> None:
        """Register a declared job (routed again under this runtime's policy if it was declared elsewhere)."""
        if not isinstance(j, Job):
            raise RoutingError(f"{j!r} is not a job: decorate it with @job(...) or @orc.job(...)")
        if j.name in self.jobs and self.jobs[j.name] is not j:
            raise RoutingError(f"a job named {j.name!r} is already declared: give one of them name='...'")
        if self.state is RuntimeState.OPEN and j.definition.schedule is not None:
            raise UsageError(f"declare scheduled job {j.name!r} before entering `async with orc`")
        if j.registered_with is not self.owner:
            rebind_policy(j, self.routing)
        j.bind(self.owner)
        self.jobs[j.name] = j

    async def open(self, client: PlatformClient, store: JobStore, tg: anyio.abc.TaskGroup) -> None:
        """Start the parts on an opened platform client and store, in ``tg``: schedules, recovery, leases, pruning."""
        self._client = client
        self.opened_store = store
        tracker = TaskTracker(client, self.clock)
        self._ctx = SupervisorContext(
            store=store,
            client=client,
            clock=self.clock,
            policy=self.routing,
            tracker=tracker,
            grace=self.grace,
        )
        for name in self.jobs:
            self.stats.load(name, await store.durations(name))
            if self.routing.adaptive:
                await self.adaptive.read(store, name)
        self.task_group = tg
        tg.start_soon(tracker.run)
        await self.schedules.open(tg)
        await self.leases.claim()
        for hook in self.on_open:
            await hook(tg)
        tg.start_soon(self.leases.run)
        tg.start_soon(prune_loop, self)

    def close(self) -> None:
        self.state = RuntimeState.CLOSED
        self.task_group = None

    # -- the job services (``JobRuntime``) ------------------------------------------------------------------

    async def start_job(self, j: Job[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> JobHandle:
        record = await self.admission.start_job(j, args, kwargs)
        return JobHandle(self, record.id, j.name, Route(record.route))

    async def cancel_job(self, job_id: str) -> None:
        await cancel_job(self, self.finisher, job_id)

    async def trigger_scheduled(self, j: Job[Any]) -> JobHandle:
        self.require_open()
        record = await self.schedules.trigger_now(j)
        return JobHandle(self, record.id, j.name, j.route)

    def get_handle(self, job_id: str) -> JobHandle:
        name, route = self.known.get(job_id, ("", Route.DISPATCH))
        return JobHandle(self, job_id, name, route)

    async def load_handle(self, job_id: str) -> JobHandle:
        record = await self.store.get_job(job_id)
        if record is None:
            raise UsageError(f"no job {job_id!r} in the store {self.store.url}")
        self.remember(job_id, record.job_name, Route(record.route))
        return JobHandle(self, job_id, record.job_name, Route(record.route))
