"""``JobHandle``: await, stream or cancel a job, from any process that shares the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING

from .._clock import move_on_after
from .._duration import parse_duration
from .._errors import (
    CeilingExceeded,
    InvalidArgument,
    JobCancelled,
    JobFailed,
    JobTimedOut,
    ResultTimeout,
    UsageError,
)
from ..store import JobEvent, JobRecord, JobStatus, iterate_events
from ._result import JobResult
from ._routing import Route

if TYPE_CHECKING:
    from ._runtime import HandleRuntime

__all__ = ["JobHandle", "outcome_of"]


def outcome_of(record: JobRecord) -> JobResult:
    """The result of a finished job, or the exception its status stands for."""
    err = dict(record.error or {})
    kwargs = {"job_id": record.id, "job_name": record.job_name}
    if record.status is JobStatus.SUCCEEDED:
        return JobResult.from_dict(record.result or {})
    if record.status is JobStatus.CANCELLED:
        raise JobCancelled(
            f"job {record.job_name!r} ({record.id}) was cancelled: {err.get('reason', '')}", **kwargs
        )
    if record.status is JobStatus.CEILING_EXCEEDED:
        raise CeilingExceeded(
            f"job {record.job_name!r} ({record.id}) was killed at the platform's dispatch ceiling: "
            f"{err.get('reason', '')}. Declare a longer runtime (it will be routed to a task), or cancellable=True",
            partial_output=str(err.get("partial_output") or ""),
            ceiling=err.get("ceiling"),
            **kwargs,
        )
    if record.status is JobStatus.TIMED_OUT:
        bound = err.get("timeout")
        raise JobTimedOut(
            f"job {record.job_name!r} ({record.id}) passed its bound and was stopped: {err.get('reason', '')}. "
            "Declare a longer timeout= if the work needs more time",
            partial_output=str(err.get("partial_output") or ""),
            timeout=float(bound) if isinstance(bound, int | float) else None,
            **kwargs,
        )
    reason = str(err.get("reason") or "the run failed")
    raise JobFailed(f"job {record.job_name!r} ({record.id}) failed: {reason}", reason=reason, **kwargs)


class JobHandle:
    """A handle on one job run. Cheap to create; holds no resources.

    Attributes:
        id: the job id (give it to ``orc.get_handle(id)`` in any process sharing the store).
        job_name: the declared job name.
        route: the platform surface it runs on.
    """

    def __init__(self, orc: HandleRuntime, job_id: str, job_name: str, route: Route) -> None:
        self._orc = orc
        self.id = job_id
        self.job_name = job_name
        self.route = route

    def __repr__(self) -> str:
        return f"<JobHandle {self.id} job={self.job_name!r} route={self.route.value}>"

    async def record(self) -> JobRecord:
        """The job's stored record."""
        record = await self._orc.store.get_job(self.id)
        if record is None:
            raise UsageError(f"no job {self.id!r} in the store {self._orc.store.url}: was it pruned?")
        return record

    async def status(self) -> JobStatus:
        """Where the job is now (read from the store)."""
        return (await self.record()).status

    async def result(self, timeout: float | timedelta | str | None = None) -> JobResult:  # noqa: ASYNC109
        """Wait for the job to finish and return its result.

        Args:
            timeout: how long to wait, on the orchestrator's clock; ``None`` waits for as long as it takes.

        Raises:
            JobFailed: the run failed. JobCancelled: it was cancelled. CeilingExceeded: a dispatch was killed
            at the ceiling (``partial_output`` holds what it had written). JobTimedOut: the run passed its bound
            (``timeout=``, a task's ``maxTime``). ResultTimeout: ``timeout`` ran out
            (the job goes on).
        """
        if timeout is not None:
            try:
                timeout = parse_duration(timeout, what="timeout")
            except (ValueError, TypeError, OverflowError) as exc:
                raise InvalidArgument(
                    f"result(timeout={timeout!r}): pass None, a timedelta or seconds of 0 or more ({exc})"[
                        :400
                    ]
                ) from None
        store = self._orc.store
        finished: JobRecord | None = None
        async with move_on_after(self._orc.clock, timeout), store.watch(self.id) as watch:
            while finished is None:
                record = await self.record()
                if record.status.terminal:
                    finished = record
                else:
                    await watch.wait(events=False)  # new events do not end it: only its record's changes
        if finished is not None:
            return outcome_of(finished)
        raise ResultTimeout(f"job {self.job_name!r} ({self.id}) did not finish within {timeout}; it goes on")

    async def events(self, since: int = 0) -> AsyncIterator[JobEvent]:
        """The job's event log from cursor ``since`` (an event's ``seq``), then live events until it ends.

        Any number of subscribers, each from its own cursor; a late one is replayed from the start.
        """
        async for event in iterate_events(self._orc.store, self.id, since=since):
            yield event

    async def cancel(self) -> None:
        """Cancel the run on the platform (tasks only); the job ends ``cancelled``.

        Raises:
            NotCancellable: the job is a dispatch or a completion, which the platform cannot cancel.
        """
        await self._orc.cancel_job(self.id)
