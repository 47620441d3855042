"""Group commit for event appends: concurrent ``append_event`` calls written in one transaction per flush.

A SQL store hands every append to its :class:`EventBatcher`. The first append while nothing is being written
starts a flush at once (after letting the appends made in the same turn of the event loop join it); appends
made while a flush is in flight wait for it, and then go together in the next one. So an append waits at most
for one flush in flight plus its own, however many supervisors append at once, and a busy store writes a few
large transactions instead of many small ones.

Each append returns only once the transaction holding it has committed (nothing is acknowledged before it is
durable), with its own outcome: its event, ``None`` for a key used already, or the :class:`StoreError` that
concerns it alone (an unknown job) or the whole flush (the database failed). An append cancelled before its
flush starts is dropped; one cancelled while its flush runs may or may not be written, as with any database
call cut short.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import structlog

from .._errors import StoreError
from ._protocol import JobEvent

__all__ = ["Append", "AppendOutcome", "EventBatcher", "Row", "WriteBatch", "batch_action", "number_batch"]

log = structlog.get_logger(__name__)

AppendOutcome: TypeAlias = "JobEvent | StoreError | None"
"""What one append came to: its event, ``None`` (its key was used already), or the error that concerns it."""


@dataclass(slots=True)
class Append:
    """One event waiting to be written. ``data`` is JSON text; ``seq`` is given by the flush."""

    job_id: str
    type: str
    data: str
    created_at: float
    key: str | None
    future: asyncio.Future[AppendOutcome] = field(repr=False)


Row: TypeAlias = "tuple[str, int, str, str, float, str | None]"
"""A ``job_events`` row: ``(job_id, seq, type, data, created_at, key)``."""


def number_batch(
    batch: Sequence[Append],
    last: dict[str, int],
    taken: Collection[tuple[str, str]],
    *,
    no_job: Callable[[str], StoreError],
) -> tuple[list[AppendOutcome], list[Row]]:
    """Give a batch's appends their seqs, under the lock of its jobs' logs: the outcomes, and the rows to insert.

    ``last`` holds each existing job's last seq (it is advanced); ``taken`` the ``(job_id, key)`` pairs used
    already. An append to a job missing from ``last`` gets ``no_job(job_id)``; one whose key is taken, or used
    earlier in the batch, gets ``None`` and no seq.
    """
    used = set(taken)
    outcomes: list[AppendOutcome] = []
    rows: list[Row] = []
    for item in batch:
        if item.job_id not in last:
            outcomes.append(no_job(item.job_id))
            continue
        if item.key is not None:
            if (item.job_id, item.key) in used:
                outcomes.append(None)
                continue
            used.add((item.job_id, item.key))
        seq = last[item.job_id] = last[item.job_id] + 1
        rows.append((item.job_id, seq, item.type, item.data, item.created_at, item.key))
        outcomes.append(
            JobEvent(
                job_id=item.job_id,
                seq=seq,
                type=item.type,
                data=json.loads(item.data),
                created_at=item.created_at,
                key=item.key,
            )
        )
    return outcomes, rows


def batch_action(batch: Sequence[Append]) -> str:
    """What writing ``batch`` is, for error messages."""
    if len(batch) == 1:
        return f"appending an event to job {batch[0].job_id!r}"
    return f"appending {len(batch)} events"


WriteBatch: TypeAlias = Callable[[Sequence[Append]], Awaitable[list[AppendOutcome]]]
"""Writes appends in one transaction; one outcome per append, in order (raises :class:`StoreError` for all)."""


class EventBatcher:
    """Gathers appends and writes them with ``write`` (one call, one transaction, per flush).

    Args:
        write: the store's batch write.
        max_batch: most appends in one flush (the rest go in the next).
        store: the store's URL, for messages.
    """

    def __init__(self, write: WriteBatch, *, max_batch: int = 2000, store: str = "") -> None:
        self._write = write
        self._max_batch = max_batch
        self._store = store
        self._queue: list[Append] = []
        self._flusher: asyncio.Task[None] | None = None
        self.flushes = 0  # how many flushes ran (for tests and benchmarks)

    async def append(
        self, job_id: str, type: str, data: str, *, created_at: float, key: str | None
    ) -> JobEvent | None:
        """Queue one append and wait until it is written (or refused)."""
        future: asyncio.Future[AppendOutcome] = asyncio.get_running_loop().create_future()
        self._queue.append(Append(job_id, type, data, created_at, key, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._run(), name=f"flush {self._store}")
        outcome = await future
        if isinstance(outcome, StoreError):
            raise outcome
        return outcome

    async def _run(self) -> None:
        while self._queue:
            await asyncio.sleep(0)  # appends made in this turn of the loop join this flush
            batch = [item for item in self._queue[: self._max_batch] if not item.future.done()]
            del self._queue[: self._max_batch]
            if not batch:
                continue
            try:
                outcomes = await self._write(batch)
            except StoreError as exc:
                outcomes = [exc] * len(batch)
            except asyncio.CancelledError:
                self._fail(batch, "the store closed while the events were being written")
                raise
            except Exception as exc:  # a bug must fail these appends, not leave them waiting forever
                log.exception("writing a batch of events failed", store=self._store)
                outcomes = [StoreError(f"appending events failed in the store {self._store}: {exc!r}")] * len(
                    batch
                )
            self.flushes += 1
            for item, outcome in zip(batch, outcomes, strict=True):
                if not item.future.done():
                    item.future.set_result(outcome)

    def _fail(self, batch: Sequence[Append], why: str) -> None:
        error = StoreError(f"appending an event failed in the store {self._store}: {why}")
        for item in batch:
            if not item.future.done():
                item.future.set_result(error)

    async def aclose(self) -> None:
        """Write what is queued, then stop (the store is closing)."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None and not flusher.done():
            try:
                await flusher
            except asyncio.CancelledError:
                flusher.cancel()
                raise
        queued, self._queue = self._queue, []
        self._fail(queued, "the store closed")
