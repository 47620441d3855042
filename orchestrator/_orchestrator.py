"""The :class:`Orchestrator`: declares jobs, starts them on the platform, supervises them, resumes them."""

from __future__ import annotations

import enum
import json
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, overload

import anyio
import anyio.abc
import structlog

from ._clock import Clock, SystemClock, move_on_after
from ._errors import NotCancellable, OrchestratorError, PlatformError, RoutingError, UsageError
from ._scheduling import ScheduleManager
from .jobs._adaptive import AdaptiveRouter
from .jobs._bounds import CeilingPolicy, task_fields, task_max_time
from .jobs._definition import Job, JobFunction, P, _decorate, _JobOptions, rebind_policy
from .jobs._events import EventType
from .jobs._handle import JobHandle
from .jobs._prompt import Prompt
from .jobs._report import DurationStats, RoutingReport
from .jobs._routing import Route, RoutingPolicy
from .platform import PlatformClient
from .store import JobStore, open_store
from .store._protocol import JobRecord, JobStatus
from .supervise._complete import CompletionSupervisor
from .supervise._context import Outcome, SupervisorContext, excerpt
from .supervise._continue import after_ceiling, join_parts
from .supervise._dispatch import DispatchSupervisor
from .supervise._launch import launch
from .supervise._task import TaskSupervisor, TaskTracker

if TYPE_CHECKING:
    from .jobs._prompt import Tool
    from .local import LocalPlatform
    from .planning import PlanHandle, PlanPolicy

__all__ = ["Orchestrator"]

log = structlog.get_logger("orchestrator")
A = TypeVar("A", bound=Callable[..., Any])


