"""Concurrency slots: ``max_concurrency`` per job and per orchestrator, held on behalf of a job id.

A job that finds no free slot when it is started is recorded ``pending`` and waits, in order, for one; a slot is
held from the platform call to the recorded outcome, and released whatever way the run ends.
"""

from __future__ import annotations

from typing import Any

import anyio

from ..jobs import Job

__all__ = ["Slots"]


class Slots:
    """The capacity limiters of one orchestrator: one per job with ``max_concurrency``, and a global one."""

    def __init__(self, max_concurrency: int | None) -> None:
        self._limiters: dict[str, anyio.CapacityLimiter] = {}
        self._global_limiter = anyio.CapacityLimiter(max_concurrency) if max_concurrency else None

    def _limiter(self, j: Job[Any] | None) -> anyio.CapacityLimiter | None:
        if j is None or j.definition.max_concurrency is None:
            return None
        limiter = self._limiters.get(j.name)
        if limiter is None:
            limiter = self._limiters[j.name] = anyio.CapacityLimiter(j.definition.max_concurrency)
        return limiter

    def free(self, j: Job[Any]) -> bool:
        """Whether a run of ``j`` could take its slots now, without overtaking one that waits."""
        for limiter in (self._limiter(j), self._global_limiter):
            if limiter is not None and (limiter.available_tokens < 1 or limiter.statistics().tasks_waiting):
                return False
        return True

    async def acquire(self, j: Job[Any] | None, job_id: str) -> None:
        """Wait for, and take, the slots of a run of ``j`` (``None``: an undeclared job, the global slot only)."""
        for limiter in (self._limiter(j), self._global_limiter):
            if limiter is not None:
                await limiter.acquire_on_behalf_of(job_id)

    def release(self, j: Job[Any] | None, job_id: str) -> None:
        """Give back what :meth:`acquire` took (a slot not held is ignored)."""
        for limiter in (self._limiter(j), self._global_limiter):
            if limiter is not None:
                try:
                    limiter.release_on_behalf_of(job_id)
                except RuntimeError:
                    pass
