"""Dispatched runs: the channel ids (dedup keys) and their runs, the ceiling (moved from :mod:`._dispatch`).

The channel id is the dedup key: a second dispatch with an id already used within the dedup window (the run,
then one hour) returns that id and starts nothing. Runs are killed at the ceiling (``Settings.ceiling`` from the
run's start), silently or with a ``TIMEOUT`` error event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._core import Core
from ._engine import RunEngine
from ._runs import Kill, Run, RunSpec, describe_seconds
from ._wire import Frame

__all__ = ["Dispatches"]

_DEDUP_WINDOW = 3600.0


class Dispatches:
    """Dispatched channel ids (the dedup keys) and their runs."""

    def __init__(self, core: Core, engine: RunEngine) -> None:
        self._core = core
        self._engine = engine
        self._seen: dict[str, float] = {}  # channelId -> end of its dedup window (inf while running)
        self.runs: dict[str, Run] = {}
        # sees every change of the dedup memory (the state file persists it across restarts)
        self.on_seen: Callable[[str, float], None] | None = None

    def restore(self, seen: dict[str, float]) -> None:
        """Put back dedup windows read from storage; a run that was going when the platform stopped has ended."""
        now = self._core.clock.time()
        for channel, until in seen.items():
            self._seen[channel] = min(until, now + _DEDUP_WINDOW)

    def _mark(self, channel: str, until: float) -> None:
        self._seen[channel] = until
        if self.on_seen is not None:
            self.on_seen(channel, until)

    def _purge(self, now: float) -> None:
        expired = [cid for cid, until in self._seen.items() if until < now]
        for cid in expired:
            del self._seen[cid]

    def start(self, channel_id: str | None, spec: RunSpec) -> str:
        core = self._core
        now = core.clock.time()
        if channel_id is not None and self._seen.get(channel_id, -1.0) >= now:
            return channel_id
        if len(self._seen) >= 1000 and len(self._seen) % 1000 == 0:
            self._purge(now)
        channel = channel_id or core.state.ids()
        hub, clock = core.hub, core.clock

        def publish(type: str, data: Any, at: int) -> None:
            hub.publish(
                channel,
                Frame("message", {"type": type, "data": data}),
                now=clock.time(),
                keep=True,
            )

        settings = core.settings
        spec.sinks.append(publish)
        spec.bound = settings.ceiling
        spec.bound_kill = Kill.CEILING
        if settings.ceiling_kill == "error":
            limit = describe_seconds(settings.ceiling)
            spec.bound_error = {
                "message": f"The run exceeded the {limit} limit and was killed",
                "code": "TIMEOUT",
            }
        self._mark(channel, float("inf"))
        self.runs[channel] = self._engine.start(spec, on_done=lambda run: self._finished(channel))
        return channel

    def _finished(self, channel: str) -> None:
        self.runs.pop(channel, None)
        self._mark(channel, self._core.clock.time() + _DEDUP_WINDOW)
