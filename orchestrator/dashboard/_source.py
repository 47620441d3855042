"""Where the dashboard reads from and acts through: a running :class:`Orchestrator`, or a bare store.

Embedded (``dashboard_app(orc)``), every page reads ``orc.store`` and every action goes through the orchestrator's
public API (``handle.cancel()``, ``job.trigger_now()``, ``load_plan(...).approve()``). Standalone
(``orchestrator dashboard --store URL``) the command opens an orchestrator on the same store and the configured
platform when it has a platform token; without one it serves the store alone, read-only, and every action answers
409 saying what to configure.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.exceptions import HTTPException

from .. import Clock, Orchestrator
from ..store import JobStore

__all__ = ["READ_ONLY_HINT", "Source"]

READ_ONLY_HINT = (
    "this dashboard reads the store only: it has no platform to act on. Start it with the platform's token "
    "(CHATBOTKIT_API_TOKEN, and CHATBOTKIT_BASE_URL for a local platform) to cancel, run now, approve and reject"
)


@dataclass(frozen=True)
class Source:
    """An orchestrator (actions allowed) or a store with its clock (read-only)."""

    orc: Orchestrator | None = None
    bare_store: JobStore | None = None
    bare_clock: Clock | None = None

    @property
    def store(self) -> JobStore:
        if self.orc is not None:
            if not self.orc.running:
                raise HTTPException(
                    503,
                    "the orchestrator is not running yet: enter `async with orc:` before serving the dashboard",
                )
            return self.orc.store
        assert self.bare_store is not None
        return self.bare_store

    @property
    def clock(self) -> Clock:
        if self.orc is not None:
            return self.orc.clock
        assert self.bare_clock is not None
        return self.bare_clock

    @property
    def can_act(self) -> bool:
        return self.orc is not None

    def acting(self) -> Orchestrator:
        """The orchestrator that performs an action, or a 409 saying why there is none."""
        if self.orc is None:
            raise HTTPException(409, READ_ONLY_HINT)
        self.store  # noqa: B018  (503 when not running)
        return self.orc
