"""Group commit of event appends in the SQL stores: many appenders, one transaction per flush.

Every test runs on SQLite and on PostgreSQL (the memory store writes each append at once: nothing to batch).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from contextlib import AsyncExitStack

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import StoreError
from orchestrator.store import JobStatus, JobStore, PostgresStore, SQLiteStore
from orchestrator.store._pg_listener import notify_payloads, parse_payload

from .conftest import Backend, make_record

SQL = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


def flushes(store: JobStore) -> int:
    """How many flushes the store's batcher ran."""
    batcher = getattr(store, "_batcher", None)
    assert batcher is not None, f"{store!r} does not batch event appends"
    return int(batcher.flushes)


@SQL
async def test_concurrent_appends_of_many_jobs_share_a_flush(backend: Backend, store: JobStore) -> None:
    """200 appends to 50 jobs made at once are written in a few flushes, each job's seq 1..4 in call order."""
    jobs = [(await store.create_job(make_record())).id for _ in range(50)]
    before = flushes(store)
    results = await asyncio.gather(
        *(store.append_event(job, "t", {"n": n}, key=f"k{n}") for n in range(4) for job in jobs)
    )
    assert flushes(store) - before <= 3
    assert all(r is not None for r in results)
    for job in jobs:
        events = await store.events(job)
        assert [(e.seq, e.data["n"], e.key) for e in events] == [(n + 1, n, f"k{n}") for n in range(4)]


@SQL
async def test_a_flush_sorts_out_each_append_on_its_own(backend: Backend, store: JobStore) -> None:
    """In one flush: an unknown job fails only its own append, a key used twice is stored once, no seq gaps."""
    job = (await store.create_job(make_record())).id
    await store.append_event(job, "t", {"n": 0}, key="old")
    results = await asyncio.gather(
        store.append_event(job, "t", {"n": 1}, key="old"),  # used already
        store.append_event("job_missing", "t", {}),
        store.append_event(job, "t", {"n": 2}, key="new"),
        store.append_event(job, "t", {"n": 3}, key="new"),  # used earlier in the same flush
        store.append_event(job, "t", {"n": 4}),
        return_exceptions=True,
    )
    assert results[0] is None
    assert isinstance(results[1], StoreError)
    assert "job_missing" in str(results[1])
    assert results[3] is None
    events = await store.events(job)
    assert [(e.seq, e.data["n"]) for e in events] == [(1, 0), (2, 2), (3, 4)]


@SQL
async def test_an_append_cancelled_before_its_flush_is_not_written(backend: Backend, store: JobStore) -> None:
    """An append cancelled while it waits for its flush leaves no event and consumes no seq."""
    job = (await store.create_job(make_record())).id
    pending = asyncio.ensure_future(store.append_event(job, "t", {"n": "cancelled"}))
    await asyncio.sleep(0)  # queued; its flush has not taken it yet
    pending.cancel()
    kept = await store.append_event(job, "t", {"n": "kept"})
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert kept is not None
    assert [(e.seq, e.data["n"]) for e in await store.events(job)] == [(1, "kept")]


@SQL
async def test_one_flush_wakes_watches_of_every_job_on_another_replica(
    backend: Backend, store: JobStore
) -> None:
    """Appends to 30 jobs in one flush wake a watch on each job held by another store object."""
    jobs = [(await store.create_job(make_record())).id for _ in range(30)]
    options = {"poll_interval": 0.05} if backend.kind == "sqlite" else {}
    async with backend.replica(**options) as other, AsyncExitStack() as stack:
        watches = [await stack.enter_async_context(other.watch(job)) for job in jobs]
        waiters = [asyncio.ensure_future(w.wait()) for w in watches]
        before = flushes(store)
        await asyncio.gather(*(store.append_event(job, "t", {}) for job in jobs))
        assert flushes(store) - before <= 2
        await asyncio.wait_for(asyncio.gather(*waiters), 10)


