"""``memory://``: a :class:`JobStore` in process memory, for tests and throwaway runs.

Nothing survives the process, and two ``MemoryStore`` objects share nothing; within one process it keeps the
same promises as the durable stores (gap-free seq, idempotent appends, leases on the clock, level-triggered
watches).

Longer than 300 lines because it implements the whole :class:`~orchestrator.store.JobStore` protocol (jobs, events,
leases, locks, metadata, listing) over one set of dicts; each method is short.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from .._clock import Clock
from ._base import NamedLocks, StoreBase
from ._checks import check_limit, check_terminal
from ._codec import dumps, loads, mapping_json
from ._protocol import JobCursor, JobEvent, JobRecord, JobStatus, JobWatch
from ._watch import WatchHub

__all__ = ["MemoryStore"]


_ATOMS = frozenset({str, int, bool, type(None)})
_DEPTH = 16


class _NotPlain(Exception):
    """The value needs the JSON round trip (a subclass, a tuple, a non-str key, a non-finite float, depth)."""


def _plain(value: Any, depth: int) -> Any:
    """A deep copy of dicts (str keys), lists and str/int/bool/None/finite floats, exact types only."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        raise _NotPlain
    if depth > _DEPTH:
        raise _NotPlain
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            out[key] = _plain(item, depth + 1)
        return out
    if kind is list:
        return [_plain(item, depth + 1) for item in value]
    raise _NotPlain


def _copy(value: Mapping[str, Any] | None, what: str | Callable[[], str]) -> dict[str, Any] | None:
    # the JSON round trip of plain dicts, lists and atoms is a deep copy of them: skip the encoding, which made
    # this store's appends (a token event's data) cost more than the supervision around them;
    # ``what`` (for error messages) may be a function, so that the hot path does not format it
    if type(value) is dict:
        try:
            return _plain(value, 0)  # type: ignore[no-any-return]
        except _NotPlain:
            pass
    text = mapping_json(value, what=what if isinstance(what, str) else what())
    return None if text is None else dict(loads(text))


_FIELDS = 4
"""A job's log is one flat list, ``_FIELDS`` items per event: ``type, data, created_at, key`` (``seq``: the
event's place in the list, from 1).

Not a :class:`JobEvent` (nor a tuple) per event, and keys in one set of ``"<job id>\0<key>"`` strings, not a set
per job: so a job's log is one object that the cyclic garbage collector tracks, however many events it holds (a
dict of strings, a token event's data, is not tracked). A tuple holding a dict stays tracked, and every object
tracked is walked by each full collection. :meth:`MemoryStore.events` builds the ``JobEvent`` objects a reader
asks for.
"""


def _key_of(job_id: str, key: str) -> str:
    return f"{job_id}\0{key}"


