"""The PostgreSQL store's one ``LISTEN`` connection, fanning notifications out to in-process watches.

Every change to a job sends ``NOTIFY orchestrator_jobs, '<job id>'`` in the transaction that makes it (so the
notification goes out exactly when the change becomes visible, from whichever replica made it). The listener
is opened when the first watch is entered, so a watch is live before its ``watch()`` returns. If the
connection drops, every watch is woken (a change may have been missed) and the listener reconnects, with a
growing pause on the store's clock; once back, every watch is woken again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

from .._clock import Clock
from .._errors import StoreError
from ._watch import WatchHub

__all__ = ["CHANNEL", "Listener"]

log = structlog.get_logger(__name__)

CHANNEL = "orchestrator_jobs"

Connect = Callable[[], Awaitable["asyncpg.Connection[Any]"]]


class Listener:
    """One ``LISTEN orchestrator_jobs`` connection.

    Args:
        connect: opens a connection (raising :class:`StoreError` when it cannot).
        hub: the store's watches.
        clock: the clock to pause on between reconnection attempts.
        store: the store's URL, for log lines.
    """

    def __init__(self, *, connect: Connect, hub: WatchHub, clock: Clock, store: str) -> None:
        self._connect = connect
        self._hub = hub
        self._clock = clock
        self._store = store
        self._conn: asyncpg.Connection[Any] | None = None
        self._starting = asyncio.Lock()
        self._reconnecting: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def connection(self) -> asyncpg.Connection[Any] | None:
        """The listening connection, while there is one."""
        return self._conn

    async def start(self) -> None:
        """Make sure the listener runs (or reconnects). Raises :class:`StoreError` if it cannot connect."""
        if self._conn is not None or (self._reconnecting is not None and not self._reconnecting.done()):
            return
        async with self._starting:
            if self._conn is None:
                self._closing = False
                await self._open()

    async def _open(self) -> None:
        conn = await self._connect()
        listening = False
        try:
            await conn.add_listener(CHANNEL, self._on_notify)
            listening = True
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StoreError(f"listening for job changes failed in the store {self._store}: {exc}") from exc
        finally:
            if not listening:
                conn.terminate()
        conn.add_termination_listener(self._on_terminated)
        self._conn = conn

    def _on_notify(
        self,
        conn: asyncpg.Connection[Any] | PoolConnectionProxy[Any],
        pid: int,
        channel: str,
        payload: object,
    ) -> None:
        self._hub.notify(str(payload))

    def _on_terminated(self, conn: asyncpg.Connection[Any] | PoolConnectionProxy[Any]) -> None:
        if self._closing or conn is not self._conn:
            return
        self._conn = None
        log.warning("the PostgreSQL listener connection was lost; reconnecting", store=self._store)
        self._hub.notify_all()
        self._reconnecting = asyncio.get_running_loop().create_task(
            self._reconnect(), name="listener reconnect"
        )

    async def _reconnect(self) -> None:
        pause = 0.1
        while not self._closing:
            try:
                await self._open()
            except StoreError as exc:
                log.warning("reconnecting the PostgreSQL listener failed", store=self._store, error=str(exc))
                await self._clock.sleep(pause)
                pause = min(pause * 2, 5.0)
                continue
            log.info("the PostgreSQL listener is back", store=self._store)
            self._hub.notify_all()
            return

    async def aclose(self) -> None:
        """Stop listening (and reconnecting)."""
        self._closing = True
        task, self._reconnecting = self._reconnecting, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close(timeout=5)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                conn.terminate()
