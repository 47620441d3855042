"""What a job handle needs from the runtime that runs its job: the store, the clock, and cancel.

:class:`~orchestrator.jobs.JobHandle` depends on this protocol and :class:`~orchestrator.jobs.Job` on its
extension :class:`~orchestrator.jobs.JobRuntime` (start, trigger), not on the ``Orchestrator``: the runtime
(``orchestrator.runtime.Runtime``) implements both, so that the data flows one way, from the declaration down to
the store and the platform, and nothing in ``jobs`` climbs back up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .._clock import Clock
    from ..store import JobStore

__all__ = ["HandleRuntime"]


class HandleRuntime(Protocol):
    """Read and cancel jobs: the services a :class:`JobHandle` uses."""

    @property
    def store(self) -> JobStore:
        """The store every job record and event lives in (:class:`UsageError` when not running)."""
        ...

    @property
    def clock(self) -> Clock:
        """The clock every wait uses."""
        ...

    async def cancel_job(self, job_id: str) -> None:
        """Cancel a job (tasks only; :class:`NotCancellable` otherwise)."""
        ...