class MemoryStore(StoreBase):
    """A job store in memory (``memory://``).

    Args:
        clock: gives ``created_at``/``updated_at`` and lease times; defaults to :class:`SystemClock`.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        super().__init__(clock=clock)
        self.url = "memory://"
        self._jobs: dict[str, JobRecord] = {}
        self._order: dict[str, int] = {}
        self._counter = itertools.count()
        self._by_key: dict[str, str] = {}
        self._logs: dict[str, list[Any]] = {}  # job id -> its events, _FIELDS items each
        self._keys: set[str] = set()  # every keyed event's _key_of(job id, key)
        self._meta: dict[str, str] = {}
        self._locks = NamedLocks()
        self._hub = WatchHub(clock=self.clock, store=self.url)

    async def _disconnect(self) -> None:
        await self._hub.aclose()

    def _job(self, job_id: str, action: str) -> JobRecord:
        record = self._jobs.get(job_id)
        if record is None:
            raise self._no_job(action, job_id)
        return record

    # -- jobs ------------------------------------------------------------------------------------------------

    async def create_job(self, record: JobRecord) -> JobRecord:
        self._require_open()
        existing = self._by_key.get(record.idempotency_key)
        if existing is not None:
            return self._jobs[existing]
        if record.id in self._jobs:
            raise self._duplicate_id(f"creating job {record.id!r}")
        now = self.clock.time()
        stored = dataclasses.replace(
            record,
            status=JobStatus(record.status),
            created_at=now,
            updated_at=now,
            spec=_copy(record.spec, f"job {record.id!r}'s spec") or {},
            state=_copy(record.state, f"job {record.id!r}'s state") or {},
            result=_copy(record.result, f"job {record.id!r}'s result"),
            error=_copy(record.error, f"job {record.id!r}'s error"),
        )
        self._jobs[record.id] = stored
        self._order[record.id] = next(self._counter)
        self._by_key[record.idempotency_key] = record.id
        self._logs[record.id] = []
        self._hub.notify(record.id)
        return stored

    async def get_job(self, job_id: str) -> JobRecord | None:
        self._require_open()
        return self._jobs.get(job_id)

    async def update_job(
        self,
        job_id: str,
        *,
        status: JobStatus | None = None,
        state: Mapping[str, Any] | None = None,
        started_at: float | None = None,
        deadline: float | None = None,
    ) -> JobRecord:
        self._require_open()
        record = self._job(job_id, f"updating job {job_id!r}")
        patch = _copy(state, f"job {job_id!r}'s state")
        if status is not None:
            status = JobStatus(status)
            if record.status.terminal and status is not record.status:
                return record
        now = self.clock.time()
        changes: dict[str, Any] = {"updated_at": now}
        if status is not None:
            changes["status"] = status
            if status.terminal and not record.status.terminal:
                changes.update(finished_at=now, owner=None, lease_expires_at=None)
        if patch:
            changes["state"] = {**record.state, **patch}
        if started_at is not None:
            changes["started_at"] = float(started_at)
        if deadline is not None:
            changes["deadline"] = float(deadline)
        record = self._jobs[job_id] = dataclasses.replace(record, **changes)
        self._hub.notify(job_id)
        return record

    async def finish_job(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: Mapping[str, Any] | None = None,
        error: Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> bool:
        self._require_open()
        status = check_terminal(status)
        record = self._job(job_id, f"finishing job {job_id!r}")
        result_copy = _copy(result, f"job {job_id!r}'s result")
        error_copy = _copy(error, f"job {job_id!r}'s error")
        patch = _copy(state, f"job {job_id!r}'s state")
        if record.status.terminal:
            return False
        now = self.clock.time()
        self._jobs[job_id] = dataclasses.replace(
            record,
            status=status,
            result=result_copy,
            error=error_copy,
            state={**record.state, **(patch or {})},
            finished_at=now,
            updated_at=now,
            owner=None,
            lease_expires_at=None,
        )
        self._hub.notify(job_id)
        return True

    def _newest_first(self, records: list[JobRecord]) -> list[JobRecord]:
        return sorted(records, key=lambda r: (r.created_at, self._order[r.id]), reverse=True)

    def _matching(self, statuses: Sequence[JobStatus] | None, **fields: str | None) -> list[JobRecord]:
        """The records with one of ``statuses`` (any, for ``None``) whose given ``fields`` equal the values."""
        wanted = None if statuses is None else {JobStatus(s) for s in statuses}
        given = {name: value for name, value in fields.items() if value is not None}
        return [
            r
            for r in self._jobs.values()
            if (wanted is None or r.status in wanted)
            and all(getattr(r, name) == value for name, value in given.items())
        ]

    async def list_jobs(
        self,
        *,
        statuses: Sequence[JobStatus] | None = None,
        job_name: str | None = None,
        parent_id: str | None = None,
        limit: int = 100,
    ) -> list[JobRecord]:
        self._require_open()
        check_limit(limit)
        found = self._matching(statuses, job_name=job_name, parent_id=parent_id)
        return self._newest_first(found)[:limit]

    async def find_jobs(
        self,
        *,
        statuses: Sequence[JobStatus] | None = None,
        job_name: str | None = None,
        route: str | None = None,
        before: JobCursor | None = None,
        limit: int = 50,
    ) -> list[JobRecord]:
        self._require_open()
        check_limit(limit)
        found = self._matching(statuses, job_name=job_name, route=route)
        if before is not None:
            found = [r for r in found if (r.created_at, r.id) < (before.created_at, before.id)]
        found.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return found[:limit]

    async def count_jobs(
        self, *, job_name: str | None = None, route: str | None = None
    ) -> dict[JobStatus, int]:
        self._require_open()
        counts = dict.fromkeys(JobStatus, 0)
        for r in self._matching(None, job_name=job_name, route=route):
            counts[r.status] += 1
        return counts

    async def durations(self, job_name: str, *, limit: int = 500) -> list[float]:
        self._require_open()
        check_limit(limit)
        done = [
            r
            for r in self._jobs.values()
            if r.job_name == job_name and r.finished_at is not None and r.started_at is not None
        ]
        done.sort(key=lambda r: (r.finished_at or 0.0, self._order[r.id]), reverse=True)
        return [(r.finished_at or 0.0) - (r.started_at or 0.0) for r in done[:limit]]

    # -- events ----------------------------------------------------------------------------------------------

    async def append_event(
        self, job_id: str, type: str, data: Mapping[str, Any], *, key: str | None = None
    ) -> JobEvent | None:
        self._require_open()
        self._job(job_id, f"appending an event to job {job_id!r}")
        payload = _copy(data, lambda: f"the data of a {type!r} event of job {job_id!r}") or {}
        log = self._logs[job_id]
        if key is not None:
            stored_key = _key_of(job_id, key)
            if stored_key in self._keys:
                return None
            self._keys.add(stored_key)
        created_at = self.clock.time()
        log += (type, payload, created_at, key)
        self._hub.notify(job_id)
        return JobEvent(job_id, len(log) // _FIELDS, type, payload, created_at, key)

    async def events(self, job_id: str, *, since: int = 0, limit: int | None = None) -> list[JobEvent]:
        self._require_open()
        if limit is not None:
            check_limit(limit)
        log = self._logs.get(job_id)
        if log is None:
            return []
        count = len(log) // _FIELDS
        start = min(max(0, since), count)
        end = count if limit is None else min(count, start + limit)
        return [
            JobEvent(job_id, seq + 1, *log[seq * _FIELDS : (seq + 1) * _FIELDS]) for seq in range(start, end)
        ]

    @asynccontextmanager
    async def watch(self, job_id: str) -> AsyncIterator[JobWatch]:
        self._require_open()
        async with self._hub.watch(job_id) as watch:
            yield watch

    # -- leases ----------------------------------------------------------------------------------------------

    async def claim_jobs(self, owner: str, *, lease_seconds: float, limit: int = 100) -> list[JobRecord]:
        self._require_open()
        now, expires = self._lease_times(lease_seconds)
        check_limit(limit)
        claimable = [
            r
            for r in self._jobs.values()
            if not r.status.terminal
            and (
                r.owner is None or r.owner == owner or r.lease_expires_at is None or r.lease_expires_at <= now
            )
        ]
        claimable.sort(key=lambda r: (r.created_at, self._order[r.id]))
        claimed = []
        for record in claimable[:limit]:
            record = self._jobs[record.id] = dataclasses.replace(
                record, owner=owner, lease_expires_at=expires
            )
            claimed.append(record)
        return claimed

    async def renew_leases(self, owner: str, *, lease_seconds: float) -> int:
        self._require_open()
        _, expires = self._lease_times(lease_seconds)
        renewed = 0
        for record in list(self._jobs.values()):
            if record.owner == owner and not record.status.terminal:
                self._jobs[record.id] = dataclasses.replace(record, lease_expires_at=expires)
                renewed += 1
        return renewed

    async def release_jobs(self, owner: str) -> None:
        self._require_open()
        for record in list(self._jobs.values()):
            if record.owner == owner:
                self._jobs[record.id] = dataclasses.replace(record, owner=None, lease_expires_at=None)

    @asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        self._require_open()
        async with self._locks.hold(name):
            yield

    # -- metadata and retention ------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> Any | None:
        self._require_open()
        return loads(self._meta.get(key))

    async def set_meta(self, key: str, value: Any) -> None:
        self._require_open()
        self._meta[key] = dumps(value, what=f"the meta value {key!r}")

    async def prune(self, *, finished_before: float) -> int:
        self._require_open()
        gone = [
            r
            for r in self._jobs.values()
            if r.status.terminal and r.finished_at is not None and r.finished_at < finished_before
        ]
        for record in gone:
            del self._jobs[record.id]
            del self._order[record.id]
            for key in self._logs.pop(record.id, [])[_FIELDS - 1 :: _FIELDS]:
                if key is not None:
                    self._keys.discard(_key_of(record.id, key))
            if self._by_key.get(record.idempotency_key) == record.id:
                del self._by_key[record.idempotency_key]
        return len(gone)
