"""Level-triggered watches on jobs, fanned out in process, optionally backed by polling.

A :class:`WatchHub` holds the watches of one store. ``notify(job_id)`` (a change made by this process, or a
PostgreSQL notification) sets a flag on every watch of that job; ``wait()`` returns at once if its flag is set
and clears it, so a change between entering the watch (or the last ``wait()``) and the next ``wait()`` is
never lost. A watch may wait for changes of the job's record alone (``wait(events=False)``, what a result
waits for): an event append (``notify(..., events_only=True)``) then does not wake it, so a flush of token
events wakes only the watches that read events, not every ``result()`` waiter of those jobs.

Changes made by other processes reach the SQLite store only through polling: each watch then keeps a *mark*,
the job's ``(revision, last seq)`` as last seen. ``wait()`` first compares the mark with the database, then
blocks while one poller task per hub re-reads the marks of every waiting watch each ``poll_interval`` (of real
time: other processes do not share a virtual clock). The poller runs only while someone waits, so an idle store sets no timers (virtual time is not pushed
forward).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from contextlib import asynccontextmanager

import structlog

from .._clock import Clock
from .._errors import StoreError
from ._protocol import JobWatch

__all__ = ["FetchMarks", "Mark", "WatchHub"]

log = structlog.get_logger(__name__)

Mark = tuple[int, int]
"""A job's ``(revision, last event seq)``: both only grow, so a larger component means a change."""

FetchMarks = Callable[[Collection[str]], Awaitable[dict[str, Mark]]]
"""Reads the marks of existing jobs among the given ids (a missing id means the job does not exist)."""


def _changed(old: Mark | None, new: Mark | None) -> bool:
    if old is None or new is None:
        return old != new
    return new[0] > old[0] or new[1] > old[1]


def _merge(old: Mark | None, new: Mark | None) -> Mark | None:
    if old is None or new is None:
        return new
    return (max(old[0], new[0]), max(old[1], new[1]))


class _Watch:
    """One subscription (implements :class:`JobWatch`)."""

    __slots__ = ("_event", "_hub", "_record", "job_id", "mark")

    def __init__(self, hub: WatchHub, job_id: str, mark: Mark | None) -> None:
        self._hub = hub
        self._event = asyncio.Event()  # any change (the record or the event log)
        self._record = asyncio.Event()  # a change of the record
        self.job_id = job_id
        self.mark = mark

    def _set(self, *, record: bool = True) -> None:
        self._event.set()
        if record:
            self._record.set()

    async def wait(self, *, events: bool = True) -> None:
        """Return once the job changed since the watch was entered or since the last ``wait()`` returned;
        with ``events=False``, once its record changed (new events alone do not count)."""
        hub = self._hub
        flag = self._event if events else self._record
        if not flag.is_set() and hub.polls:
            await hub.check((self,))
        if not flag.is_set():
            hub.waiting.add(self)
            hub.ensure_poller()
            try:
                await flag.wait()
            finally:
                hub.waiting.discard(self)
        self._event.clear()
        self._record.clear()


class WatchHub:
    """The watches of one store.

    Args:
        clock: the store's clock.
        fetch_marks: reads job marks from the database; ``None`` for stores that learn of every change by
            notification (memory, PostgreSQL).
        poll_interval: seconds between polls while a watch waits (with ``fetch_marks``).
        store: the store's URL, for log lines.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        fetch_marks: FetchMarks | None = None,
        poll_interval: float = 0.5,
        store: str = "",
    ) -> None:
        self._clock = clock
        self._fetch = fetch_marks
        self._interval = poll_interval
        self._store = store
        self._watches: dict[str, set[_Watch]] = {}
        self.waiting: set[_Watch] = set()
        self._poller: asyncio.Task[None] | None = None

    @property
    def polls(self) -> bool:
        return self._fetch is not None

    @asynccontextmanager
    async def watch(self, job_id: str, *, mark: Mark | None = None) -> AsyncIterator[JobWatch]:
        """Register a watch on ``job_id`` for the block. ``mark`` is the job's mark when it is entered."""
        watch = _Watch(self, job_id, mark)
        self._watches.setdefault(job_id, set()).add(watch)
        try:
            yield watch
        finally:
            watches = self._watches.get(job_id)
            if watches is not None:
                watches.discard(watch)
                if not watches:
                    del self._watches[job_id]

    def notify(
        self, job_id: str, *, revision: int | None = None, seq: int | None = None, events_only: bool = False
    ) -> None:
        """Wake every watch of ``job_id``; ``revision``/``seq`` say what this process just wrote.
        ``events_only``: only events were appended (the record did not change)."""
        for watch in self._watches.get(job_id, ()):
            if self._fetch is not None:
                base = watch.mark or (0, 0)
                watch.mark = (max(base[0], revision or 0), max(base[1], seq or 0))
            watch._set(record=not events_only)

    def notify_many(self, job_ids: Iterable[str], *, events_only: bool = False) -> None:
        """Wake every watch of each of ``job_ids`` (``events_only``: only events were appended)."""
        for job_id in job_ids:
            self.notify(job_id, events_only=events_only)

    def notify_all(self) -> None:
        """Wake every watch (after a lost connection, or when the store closes)."""
        for watches in self._watches.values():
            for watch in watches:
                watch._set()

    async def check(self, watches: Collection[_Watch]) -> None:
        """Compare the marks of ``watches`` with the database and wake those whose job changed."""
        if self._fetch is None or not watches:
            return
        marks = await self._fetch({watch.job_id for watch in watches})
        for watch in watches:
            new = marks.get(watch.job_id)
            old = watch.mark
            if _changed(old, new):
                watch.mark = _merge(old, new)
                # the revision grows with every change of the record; a larger last seq alone means new events
                watch._set(record=old is None or new is None or new[0] > old[0])

    def ensure_poller(self) -> None:
        """Start the poller task if this hub polls, someone waits, and it is not running."""
        if self._fetch is None or not self.waiting:
            return
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll(), name=f"poll {self._store}")

    async def _poll(self) -> None:
        while self.waiting:
            # Other processes write on the wall clock, not on ours: poll in real time. On a VirtualClock a
            # clock timer here would also pin autojump to poll-interval steps while anyone waits.
            await asyncio.sleep(self._interval)
            waiting = list(self.waiting)
            if not waiting:
                return
            try:
                await self.check(waiting)
            except StoreError as exc:
                # wake the waiters: their next read raises the error where someone can handle it
                log.warning("polling the store for job changes failed", store=self._store, error=str(exc))
                for watch in waiting:
                    watch._set()

    async def aclose(self) -> None:
        """Stop the poller and wake every watch (their next store call reports that the store is closed)."""
        poller, self._poller = self._poller, None
        if poller is not None and not poller.done():
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
        self.notify_all()
