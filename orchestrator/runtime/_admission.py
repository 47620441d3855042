"""Admission: a new job is recorded before the platform call, then started (or held for a slot) and supervised.

The record is durable before anything is asked of the platform, with a client-generated idempotency key in its
spec (a dispatch's ``channelId``, a task's ``meta`` key); so a crash between the two is recovered by launching
the same request again, and the platform dedupes it. The job id is reserved in this process before the record
exists, so that the lease loop cannot take the new job for an orphan and launch it a second time.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import structlog

from .._errors import PlatformError, UsageError
from ..jobs import EventType, Job, Route
from ..store import JobRecord, JobStatus
from ..supervise import Outcome, launch
from ._runloop import RunLoop, record_created

if TYPE_CHECKING:
    from ._finish import Finisher
    from ._slots import Slots
    from ._state import Shared

__all__ = ["Admission"]

log = structlog.get_logger("orchestrator")


class Admission:
    """Records new jobs and starts them: ``job.start()``, a planning run, a retry are all admitted here."""

    def __init__(self, rt: Shared, slots: Slots, finisher: Finisher, runs: RunLoop) -> None:
        self._rt = rt
        self._slots = slots
        self._finisher = finisher
        self._runs = runs

    async def start_job(self, j: Job[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> JobRecord:
        """Build the run's request from the prompt, record it, start it; its record once the platform took it."""
        rt = self._rt
        rt.require_open()
        if j.definition.schedule is not None and (args or kwargs):
            raise UsageError(f"scheduled job {j.name!r} takes no arguments")
        prompt = await j.prompt(*args, **kwargs)
        route = j.route
        # a run with live tools, or on a conversation (stateful), stays a dispatch: a task can hold neither
        movable = not prompt.tools and not prompt.stateful
        if movable and rt.adaptive.applies(j.definition.decision, j.definition.forced_route):
            route = await rt.adaptive.route_for(rt.store, j.name, j.route)
        spec = rt.build_spec(j, prompt, args, kwargs, route=route)
        now = rt.clock.time()
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
            owner=rt.replica_id,
            lease_expires_at=now + rt.lease,
        )
        return await self.admit(j, record)

    async def admit(self, j: Job[Any], record: JobRecord) -> JobRecord:
        """Record a new job, start it on the platform (or hold it pending for a slot), and supervise it here.

        Raises the platform's error when it refuses the job (the job is then recorded as failed).
        """
        rt = self._rt
        job_id = record.id
        # reserved before the record exists: the lease loop must not take this job for an orphan and launch it too
        rt.supervising.add(job_id)
        try:
            record = await rt.store.create_job(record)
            rt.remember(job_id, j.name, Route(record.route))
            await record_created(rt.store, record)
        except BaseException:
            rt.supervising.discard(job_id)
            raise
        bound = log.bind(job_id=job_id, job=j.name, route=record.route)
        launched = False
        if self._slots.free(j):
            await self._slots.acquire(j, job_id)
            try:
                record = await launch(rt.context, record)
                launched = True
            except PlatformError as exc:
                await self._finisher.finish(
                    record, Outcome.failed(f"the platform refused the job: {exc}", code=exc.code)
                )
                self._slots.release(j, job_id)
                rt.supervising.discard(job_id)
                bound.warning("job start refused by the platform", error=str(exc))
                raise
            except BaseException:
                # not refused: the job stays recorded; its supervisor (here, or after a restart) finishes it
                self._slots.release(j, job_id)
                rt.supervising.discard(job_id)
                raise
        else:
            await rt.store.append_event(
                job_id, EventType.PENDING, {"waiting_for": "max_concurrency"}, key="pending"
            )
        bound.info(
            "job started" if launched else "job pending",
            channel_id=record.state.get("channel_id"),
            task_id=record.state.get("task_id"),
        )
        self._runs.spawn(record, holds_slot=launched, reserved=True)
        return record
