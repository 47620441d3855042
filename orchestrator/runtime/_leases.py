"""Leases and recovery: every unfinished job is owned by one live replica, and a dead replica's jobs are taken over.

A replica claims unowned or expired records (the store's ``claim_jobs`` is atomic across replicas), renews its
leases well before they expire while it supervises jobs, and otherwise looks for orphans once a lease period. A
claimed record is supervised again from what the store holds: the launch is idempotent and the dispatch
supervisor replays the channel from its cursor, so a takeover neither repeats the work nor loses its events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import structlog

from .._errors import OrchestratorError
from ..jobs import Route
from ..store import JobStatus
from ..supervise import Outcome

if TYPE_CHECKING:
    from ._finish import Finisher
    from ._runloop import RunLoop
    from ._state import Shared

__all__ = ["Leases"]

log = structlog.get_logger("orchestrator")


class Leases:
    """Claims, renews and releases this replica's leases on in-flight jobs."""

    def __init__(self, rt: Shared, finisher: Finisher, runs: RunLoop) -> None:
        self._rt = rt
        self._finisher = finisher
        self._runs = runs

    async def claim(self) -> None:
        """Take every claimable unfinished job and supervise it here."""
        rt = self._rt
        claimed = await rt.store.claim_jobs(rt.replica_id, lease_seconds=rt.lease, limit=10_000)
        for record in claimed:
            if record.id not in rt.supervising and not record.status.terminal:
                if record.job_name not in rt.jobs and record.route != "task":
                    log.warning("resuming a job whose declaration is not registered here", job_id=record.id)
                rt.remember(record.id, record.job_name, Route(record.route))
                if record.route == "complete" and record.status is JobStatus.RUNNING:
                    # the caller of an interactive completion is gone with the process that streamed it
                    await self._finisher.finish(
                        record,
                        Outcome.failed(
                            "interrupted: the process streaming this completion stopped; start the job again",
                            retryable=False,
                        ),
                    )
                    continue
                self._runs.spawn(record, holds_slot=False)

    async def run(self) -> None:
        """Renew this replica's leases while it supervises jobs; take over expired ones of dead replicas."""
        rt = self._rt
        while True:
            # renew well before expiry while holding jobs; otherwise only look for orphans, once a lease period
            await rt.clock.sleep(max(0.5, rt.lease / 3 if rt.supervising else rt.lease))
            try:
                if rt.supervising:
                    await rt.store.renew_leases(rt.replica_id, lease_seconds=rt.lease)
                await self.claim()
            except OrchestratorError as exc:
                log.warning("lease renewal failed", error=str(exc))

    async def release(self) -> None:
        """Give up this replica's leases (on exit), so that another replica takes the jobs over at once."""
        rt = self._rt
        if rt.opened_store is not None:
            with anyio.CancelScope(shield=True):
                try:
                    await rt.opened_store.release_jobs(rt.replica_id)
                except OrchestratorError as exc:
                    log.warning("could not release leases", error=str(exc))
