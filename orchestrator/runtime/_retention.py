"""Retention: finished jobs and their events are pruned once they are older than ``retention``.

One-off tasks expire on the platform after the same period (their ``expiresAt``, set in the request), so the
store and the platform forget a run together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from .._errors import OrchestratorError

if TYPE_CHECKING:
    from ._state import Shared

__all__ = ["PRUNE_INTERVAL", "prune_loop"]

log = structlog.get_logger("orchestrator")
PRUNE_INTERVAL = 3600.0  # seconds between prunes


async def prune_loop(rt: Shared) -> None:
    """Prune now, then once every :data:`PRUNE_INTERVAL`, for the runtime's lifetime."""
    while True:
        try:
            removed = await rt.store.prune(finished_before=rt.clock.time() - rt.retention.total_seconds())
            if removed:
                log.info("pruned finished jobs", count=removed)
        except OrchestratorError as exc:
            log.warning("pruning failed", error=str(exc))
        await rt.clock.sleep(PRUNE_INTERVAL)
