"""What the three stores share: the clock, opening and closing (nested), holding virtual time, lease times and
the errors that say an operation failed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Self, TypeAlias, TypeVar

from .._clock import Clock, SystemClock, VirtualClock
from .._errors import StoreError, UsageError
from ._checks import check_positive

__all__ = ["Hold", "NamedLocks", "StoreBase"]

Hold: TypeAlias = Callable[[], contextlib.AbstractContextManager[None]]
"""A store's hold on a virtual clock (:meth:`StoreBase._hold`), taken while the database works."""

_Handle = TypeVar("_Handle")


class StoreBase:
    """Open/close bookkeeping for a store.

    ``open()`` and ``aclose()`` nest: the first ``open()`` connects (and migrates), every further one only
    counts, and the store disconnects when every ``open()`` has been matched by an ``aclose()``. So an
    application can open a store and hand it to an :class:`~orchestrator.Orchestrator` that opens and closes
    it again. A closed store can be opened again.
    """

    url: str

    def __init__(self, *, clock: Clock | None) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._opened = 0
        self._open_lock = asyncio.Lock()

    async def _connect(self) -> None:
        """Open connections, apply migrations, start what the store runs."""

    async def _disconnect(self) -> None:
        """Undo :meth:`_connect`."""

    async def _drain(self) -> None:
        """Finish the writes under way before the last user closes the store (it is still open meanwhile)."""

    @property
    def is_open(self) -> bool:
        """Whether the store is open (``open()`` calls outnumber ``aclose()`` calls)."""
        return self._opened > 0

    async def open(self) -> None:
        """Connect and apply migrations (or, if the store is open already, count one more user)."""
        async with self._open_lock:
            if self._opened == 0:
                await self._connect()
            self._opened += 1

    async def aclose(self) -> None:
        """Count one user fewer; the last one disconnects. Closing a store that is not open does nothing."""
        async with self._open_lock:
            if self._opened == 0:
                return
            if self._opened == 1:
                await self._drain()
            self._opened -= 1
            if self._opened == 0:
                await self._disconnect()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _require_open(self) -> None:
        if self._opened == 0:
            raise UsageError(
                f"the store {self.url} is not open: use `async with store:` (or `await store.open()`) first"
            )

    def _live(self, handle: _Handle | None) -> _Handle:
        """``handle`` (a connection, a pool) if the store is open and has not let it go yet."""
        self._require_open()
        if handle is None:
            raise UsageError(f"the store {self.url} is closing")
        return handle

    def _lease_times(self, lease_seconds: float) -> tuple[float, float]:
        """``(now, when a lease taken now ends)``; :class:`UsageError` unless ``lease_seconds`` is positive."""
        lease = check_positive(lease_seconds, what="lease_seconds")
        now = self.clock.time()
        return now, now + lease

    def _failure(self, action: str, why: str) -> StoreError:
        """The error saying that ``action`` failed in this store, and ``why``."""
        return StoreError(f"{action} failed in the store {self.url}: {why}")

    def _no_job(self, action: str, job_id: str) -> StoreError:
        return self._failure(action, f"there is no job {job_id!r}")

    def _duplicate_id(self, action: str) -> StoreError:
        return self._failure(
            action,
            "a job with that id already exists (with another idempotency key); give every job a fresh id",
        )

    def _hold(self) -> contextlib.AbstractContextManager[None]:
        """Stop autojump of a virtual clock while the loop waits on work it cannot see (threads, sockets)."""
        if isinstance(self.clock, VirtualClock):
            return self.clock.hold()
        return contextlib.nullcontext()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


class NamedLocks:
    """One :class:`asyncio.Lock` per name, forgotten once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        """Hold the lock called ``name`` for the duration of the block."""
        lock, users = self._locks.get(name) or (asyncio.Lock(), 0)
        self._locks[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[name]
            if users == 1:
                del self._locks[name]
            else:
                self._locks[name] = (lock, users - 1)
