"""A run's writes to its job's event log, with consecutive token deltas merged into one event.

A dispatch or a completion streams many small token deltas. :meth:`RunLog.token` does not wait for the store:
the delta joins the run's pending token event, which a writer task appends once ``window`` seconds of the
clock have passed since the pending event's first delta (and before any other event of the run is appended,
so the log keeps the stream's order). The writer runs only while deltas are pending (the supervisor spawns it
in its task group), so an idle run keeps no task. Deltas arriving while that append is in flight start the next
pending event. So the log grows with time, not with tokens: a run writes at most one token event per window,
whatever its token rate, and the store writes all runs' events in one transaction per flush.

A merged event is ``{"token": "<every delta's text, in order>", "parts": [<each delta's length>, ...]}``
(``parts`` only when there are two or more), keyed like its first delta (``a1p7``): the key stands for the
positions ``7 .. 7 + len(parts) - 1``. ``parts`` lets a restarted supervisor rebuild each delta (and its
fingerprint, for the replay aligner) from the log. Only deltas whose data is exactly ``{"token": text}`` are
merged; any other one is written as it came.

Durability: an event other than a token, and :meth:`RunLog.flush` (before a run reports its outcome), return
only once every earlier delta is stored. Deltas still pending when the process dies are not in the store; the
channel's history replays them to the next supervisor, which appends them then (the aligner is restored from
the stored positions only), so every token is logged exactly once. This relies on one supervisor per job at a
time (the lease): two supervisors merging different spans of one stream would key them differently.

``window=0`` writes every delta as its own event, awaited (the behaviour before merging).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any

import anyio

from .._clock import Clock
from .._errors import OrchestratorError
from ..jobs import EventType
from ..store import JobEvent, JobStore

__all__ = ["DEFAULT_TOKEN_WINDOW", "RunLog", "split_token_event"]

DEFAULT_TOKEN_WINDOW = 0.05
"""Seconds a token delta may wait for others to be merged with before it is appended."""


def mergeable(data: Any) -> bool:
    """Whether a token event's data is exactly ``{"token": text}`` (what the platform streams)."""
    return (
        (type(data) is dict or isinstance(data, Mapping))
        and len(data) == 1
        and type(data.get("token")) is str
    )


def split_token_event(data: Mapping[str, Any]) -> Iterator[dict[str, str]]:
    """The deltas a stored token event holds, each as the platform streamed it (``{"token": text}``).

    An event without a well-formed ``parts`` (one delta, or written by a version that did not merge) is one
    delta: its data unchanged.
    """
    parts = data.get("parts")
    text = data.get("token")
    if (
        isinstance(text, str)
        and isinstance(parts, list)
        and parts
        and all(type(n) is int and n >= 0 for n in parts)
        and sum(parts) == len(text)
    ):
        start = 0
        for size in parts:
            yield {"token": text[start : start + size]}
            start += size
        return
    yield dict(data)


class _Pending:
    __slots__ = ("key", "parts")

    def __init__(self, key: str | None, first: str) -> None:
        self.key = key
        self.parts = [first]


class RunLog:
    """The event log writes of one supervised run (see the module docstring).

    Args:
        store: the job store.
        job_id: the run's job.
        clock: the clock the merge window runs on.
        window: seconds to merge deltas over; ``0`` writes every delta at once, awaited.
        spawn: starts the writer in the supervisor's task group (while deltas are pending).
    """

    def __init__(
        self,
        store: JobStore,
        job_id: str,
        *,
        clock: Clock,
        window: float,
        spawn: Callable[[Callable[[], Coroutine[Any, Any, None]]], object],
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._clock = clock
        self._window = window
        self._spawn = spawn
        self._pending: _Pending | None = None
        self._sealed: list[tuple[str | None, dict[str, Any]]] = []  # merged events whose append failed
        self._error: OrchestratorError | None = None  # the writer's failure, raised to the next caller
        self._lock = anyio.Lock(fast_acquire=True)  # uncontended (the usual case): no checkpoint per append
        self._writing = False

    async def _writer(self) -> None:
        """Append the pending token event a window after its first delta, until none is pending."""
        try:
            while self._pending is not None:
                await self._clock.sleep(self._window)
                async with self._lock:
                    await self._write_pending()
        except OrchestratorError as exc:
            self._error = exc  # the deltas stay sealed; the follower's next token() raises it
        finally:
            self._writing = False

    async def token(self, data: Mapping[str, Any], *, key: str | None) -> None:
        """Log a token delta: merged into the pending event (no wait), or appended at once if it cannot be.

        Raises the :class:`OrchestratorError` of a failed write of earlier deltas (kept, and retried by the next
        write): the caller takes this delta again from the channel's replay.
        """
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if self._window <= 0 or not mergeable(data):
            await self.append(EventType.TOKEN, data, key=key)
            return
        text: str = data["token"]
        if self._pending is None:
            self._pending = _Pending(key, text)
            if not self._writing:
                self._writing = True
                self._spawn(self._writer)
        else:
            self._pending.parts.append(text)

    async def append(self, type: str, data: Mapping[str, Any], *, key: str | None = None) -> JobEvent | None:
        """Append an event once every earlier delta is stored; returns when it is stored too."""
        async with self._lock:
            await self._write_pending()
            return await self._store.append_event(self._job_id, type, data, key=key)

    async def flush(self) -> None:
        """Return once every delta logged so far is stored."""
        async with self._lock:
            await self._write_pending()

    async def _write_pending(self) -> None:
        """Append the sealed events, then the pending one (sealed first: a failed append keeps it whole, so
        that its retry, with the same key and data, is stored once even if the failed one was)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            data: dict[str, Any] = {"token": "".join(pending.parts)}
            if len(pending.parts) > 1:
                data["parts"] = [len(part) for part in pending.parts]
            self._sealed.append((pending.key, data))
        while self._sealed:
            key, data = self._sealed[0]
            # shielded: a write cut short would leave it unknown whether these deltas are stored
            with anyio.CancelScope(shield=True):
                await self._store.append_event(self._job_id, EventType.TOKEN, data, key=key)
            del self._sealed[0]
