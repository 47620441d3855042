"""The PostgreSQL store's one ``LISTEN`` connection, fanning notifications out to in-process watches.

Every change to a job sends ``NOTIFY orchestrator_jobs, '<job id>'`` in the transaction that makes it (so the
notification goes out exactly when the change becomes visible, from whichever replica made it); a flush of
event appends sends one notification naming all its jobs, as a JSON list headed by the sending store object's tag
(that object skips it: it woke its own watches when the flush committed). The listener
is opened when the first watch is entered, so a watch is live before its ``watch()`` returns. If the
connection drops, every watch is woken (a change may have been missed) and the listener reconnects, with a
growing pause on the store's clock; once back, every watch is woken again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

from .._clock import Clock
from .._errors import StoreError
from ._watch import WatchHub

__all__ = ["CHANNEL", "Listener", "notify_payloads", "parse_payload"]

log = structlog.get_logger(__name__)

CHANNEL = "orchestrator_jobs"

# NOTIFY payloads must stay under 8000 bytes
_PAYLOAD_LIMIT = 7000


def notify_payloads(job_ids: Sequence[str], *, sender: str) -> list[str]:
    """The notification payloads of one flush naming ``job_ids``: JSON lists ``[sender, id, id, ...]``, as few
    as fit (each under the 8000-byte limit). ``sender`` lets the store object that sent them skip them: it
    woke its own watches when the flush committed."""
    payloads: list[str] = []
    chunk: list[str] = [sender]
    size = len(json.dumps(sender).encode()) + 2
    for job_id in job_ids:
        cost = len(json.dumps(job_id).encode()) + 1
        if len(chunk) > 1 and size + cost > _PAYLOAD_LIMIT:
            payloads.append(json.dumps(chunk, separators=(",", ":")))
            chunk, size = [sender], len(json.dumps(sender).encode()) + 2
        chunk.append(job_id)
        size += cost
    if len(chunk) > 1:
        payloads.append(json.dumps(chunk, separators=(",", ":")))
    return payloads


def parse_payload(payload: str) -> tuple[str | None, list[str]]:
    """The sender (``None`` for a single change) and the job ids a notification names: a flush sends a JSON list
    ``[sender, id, ...]``, every other change its job's id, bare."""
    if payload.startswith("["):
        try:
            items = json.loads(payload)
        except ValueError:
            items = None
        if isinstance(items, list) and len(items) > 1 and all(isinstance(i, str) for i in items):
            return items[0], items[1:]
    return None, [payload]


Connect = Callable[[], Awaitable["asyncpg.Connection[Any]"]]


class Listener:
    """One ``LISTEN orchestrator_jobs`` connection.

    Args:
        connect: opens a connection (raising :class:`StoreError` when it cannot).
        hub: the store's watches.
        clock: the clock to pause on between reconnection attempts.
        store: the store's URL, for log lines.
        sender: the tag of the store object's own flush notifications (skipped: it woke its watches itself).
    """

    def __init__(
        self, *, connect: Connect, hub: WatchHub, clock: Clock, store: str, sender: str = ""
    ) -> None:
        self._connect = connect
        self._sender = sender
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
        sender, job_ids = parse_payload(str(payload))
        if sender is None or sender != self._sender:
            # a flush's notification (it has a sender) means new events only; a bare id, a changed record
            self._hub.notify_many(job_ids, events_only=sender is not None)

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