class _State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


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
        lease: timedelta = timedelta(seconds=30),
        grace: timedelta = timedelta(seconds=60),
        retention: timedelta = timedelta(days=7),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1 (or None for no limit)")
        self._platform_arg = platform
        self._store_arg = store
        platform_clock = getattr(platform, "clock", None)
        self.clock: Clock = clock or platform_clock or SystemClock()
        self.routing = routing or RoutingPolicy()
        self._environ = environ
        self.replica_id = replica_id or f"{os.uname().nodename}-{os.getpid()}-{secrets.token_hex(3)}"
        self._lease = lease.total_seconds()
        self._grace = grace.total_seconds()
        self._retention = retention
        self._jobs: dict[str, Job[Any]] = {}
        self._max_concurrency = max_concurrency
        self._state = _State.NEW
        self._stack: AsyncExitStack | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._store: JobStore | None = None
        self._client: PlatformClient | None = None
        self._ctx: SupervisorContext | None = None
        self._running: set[str] = set()
        self._limiters: dict[str, anyio.CapacityLimiter] = {}
        self._global_limiter = anyio.CapacityLimiter(max_concurrency) if max_concurrency else None
        self._stats = DurationStats()
        self.adaptive = AdaptiveRouter(self.routing)
        self._known: dict[str, tuple[str, Route]] = {}
        self.schedules = ScheduleManager(self)
        from .planning import install
        from .planning._approvers import ApproverRegistry
        from .planning._runs import PlanRuns

        self._approvers = ApproverRegistry()
        self._plan_runs = PlanRuns(self)
        install(self)  # the planning job, so that a restart can rebuild a planning run's live tool
        for j in jobs or ():
            self.register(j)

    def __repr__(self) -> str:
        return f"<Orchestrator replica={self.replica_id} state={self._state.value} jobs={sorted(self._jobs)}>"

    # -- declaring ----------------------------------------------------------------------------------------

    @overload
    def job(self, fn: JobFunction[P], /) -> Job[P]: ...
    @overload
    def job(
        self,
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
        timeout: timedelta | float | str | None = None,
        on_ceiling: CeilingPolicy = "fail",
        max_continuations: int = 3,
    ) -> Callable[[JobFunction[P]], Job[P]]: ...
    def job(
        self,
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
        timeout: timedelta | float | str | None = None,
        on_ceiling: CeilingPolicy = "fail",
        max_continuations: int = 3,
    ) -> Any:
        """Declare a job on this orchestrator; validated and routed now (:class:`RoutingError` if impossible).

        Args:
            runtime: how long a run takes at most (``timedelta``, seconds, ``"90s"``, ``"20m"``, ``"3h"``).
            cancellable: the run must be cancellable (routes to a task).
            schedule: a cron expression (or preset) in ``timezone``: a scheduled task.
            timezone: an IANA timezone for the schedule (and the platform's ``x-timezone``).
            interactive: the reply is needed in the same call: a completion, streamed.
            route: force a route (``"dispatch"``, ``"task"``, ``"complete"``); refused if it cannot hold the job.
            name: the job's name (default: the function's qualified name); unique per orchestrator.
            max_concurrency: at most this many runs of this job at once; excess starts wait as ``pending``.
            retries: start a failed run again this many times (not for cancelled or ceiling-killed runs).
            timeout: the hard bound of a run (a task's ``maxTime``; default ``runtime / headroom``); a run past it
                ends ``timed_out``. On a dispatch, only with ``on_ceiling`` ``"continue"`` (bounds the parts) or
                ``"task"`` (the task's ``maxTime``).
            on_ceiling: a dispatch killed at the ceiling ``"fail"``s (``ceiling_exceeded``), is ``"continue"``d
                where it stopped (one job, one result), or is re-run as a ``"task"``.
            max_continuations: at most this many continuations of one run (``on_ceiling="continue"``).
        """
        options = _JobOptions(
            runtime,
            cancellable,
            schedule,
            timezone,
            interactive,
            route,
            name,
            max_concurrency,
            retries,
            timeout,
            on_ceiling,
            max_continuations,
        )

        def decorate(f: Callable[..., Any]) -> Job[Any]:
            j = _decorate(f, options, self.routing)
            self.register(j)
            return j

        return decorate(fn) if fn is not None else decorate

    def approver(self, name: str) -> Callable[[A], A]:
        """Register a plan approver under ``name``: ``orc.plan(..., approver=name)`` then stores the name, so that
        a restarted orchestrator (or another replica) that registers the same name re-attaches it.

        The approver is called with the held tasks once the plan is complete (sync, in a worker thread, or async)
        and returns ``True`` (approve all), ``False`` (reject all) or the tasks (or names) to approve.
        """
        return self._approvers.register(name)

    async def _open_planning(self, tg: anyio.abc.TaskGroup) -> None:
        from .planning._approvers import reattach

        await self._plan_runs.open(tg)  # runs of recurring plan tasks become child jobs of their plan
        await reattach(self, tg)  # plans held for a named approver registered here

    def register(self, j: Job[Any]) -> None:
        """Register a job declared with the module-level ``@job``."""
        if not isinstance(j, Job):
            raise RoutingError(f"{j!r} is not a job: decorate it with @job(...) or @orc.job(...)")
        if j.name in self._jobs and self._jobs[j.name] is not j:
            raise RoutingError(f"a job named {j.name!r} is already declared: give one of them name='...'")
        if self._state is _State.OPEN and j.definition.schedule is not None:
            raise UsageError(f"declare scheduled job {j.name!r} before entering `async with orc`")
        if j._orc is not self:
            rebind_policy(j, self.routing)
        j.bind(self)
        self._jobs[j.name] = j

    @property
    def running(self) -> bool:
        """Whether the orchestrator is inside ``async with``."""
        return self._state is _State.OPEN

    @property
    def jobs(self) -> Mapping[str, Job[Any]]:
        """The declared jobs by name."""
        return dict(self._jobs)

    # -- lifecycle ----------------------------------------------------------------------------------------

    @property
    def store(self) -> JobStore:
        if self._store is None:
            raise UsageError("the orchestrator is not running: use `async with orc:` first")
        return self._store

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

    def _require_open(self) -> None:
        if self._state is not _State.OPEN:
            raise UsageError(
                "the orchestrator is not running: start jobs inside `async with orc:`"
                if self._state is _State.NEW
                else "the orchestrator was closed: create a new Orchestrator"
            )

    async def _open_platform(self, stack: AsyncExitStack) -> PlatformClient:
        arg = self._platform_arg
        if isinstance(arg, PlatformClient):
            return await stack.enter_async_context(arg)
        if arg is None:
            env = os.environ if self._environ is None else self._environ
            if env.get("CHATBOTKIT_API_TOKEN"):
                client = PlatformClient.from_env(env, clock=self.clock)
                return await stack.enter_async_context(client)
            from .local import LocalPlatform

            arg = LocalPlatform(clock=self.clock)
        platform = await stack.enter_async_context(arg)
        return await stack.enter_async_context(platform.client())

    async def __aenter__(self) -> Orchestrator:
        if self._state is not _State.NEW:
            raise UsageError("an Orchestrator can be entered once; create a new one to start again")
        self._state = _State.OPEN
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            self._client = await self._open_platform(stack)
            store = open_store(self._store_arg, clock=self.clock, environ=self._environ)
            self._store = await stack.enter_async_context(store)
            stack.push_async_callback(self._release)
            tracker = TaskTracker(self._client, self.clock)
            self._ctx = SupervisorContext(
                store=self._store,
                client=self._client,
                clock=self.clock,
                policy=self.routing,
                tracker=tracker,
                resolve_tools=self._resolve_tools,
                grace=self._grace,
            )
            for name in self._jobs:
                self._stats.load(name, await self._store.durations(name))
                if self.routing.adaptive:
                    await self.adaptive.read(self._store, name)
            self._tg = await stack.enter_async_context(anyio.create_task_group())
            self._tg.start_soon(tracker.run)
            await self.schedules.open(self._tg)
            await self._claim()
            await self._open_planning(self._tg)
            self._tg.start_soon(self._lease_loop)
            self._tg.start_soon(self._prune_loop)
        except BaseException:
            self._state = _State.CLOSED
            await stack.__aexit__(None, None, None)
            raise
        self._stack = stack
        log.info("orchestrator started", replica=self.replica_id, store=self._store.url, jobs=len(self._jobs))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._state = _State.CLOSED
        if self._tg is not None:
            self._tg.cancel_scope.cancel()
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.__aexit__(None, None, None)
        self._tg = None
        log.info("orchestrator stopped", replica=self.replica_id)

    async def _release(self) -> None:
        if self._store is not None:
            with anyio.CancelScope(shield=True):
                try:
                    await self._store.release_jobs(self.replica_id)
                except OrchestratorError as exc:
                    log.warning("could not release leases", error=str(exc))

    # -- starting -----------------------------------------------------------------------------------------

    def _limiter(self, j: Job[Any] | None) -> anyio.CapacityLimiter | None:
        if j is None or j.definition.max_concurrency is None:
            return None
        limiter = self._limiters.get(j.name)
        if limiter is None:
            limiter = self._limiters[j.name] = anyio.CapacityLimiter(j.definition.max_concurrency)
        return limiter

    def _slots_free(self, j: Job[Any]) -> bool:
        for limiter in (self._limiter(j), self._global_limiter):
            if limiter is not None and (limiter.available_tokens < 1 or limiter.statistics().tasks_waiting):
                return False
        return True

    def _task_spec(self, j: Job[Any], prompt: Prompt, max_time: Any) -> dict[str, Any]:
        if prompt.tools:
            raise UsageError(
                f"job {j.name!r}: live tools (Python callables) are answered through a channel during a dispatch "
                "or a completion; a task run cannot use them. Drop the callables, or route the job to a dispatch "
                "(and not on_ceiling='task')"
            )
        runtime = max(j.definition.runtime or self.routing.default_runtime, max_time or timedelta(0))
        expires = int((self.clock.time() + (runtime + self._retention).total_seconds()) * 1000)
        task = task_fields(
            name=j.name,
            description=prompt.instruction,
            max_time=max_time,
            expires_at_ms=expires,
            timezone=j.definition.timezone,
        )
        return {"task": task, "bot_id": prompt.bot_id, "bot_config": prompt.bot_config()}

    def _build_spec(
        self,
        j: Job[Any],
        prompt: Prompt,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        route: Route | None = None,
    ) -> dict[str, Any]:
        route = route or j.route
        d = j.definition
        spec: dict[str, Any] = {"args": list(args), "kwargs": kwargs} if _jsonable([args, kwargs]) else {}
        spec["args_stored"] = bool(spec)
        spec["reasons"] = list(j.explain().reasons)
        if route is Route.TASK:
            max_time = (
                task_max_time(d.runtime, d.timeout, self.routing)
                if j.route is Route.TASK
                else self.adaptive.task_max_time(j.name, d.runtime, d.timeout)  # moved by adaptive routing
            )
            spec.update(self._task_spec(j, prompt, max_time))
            return spec
        if route is Route.DISPATCH:
            spec.update(on_ceiling=d.on_ceiling, max_continuations=d.bounds.max_continuations)
            spec["timeout"] = None if d.timeout is None else d.timeout.total_seconds()
            if d.on_ceiling == "task":
                spec["fallback_task"] = self._task_spec(j, prompt, d.timeout)
        body, channels = prompt.to_wire()
        spec.update(body=body, tool_channels=channels, conversation_id=prompt.conversation_id)
        if route is Route.DISPATCH:
            spec["channel_id"] = f"orc-{secrets.token_hex(14)}"
        return spec

    async def _start_job(self, j: Job[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> JobHandle:
        self._require_open()
        if j.definition.schedule is not None and (args or kwargs):
            raise UsageError(f"scheduled job {j.name!r} takes no arguments")
        prompt = await j.prompt(*args, **kwargs)
        route = j.route
        # a run with live tools, or on a conversation (stateful), stays a dispatch: a task can hold neither
        movable = not prompt.tools and not prompt.stateful
        if movable and self.adaptive.applies(j.definition.decision, j.definition.forced_route):
            route = await self.adaptive.route_for(self.store, j.name, j.route)
        spec = self._build_spec(j, prompt, args, kwargs, route)
        now = self.clock.time()
        job_id = f"job_{secrets.token_hex(12)}"
        record = JobRecord(
            id=job_id,
            job_name=j.name,
            route=route.value,
            status=JobStatus.PENDING,
            created_at=now,
            updated_at=now,
            idempotency_key=job_id,
            spec=spec,
            owner=self.replica_id,
            lease_expires_at=now + self._lease,
        )
        await self._admit(j, record)
        return JobHandle(self, job_id, j.name, route)

    async def _admit(self, j: Job[Any], record: JobRecord) -> JobRecord:
        """Record a new job, start it on the platform (or hold it pending for a slot), and supervise it here.

        Raises the platform's error when it refuses the job (the job is then recorded as failed).
        """
        job_id = record.id
        # reserved before the record exists: the lease loop must not take this job for an orphan and launch it too
        self._running.add(job_id)
        try:
            record = await self.store.create_job(record)
            self._known[job_id] = (j.name, Route(record.route))
            await self._record_created(record)
        except BaseException:
            self._running.discard(job_id)
            raise
        bound = log.bind(job_id=job_id, job=j.name, route=record.route)
        launched = False
        if self._slots_free(j):
            await self._acquire(j, job_id)
            try:
                record = await launch(self.context, record)
                launched = True
            except PlatformError as exc:
                await self._finish(
                    record, Outcome.failed(f"the platform refused the job: {exc}", code=exc.code)
                )
                self._release_slots(j, job_id)
                self._running.discard(job_id)
                bound.warning("job start refused by the platform", error=str(exc))
                raise
            except BaseException:
                # not refused: the job stays recorded; its supervisor (here, or after a restart) finishes it
                self._release_slots(j, job_id)
                self._running.discard(job_id)
                raise
        else:
            await self.store.append_event(
                job_id, EventType.PENDING, {"waiting_for": "max_concurrency"}, key="pending"
            )
        bound.info(
            "job started" if launched else "job pending",
            channel_id=record.state.get("channel_id"),
            task_id=record.state.get("task_id"),
        )
        self._spawn(record, holds_slot=launched, reserved=True)
        return record

    async def _record_created(self, record: JobRecord) -> None:
        await self.store.append_event(
            record.id,
            EventType.CREATED,
            {
                "route": record.route,
                "job_name": record.job_name,
                "reasons": list(record.spec.get("reasons") or ()),
            },
            key="created",
        )

    async def _acquire(self, j: Job[Any] | None, job_id: str) -> None:
        for limiter in (self._limiter(j), self._global_limiter):
            if limiter is not None:
                await limiter.acquire_on_behalf_of(job_id)

    def _release_slots(self, j: Job[Any] | None, job_id: str) -> None:
        for limiter in (self._limiter(j), self._global_limiter):
            if limiter is not None:
                try:
                    limiter.release_on_behalf_of(job_id)
                except RuntimeError:
                    pass

    def _spawn(self, record: JobRecord, *, holds_slot: bool, reserved: bool = False) -> None:
        """Supervise ``record`` in this process, once (``reserved``: the caller already holds its place)."""
        if self._tg is None or (record.id in self._running and not reserved):
            return
        self._running.add(record.id)
        self._tg.start_soon(self._supervise, record.id, holds_slot)

    # -- supervising --------------------------------------------------------------------------------------

    async def _resolve_tools(self, record: JobRecord) -> Mapping[str, Tool]:
        """The live tools of a job's prompt (rebuilt by calling the job function with its stored arguments)."""
        if not record.spec.get("tool_channels"):
            return {}
        j = self._jobs.get(record.job_name)
        if j is None or not record.spec.get("args_stored"):
            log.warning("live tools cannot be rebuilt for this job", job_id=record.id, job=record.job_name)
            return {}
        prompt = await j.prompt(*record.spec.get("args", []), **record.spec.get("kwargs", {}))
        return prompt.tools

    async def _supervise(self, job_id: str, holds_slot: bool) -> None:
        j = None
        try:
            record = await self.store.get_job(job_id)
            if record is None or record.status.terminal:
                return
            j = self._jobs.get(record.job_name)
            if record.status is JobStatus.PENDING and record.spec.get("not_before") is not None:
                waited = await self._wait_not_before(record)  # a planned task's start time; no slot held
                if waited is None:
                    return
                record = waited
            if not holds_slot:
                await self._acquire(j, job_id)
                holds_slot = True
            await self._run_to_end(record, j)
        except Exception as exc:  # a bug or a store failure must fail this job, not every job of the process
            log.exception("supervision failed", job_id=job_id, error=str(exc))
            try:
                record = await self.store.get_job(job_id)
                if record is not None and not record.status.terminal:
                    await self._finish(record, Outcome.failed(f"supervision failed: {exc}", retryable=False))
            except OrchestratorError as again:
                # the store itself is failing: the job stays unfinished and leased; the next claim retries it
                log.error("could not record the supervision failure", job_id=job_id, error=str(again))
        finally:
            self._running.discard(job_id)
            if holds_slot:
                self._release_slots(j, job_id)

    async def _wait_not_before(self, record: JobRecord) -> JobRecord | None:
        """Hold a pending record until ``spec["not_before"]``; ``None`` if it ended meanwhile (cancelled)."""
        delay = float(record.spec["not_before"]) - self.clock.time()
        if delay > 0:
            async with self.store.watch(record.id) as watch, move_on_after(self.clock, delay):
                while True:
                    current = await self.store.get_job(record.id)
                    if current is None or current.status.terminal:
                        return None
                    await watch.wait()
        current = await self.store.get_job(record.id)
        return None if current is None or current.status.terminal else current

    async def _run_to_end(self, record: JobRecord, j: Job[Any] | None) -> None:
        ctx = self.context
        while True:
            if record.status is JobStatus.PENDING:
                # the process may have stopped between recording the job and logging it: log it once
                await self._record_created(record)
                if record.state.get("cancel_requested"):
                    await self._finish(record, Outcome.cancelled("cancelled before it started"))
                    return
                try:
                    record = await launch(ctx, record)
                except PlatformError as exc:
                    await self._finish(
                        record, Outcome.failed(f"the platform refused the job: {exc}", code=exc.code)
                    )
                    return
            outcome = await self._supervisor_for(record).run()
            after = await after_ceiling(ctx, record, outcome)  # on_ceiling: the next part, recorded
            if isinstance(after, JobRecord):
                record = after
                continue
            outcome = join_parts(await self.store.get_job(record.id) or record, after)
            attempt = int(record.state.get("attempt") or 1)
            retries = j.definition.retries if j is not None else 0
            if outcome.status is JobStatus.FAILED and outcome.retryable and attempt <= retries:
                delay = min(60.0, 2.0**attempt)
                reason = str((outcome.error or {}).get("reason"))
                await self.store.append_event(
                    record.id, EventType.RETRY, {"attempt": attempt + 1, "reason": reason, "delay": delay}
                )
                await self.clock.sleep(delay)
                state: dict[str, Any] = {"attempt": attempt + 1, "started_at": None}
                if record.route == "dispatch" and not record.runs_as_task:
                    state["channel_id"] = f"{record.spec['channel_id']}-r{attempt + 1}"
                    state.update(part=1, parts=[], body=None)
                elif record.runs_as_task:
                    # launch() triggers the task again unless a run newer than this one already exists
                    latest = await self.store.get_job(record.id)  # the supervisor noted the execution there
                    previous = (latest or record).state.get("execution_id")
                    state.update(triggered_at=None, execution_id=None, previous_execution=previous)
                record = await self.store.update_job(record.id, status=JobStatus.PENDING, state=state)
                continue
            await self._finish(record, outcome)
            return

    def _supervisor_for(self, record: JobRecord) -> DispatchSupervisor | TaskSupervisor | _LazyTools:
        ctx = self.context
        if record.route == "task" or record.state.get("as_task"):
            return TaskSupervisor(ctx, record)
        return _LazyTools(self, record)

    async def _finish(self, record: JobRecord, outcome: Outcome) -> None:
        store = self.store
        j = self._jobs.get(record.job_name)
        started = (outcome.result or {}).get("started_at") or record.started_at
        adaptive = j is not None and self.adaptive.applies(j.definition.decision, j.definition.forced_route)
        async with self.adaptive.finishing(
            store, record.id, record.job_name, self.clock, started=started if adaptive else None
        ):
            await store.append_event(record.id, outcome.event_type, dict(outcome.event_data), key="terminal")
            finished = await store.finish_job(
                record.id, outcome.status, result=outcome.result, error=outcome.error
            )
        if not finished:
            return
        state = {**record.state, **(outcome.result or {})}
        bound = log.bind(
            job_id=record.id,
            job=record.job_name,
            route=record.route,
            channel_id=state.get("channel_id"),
            task_id=state.get("task_id"),
        )
        bound.info(
            "job finished",
            status=outcome.status.value,
            reason=excerpt(str((outcome.error or {}).get("reason", ""))),
        )
        if outcome.status is JobStatus.SUCCEEDED and started is not None:
            self._stats.add(record.job_name, self.clock.time() - float(started))
        elif outcome.status is JobStatus.CEILING_EXCEEDED:
            self._stats.add(record.job_name, self.routing.ceiling.total_seconds())
        if j is not None and j.definition.on_ceiling == "fail":  # "continue" and "task" handle the ceiling
            advice = self._stats.advice(j.name, j.route, self.routing)
            if advice:
                bound.warning("routing advice", advice=advice)
                p95 = self._stats.p95(j.name)
                await store.append_event(
                    record.id,
                    EventType.ROUTING_ADVICE,
                    {"p95": p95, "ceiling": self.routing.ceiling.total_seconds(), "message": advice},
                    key="advice",
                )

    # -- recovery and leases ------------------------------------------------------------------------------

    async def _claim(self) -> None:
        claimed = await self.store.claim_jobs(self.replica_id, lease_seconds=self._lease, limit=10_000)
        for record in claimed:
            if record.id not in self._running and not record.status.terminal:
                if record.job_name not in self._jobs and record.route != "task":
                    log.warning("resuming a job whose declaration is not registered here", job_id=record.id)
                self._known[record.id] = (record.job_name, Route(record.route))
                if record.route == "complete" and record.status is JobStatus.RUNNING:
                    # the caller of an interactive completion is gone with the process that streamed it
                    await self._finish(
                        record,
                        Outcome.failed(
                            "interrupted: the process streaming this completion stopped; start the job again",
                            retryable=False,
                        ),
                    )
                    continue
                self._spawn(record, holds_slot=False)

    async def _lease_loop(self) -> None:
        """Renew this replica's leases while it supervises jobs; take over expired ones of dead replicas."""
        while True:
            # renew well before expiry while holding jobs; otherwise only look for orphans, once a lease period
            await self.clock.sleep(max(0.5, self._lease / 3 if self._running else self._lease))
            try:
                if self._running:
                    await self.store.renew_leases(self.replica_id, lease_seconds=self._lease)
                await self._claim()
            except OrchestratorError as exc:
                log.warning("lease renewal failed", error=str(exc))

    async def _prune_loop(self) -> None:
        while True:
            try:
                removed = await self.store.prune(
                    finished_before=self.clock.time() - self._retention.total_seconds()
                )
                if removed:
                    log.info("pruned finished jobs", count=removed)
            except OrchestratorError as exc:
                log.warning("pruning failed", error=str(exc))
            await self.clock.sleep(3600)

    # -- handles, cancel, plans, reports -------------------------------------------------------------------

    def get_handle(self, job_id: str) -> JobHandle:
        """A handle on any job in the store, by id (from this or any other process sharing the store).

        ``job_name`` and ``route`` are filled from what this process knows; ``await orc.load_handle(id)``
        reads them from the store.
        """
        name, route = self._known.get(job_id, ("", Route.DISPATCH))
        return JobHandle(self, job_id, name, route)

    async def load_handle(self, job_id: str) -> JobHandle:
        """A handle on a job, read from the store (:class:`UsageError` if there is no such job)."""
        record = await self.store.get_job(job_id)
        if record is None:
            raise UsageError(f"no job {job_id!r} in the store {self.store.url}")
        self._known[job_id] = (record.job_name, Route(record.route))
        return JobHandle(self, job_id, record.job_name, Route(record.route))

    async def _cancel_job(self, job_id: str) -> None:
        record = await self.store.get_job(job_id)
        if record is None:
            raise UsageError(f"no job {job_id!r} in the store {self.store.url}")
        if not record.runs_as_task:
            raise NotCancellable(
                f"job {record.job_name!r} ({job_id}) runs as a {record.route}, which the platform cannot cancel "
                "once started. Declare it with cancellable=True (or a runtime over the dispatch budget) so that it "
                "runs as a task"
            )
        if record.status.terminal:
            return
        await self.store.update_job(job_id, state={"cancel_requested": True})
        await self.store.append_event(job_id, EventType.CANCEL_REQUESTED, {}, key="cancel")
        task_id = record.state.get("task_id")
        if not task_id:
            if record.status is JobStatus.PENDING:
                await self._finish(record, Outcome.cancelled("cancelled before it started"))
            return
        execution_id = record.state.get("execution_id")
        if execution_id:
            await self.client.tasks.cancel_execution(str(task_id), str(execution_id))
        else:
            await self.client.tasks.cancel(str(task_id))
        self.context.tracker.wake(str(task_id))

    async def _trigger_scheduled(self, j: Job[Any]) -> JobHandle:
        self._require_open()
        return await self.schedules.trigger_now(j)

    def routing_report(self) -> RoutingReport:
        """Observed p50/p95 durations of each declared job against its declared runtime and the ceiling."""
        rows = [(j.name, j.route, j.definition.runtime) for j in self._jobs.values()]
        return self.adaptive.annotate(self._stats.report(rows, self.routing))

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
        """Start a planning dispatch that breaks ``request`` into scheduled tasks (see :mod:`orchestrator.planning`)."""
        self._require_open()
        from .planning import start_plan

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


class _LazyTools:
    """Resolves a job's live tools, then runs the dispatch or completion supervisor."""

    def __init__(self, orc: Orchestrator, record: JobRecord) -> None:
        self._orc = orc
        self._record = record

    async def run(self) -> Outcome:
        tools = await self._orc._resolve_tools(self._record)
        ctx = self._orc.context
        if self._record.route == "dispatch":
            return await DispatchSupervisor(ctx, self._record, tools).run()
        return await CompletionSupervisor(ctx, self._record, tools).run()
