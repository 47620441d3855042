"""The ``JobStore`` protocol: what the orchestrator needs of durable storage, and the records it keeps.

A job is recorded *before* the platform call that starts it, with the idempotency key that call carries
(a dispatch ``channelId``, a task ``meta`` key), so a crash between the two never duplicates work. Every event
of a job is appended to an ordered, gap-free log (``seq`` 1, 2, 3, ... per job); an optional ``key`` makes an
append idempotent, which is how replayed channel history is de-duplicated across reconnects and restarts.

Three implementations are chosen by URL (see :func:`orchestrator.store.open_store`): ``memory://``,
``sqlite:///path`` (the default) and ``postgresql://...`` (many replicas: leases and LISTEN/NOTIFY).
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["TERMINAL_STATUSES", "JobCursor", "JobEvent", "JobRecord", "JobStatus", "JobStore"]


class JobStatus(enum.StrEnum):
    """Where a job is in its life. Every status after ``running`` is terminal."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CEILING_EXCEEDED = "ceiling_exceeded"
    TIMED_OUT = "timed_out"
    """The run passed its bound (``timeout=``, a task's ``maxTime``): not a failure of the agent."""

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.CEILING_EXCEEDED,
        JobStatus.TIMED_OUT,
    }
)


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One job as the store keeps it. Times are epoch seconds (the orchestrator clock's ``time()``).

    ``spec`` holds what is needed to (re)start the job on the platform (the wire body, options); ``state``
    holds what the supervisor learned (conversation id, execution id, partial text, ...); ``result`` and
    ``error`` are set once, when the job ends. All three are JSON-serialisable mappings.
    """

    id: str
    job_name: str
    route: str
    status: JobStatus
    created_at: float
    updated_at: float
    idempotency_key: str
    spec: Mapping[str, Any] = field(default_factory=dict)
    state: Mapping[str, Any] = field(default_factory=dict)
    result: Mapping[str, Any] | None = None
    error: Mapping[str, Any] | None = None
    parent_id: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    deadline: float | None = None
    owner: str | None = None
    lease_expires_at: float | None = None

    @property
    def runs_as_task(self) -> bool:
        """Whether the job's run is a task on the platform (routed so, or re-run so by ``on_ceiling="task"``)."""
        return self.route == "task" or bool(self.state.get("as_task"))


@dataclass(frozen=True, slots=True)
class JobCursor:
    """A place in a newest-first listing of jobs: the ``(created_at, id)`` of the last job of a page.

    ``find_jobs(before=cursor)`` returns the jobs after it (older; at the same ``created_at``, a smaller id).
    """

    created_at: float
    id: str

    @classmethod
    def after(cls, record: JobRecord) -> JobCursor:
        """The cursor that continues a listing after ``record``."""
        return cls(record.created_at, record.id)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One entry of a job's event log. ``seq`` starts at 1 and has no gaps within a job."""

    job_id: str
    seq: int
    type: str
    data: Mapping[str, Any]
    created_at: float
    key: str | None = None


@runtime_checkable
class JobStore(Protocol):
    """Durable storage for jobs, their event logs, leases and small orchestrator metadata.

    Every method may raise :class:`orchestrator.StoreError` (never a driver exception). A store is an async
    context manager: ``async with store:`` opens connections and applies migrations; ``aclose()`` closes.
    ``clock`` gives the time for ``created_at``/``updated_at`` and for leases.
    """

    url: str  # without credentials

    async def open(self) -> None: ...
    async def aclose(self) -> None: ...
    async def __aenter__(self) -> JobStore: ...
    async def __aexit__(self, *exc: object) -> None: ...

    # -- jobs --------------------------------------------------------------------------------------------
    async def create_job(self, record: JobRecord) -> JobRecord:
        """Insert ``record``. If a job with the same ``idempotency_key`` exists, return it unchanged."""
        ...

    async def get_job(self, job_id: str) -> JobRecord | None: ...

    async def update_job(
        self,
        job_id: str,
        *,
        status: JobStatus | None = None,
        state: Mapping[str, Any] | None = None,
        started_at: float | None = None,
        deadline: float | None = None,
    ) -> JobRecord:
        """Merge ``state`` into the job's state (shallow, key by key) and set the other given fields.

        Refuses (returns the record unchanged) to move a terminal job to another status.
        """
        ...

    async def finish_job(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: Mapping[str, Any] | None = None,
        error: Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> bool:
        """Move a job to a terminal ``status`` once. Returns ``False`` (and changes nothing) if already
        terminal."""
        ...

    async def list_jobs(
        self,
        *,
        statuses: Sequence[JobStatus] | None = None,
        job_name: str | None = None,
        parent_id: str | None = None,
        limit: int = 100,
    ) -> list[JobRecord]:
        """Jobs, newest first."""
        ...

    async def find_jobs(
        self,
        *,
        statuses: Sequence[JobStatus] | None = None,
        job_name: str | None = None,
        route: str | None = None,
        before: JobCursor | None = None,
        limit: int = 50,
    ) -> list[JobRecord]:
        """One page of jobs, newest first by ``(created_at, id)``: the jobs after ``before`` that match every given
        filter. Give the next call ``before=JobCursor.after(page[-1])`` for the next page."""
        ...

    async def count_jobs(
        self, *, job_name: str | None = None, route: str | None = None
    ) -> dict[JobStatus, int]:
        """How many jobs (matching the given filters) have each status; every status is a key (0 if none)."""
        ...

    async def durations(self, job_name: str, *, limit: int = 500) -> list[float]:
        """``finished_at - started_at`` of the job's most recent finished runs having both, newest first."""
        ...

    # -- events ------------------------------------------------------------------------------------------
    async def append_event(
        self, job_id: str, type: str, data: Mapping[str, Any], *, key: str | None = None
    ) -> JobEvent | None:
        """Append an event with the next ``seq``. With ``key``: a second append of the same key for the same
        job is ignored and returns ``None``. Wakes every waiter on this job (on every replica)."""
        ...

    async def events(self, job_id: str, *, since: int = 0, limit: int | None = None) -> list[JobEvent]:
        """Events with ``seq > since``, in order."""
        ...

    def watch(self, job_id: str) -> AbstractAsyncContextManager[JobWatch]:
        """Subscribe to changes of one job (new events, status changes) from this and every other replica."""
        ...

    # -- leases (many replicas) ----------------------------------------------------------------------------
    async def claim_jobs(self, owner: str, *, lease_seconds: float, limit: int = 100) -> list[JobRecord]:
        """Lease unfinished jobs that are unowned, owned by ``owner``, or whose lease expired (taken over with
        ``FOR UPDATE SKIP LOCKED`` on PostgreSQL). Returns the jobs now leased to ``owner``."""
        ...

    async def renew_leases(self, owner: str, *, lease_seconds: float) -> int:
        """Extend every lease ``owner`` holds on an unfinished job. Returns how many."""
        ...

    async def release_jobs(self, owner: str) -> None:
        """Give up every lease ``owner`` holds (clean shutdown)."""
        ...

    def lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """A mutual-exclusion lock shared by every replica on this store (PostgreSQL advisory lock)."""
        ...

    # -- metadata and retention ----------------------------------------------------------------------------
    async def get_meta(self, key: str) -> Any | None: ...
    async def set_meta(self, key: str, value: Any) -> None: ...

    async def prune(self, *, finished_before: float) -> int:
        """Delete finished jobs (and their events) that finished before ``finished_before``. Returns how
        many."""
        ...


class JobWatch(Protocol):
    """A subscription to one job's changes. ``wait()`` returns after a change; spurious wake-ups are
    allowed. ``wait(events=False)`` waits for a change of the job's record only: an implementation need not
    wake it for new events (a result waiter then skips the re-read on every flush of token events)."""

    async def wait(self, *, events: bool = True) -> None: ...


async def iterate_events(store: JobStore, job_id: str, *, since: int = 0) -> AsyncIterator[JobEvent]:
    """Every event of a job from ``since``, then live ones until the job is terminal and its log drained."""
    cursor = since
    async with store.watch(job_id) as watch:
        while True:
            batch = await store.events(job_id, since=cursor)
            for event in batch:
                cursor = event.seq
                yield event
            # no second read to see that the log is drained: the watch was entered before the read, so an
            # event appended since has set it (one query fewer per wake-up under a stream of events)
            job = await store.get_job(job_id)
            if job is None or job.status.terminal:
                tail = await store.events(job_id, since=cursor)
                if not tail:
                    return
                continue
            await watch.wait()