@SQL
async def test_unbatched_store_appends_one_by_one(backend: Backend) -> None:
    """batch_events=False writes each append on its own, with the same gap-free, keyed behaviour."""
    async with backend.replica(batch_events=False) as store:
        assert getattr(store, "_batcher", "absent") is None
        job = (await store.create_job(make_record())).id
        results = await asyncio.gather(
            *(store.append_event(job, "t", {"i": i}, key=f"k{i % 3}") for i in range(9))
        )
        assert sum(r is not None for r in results) == 3
        assert [e.seq for e in await store.events(job)] == [1, 2, 3]


@SQL
async def test_closing_writes_what_is_queued(backend: Backend) -> None:
    """Appends queued when the store is closed are written before it disconnects."""
    store = backend.replica()
    await store.open()
    job = (await store.create_job(make_record())).id
    appends = [asyncio.ensure_future(store.append_event(job, "t", {"n": n})) for n in range(20)]
    await asyncio.sleep(0)
    await store.aclose()
    assert all(a.result() is not None for a in appends)
    async with backend.replica() as again:
        assert [e.seq for e in await again.events(job)] == list(range(1, 21))


@SQL
async def test_a_database_failure_fails_the_flush(backend: Backend, store: JobStore) -> None:
    """When the database refuses a flush, each of its appends raises StoreError and nothing is written."""
    job = (await store.create_job(make_record())).id
    if isinstance(store, SQLiteStore):
        db = store._connection()
        await db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON job_events BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    else:
        assert isinstance(store, PostgresStore)
        pool = store._require_pool()
        await pool.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE 'refused'; END $$"
        )
        await pool.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON job_events FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    results = await asyncio.gather(
        *(store.append_event(job, "t", {"n": n}) for n in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, StoreError) and "refused" in str(r) for r in results), results
    if isinstance(store, SQLiteStore):
        await store._connection().execute("DROP TRIGGER refuse")
    else:
        await store._require_pool().execute("DROP TRIGGER refuse ON job_events")
    event = await store.append_event(job, "t", {"n": "after"})
    assert event is not None and event.seq == 1
    assert [e.data["n"] for e in await store.events(job)] == ["after"]


# -- notification payloads -----------------------------------------------------------------------------------

job_ids = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40)


@given(st.lists(job_ids, min_size=1, max_size=600, unique=True), job_ids)
def test_notification_payloads_name_every_job_and_fit(ids: list[str], sender: str) -> None:
    """The payloads of one flush name exactly its jobs and its sender, each under the 8000-byte NOTIFY limit."""
    payloads = notify_payloads(ids, sender=sender)
    assert all(len(p.encode()) < 8000 for p in payloads)
    parsed = [parse_payload(p) for p in payloads]
    assert {s for s, _ in parsed} == {sender}
    assert [i for _, names in parsed for i in names] == ids


def test_a_bare_job_id_is_its_own_payload() -> None:
    """A notification that is not a flush's JSON list names one job (the payload itself), from no sender."""
    assert parse_payload("job_1") == (None, ["job_1"])
    assert parse_payload("[not json") == (None, ["[not json"])
    assert parse_payload("[1, 2]") == (None, ["[1, 2]"])
    assert parse_payload('["only"]') == (None, ['["only"]'])


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_own_flush_notification_is_skipped(backend: Backend, store: JobStore) -> None:
    """A PostgreSQL store's listener skips the notifications of its own flushes (it woke its watches at the
    commit) and passes on those of other store objects and single changes."""
    assert isinstance(store, PostgresStore)
    listener = store._listener
    woken: list[tuple[str, bool]] = []

    def notify_many(job_ids: Iterable[str], *, events_only: bool = False) -> None:
        woken.extend((job_id, events_only) for job_id in job_ids)

    store._hub.notify_many = notify_many  # type: ignore[method-assign]
    own = notify_payloads(["job_a", "job_b"], sender=store._sender)
    theirs = notify_payloads(["job_c"], sender="orchestrator-store:someone-else")
    for payload in [*own, *theirs, "job_d"]:
        listener._on_notify(None, 0, "orchestrator_jobs", payload)  # type: ignore[arg-type]
    # another store's flush appended events only; a bare id is a changed record
    assert woken == [("job_c", True), ("job_d", False)]


async def _turns(n: int = 20) -> None:
    """Let the event loop run ``n`` turns (what a woken waiter needs to finish)."""
    for _ in range(n):
        await asyncio.sleep(0)


@SQL
async def test_a_record_watch_sleeps_through_flushes_of_events(backend: Backend, store: JobStore) -> None:
    """``wait(events=False)`` (what ``result()`` runs) is not woken by flushed events, only by the record's change,
    while a plain ``wait()`` on the same job wakes for the events."""
    job = (await store.create_job(make_record())).id
    async with store.watch(job) as events_watch, store.watch(job) as record_watch:
        waiter = asyncio.create_task(record_watch.wait(events=False))
        await _turns()
        for n in range(3):
            await asyncio.gather(*(store.append_event(job, "token", {"n": n, "i": i}) for i in range(5)))
            await events_watch.wait()  # the flush woke the event readers
            await _turns()
            assert not waiter.done(), f"flush {n} woke a watch waiting for the record"
        await store.finish_job(job, JobStatus.SUCCEEDED)
        await waiter
        assert [e.seq for e in await store.events(job)] == list(range(1, 16))


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_record_watch_on_a_replica_sleeps_through_another_replicas_flushes(
    backend: Backend, store: JobStore
) -> None:
    """On a PostgreSQL replica, another store's flush notification wakes event readers but not record waiters;
    a change of the record (a bare notification) wakes those."""
    job = (await store.create_job(make_record())).id
    async with backend.replica() as other, other.watch(job) as events_watch, other.watch(job) as record_watch:
        waiter = asyncio.create_task(record_watch.wait(events=False))
        await _turns()
        await asyncio.gather(*(store.append_event(job, "token", {"i": i}) for i in range(5)))
        await events_watch.wait()  # the notification of the flush arrived
        await _turns()
        assert not waiter.done()
        await store.finish_job(job, JobStatus.SUCCEEDED)
        await waiter
        finished = await other.get_job(job)
        assert finished is not None and finished.status is JobStatus.SUCCEEDED


@SQL
async def test_flushes_and_lease_renewals_of_the_same_jobs_do_not_deadlock(
    backend: Backend, store: JobStore
) -> None:
    """Flushes over many jobs, racing renewals and releases of those jobs' leases on another replica, all
    succeed: every statement that locks many job rows locks them in the same order."""
    jobs = [(await store.create_job(make_record(owner="r1", lease_expires_at=0.0))).id for _ in range(40)]
    async with backend.replica() as other:
        for round_ in range(10):
            await asyncio.gather(
                *(store.append_event(job, "t", {"round": round_}) for job in reversed(jobs)),
                other.renew_leases("r1", lease_seconds=30),
                *(other.append_event(job, "u", {"round": round_}) for job in jobs),
                other.release_jobs("nobody"),
            )
        assert await other.renew_leases("r1", lease_seconds=30) == 40
    for job in jobs:
        assert [e.seq for e in await store.events(job)] == list(range(1, 21))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_reads_do_not_wait_for_a_flush(backend: Backend, store: JobStore) -> None:
    """SQLite reads go to a connection of their own: while a write transaction is open they return at once,
    with what is committed (not the open transaction's rows)."""
    assert isinstance(store, SQLiteStore)
    job = (await store.create_job(make_record())).id
    await store.append_event(job, "t", {"n": 1})
    inside = asyncio.Event()
    release = asyncio.Event()

    async def open_transaction() -> None:
        async with store._write("holding a transaction open") as db:
            await db.execute(
                "INSERT INTO job_events (job_id, seq, type, data, created_at, key) VALUES (?, 2, 't', '{}', 0, NULL)",
                (job,),
            )
            inside.set()
            await release.wait()

    holder = asyncio.create_task(open_transaction())
    await inside.wait()
    events = await asyncio.wait_for(store.events(job), 5)
    record = await asyncio.wait_for(store.get_job(job), 5)
    release.set()
    await holder
    assert [e.seq for e in events] == [1]
    assert record is not None
    assert [e.seq for e in await store.events(job)] == [1, 2]
