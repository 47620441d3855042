"""The JobStore behaviour, run against every store (memory, SQLite, PostgreSQL) by the ``backend`` fixture."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from orchestrator import StoreError, UsageError, VirtualClock
from orchestrator.store import JobEvent, JobStatus, JobStore, iterate_events

from .conftest import POLL, START, Backend, make_record

# -- jobs ----------------------------------------------------------------------------------------------------


async def test_store_is_a_jobstore(store: JobStore) -> None:
    """Every store satisfies the runtime-checkable JobStore protocol and has a password-free url."""
    assert isinstance(store, JobStore)
    assert store.url.split("://")[0] in ("memory", "sqlite", "postgresql")


async def test_create_and_get(store: JobStore, clock: VirtualClock) -> None:
    """create_job stores every field, stamps created/updated from the clock, and get_job reads it back."""
    record = make_record(
        spec={"body": {"text": "hi"}, "n": [1, 2]},
        state={"attempt": 1},
        parent_id="job_parent",
        deadline=START + 60,
        owner="replica-a",
        lease_expires_at=START + 30,
    )
    created = await store.create_job(record)
    assert created.created_at == created.updated_at == clock.time()
    assert created.spec == {"body": {"text": "hi"}, "n": [1, 2]}
    assert (created.state, created.parent_id, created.deadline) == ({"attempt": 1}, "job_parent", START + 60)
    assert (created.owner, created.lease_expires_at) == ("replica-a", START + 30)
    assert created.status is JobStatus.PENDING
    assert await store.get_job(record.id) == created
    assert await store.get_job("job_missing") is None


async def test_idempotency_key_returns_the_existing_job(store: JobStore, clock: VirtualClock) -> None:
    """A second create with the same idempotency key returns the first job unchanged and adds nothing."""
    first = await store.create_job(make_record("job_a", key="k1", state={"v": 1}))
    await clock.sleep(5)
    again = await store.create_job(make_record("job_b", key="k1", state={"v": 2}))
    assert again == first
    assert await store.get_job("job_b") is None
    assert [r.id for r in await store.list_jobs()] == ["job_a"]


async def test_create_with_a_taken_id_fails(store: JobStore) -> None:
    """Reusing a job id under another idempotency key is refused with a StoreError saying so."""
    await store.create_job(make_record("job_a", key="k1"))
    with pytest.raises(StoreError, match="already exists"):
        await store.create_job(make_record("job_a", key="k2"))


async def test_update_merges_state_shallowly(store: JobStore, clock: VirtualClock) -> None:
    """update_job merges state key by key (None values kept, nested dicts replaced) and sets given fields."""
    await store.create_job(make_record("job_a", state={"a": 1, "b": {"x": 1}, "c": 3}))
    await clock.sleep(10)
    updated = await store.update_job(
        "job_a", status=JobStatus.RUNNING, state={"b": {"y": 2}, "c": None}, started_at=START + 10
    )
    assert updated.state == {"a": 1, "b": {"y": 2}, "c": None}
    assert updated.status is JobStatus.RUNNING
    assert updated.started_at == START + 10
    assert updated.updated_at == START + 10
    assert updated.deadline is None
    again = await store.update_job("job_a", deadline=START + 99)
    assert again.deadline == START + 99
    assert again.started_at == START + 10
    assert again.state == updated.state
    assert await store.get_job("job_a") == again


async def test_update_unknown_job_fails(store: JobStore) -> None:
    """update_job on an id the store does not hold raises StoreError naming the id."""
    with pytest.raises(StoreError, match="job_nope"):
        await store.update_job("job_nope", state={"a": 1})


async def test_terminal_status_is_final(store: JobStore) -> None:
    """A finished job refuses to move to another status: the record comes back unchanged."""
    await store.create_job(make_record("job_a", state={"a": 1}))
    assert await store.finish_job("job_a", JobStatus.SUCCEEDED, result={"text": "done"})
    finished = await store.get_job("job_a")
    assert finished is not None
    refused = await store.update_job("job_a", status=JobStatus.RUNNING, state={"a": 2})
    assert refused == finished
    assert await store.get_job("job_a") == finished
    same = await store.update_job("job_a", status=JobStatus.SUCCEEDED, state={"late": True})
    assert same.status is JobStatus.SUCCEEDED
    assert same.state == {"a": 1, "late": True}


async def test_update_to_a_terminal_status_ends_the_job(store: JobStore, clock: VirtualClock) -> None:
    """update_job to a terminal status stamps finished_at and drops the lease, like finish_job."""
    await store.create_job(make_record("job_a", owner="r1", lease_expires_at=START + 30))
    await clock.sleep(3)
    ended = await store.update_job("job_a", status=JobStatus.CANCELLED)
    assert (ended.status, ended.finished_at, ended.owner, ended.lease_expires_at) == (
        JobStatus.CANCELLED,
        START + 3,
        None,
        None,
    )
    assert not await store.finish_job("job_a", JobStatus.FAILED)


async def test_finish_job_happens_once(store: JobStore, clock: VirtualClock) -> None:
    """finish_job works once (result, error, state, finished_at, lease cleared); later calls do nothing."""
    await store.create_job(make_record("job_a", state={"a": 1}, owner="r1", lease_expires_at=START + 30))
    await clock.sleep(7)
    assert await store.finish_job(
        "job_a", JobStatus.FAILED, result={"partial": "x"}, error={"reason": "boom"}, state={"b": 2}
    )
    done = await store.get_job("job_a")
    assert done is not None
    assert done.status is JobStatus.FAILED
    assert (done.result, done.error, done.state) == ({"partial": "x"}, {"reason": "boom"}, {"a": 1, "b": 2})
    assert (done.finished_at, done.updated_at, done.owner, done.lease_expires_at) == (
        START + 7,
        START + 7,
        None,
        None,
    )
    assert not await store.finish_job("job_a", JobStatus.SUCCEEDED, result={"other": 1})
    assert await store.get_job("job_a") == done


async def test_concurrent_finishes_have_one_winner(backend: Backend, store: JobStore) -> None:
    """Ten concurrent finish_job calls over two replicas: exactly one returns True."""
    await store.create_job(make_record("job_a"))
    async with backend.replica() as other:
        outcomes = await asyncio.gather(
            *(
                (store if i % 2 else other).finish_job("job_a", JobStatus.SUCCEEDED, result={"by": i})
                for i in range(10)
            )
        )
    assert outcomes.count(True) == 1
    done = await store.get_job("job_a")
    assert done is not None
    assert done.result == {"by": outcomes.index(True)}


async def test_finish_job_needs_a_terminal_status(store: JobStore) -> None:
    """finish_job with a non-terminal status is a UsageError; with an unknown job a StoreError."""
    await store.create_job(make_record("job_a"))
    with pytest.raises(UsageError, match="terminal status"):
        await store.finish_job("job_a", JobStatus.RUNNING)
    with pytest.raises(StoreError, match="job_nope"):
        await store.finish_job("job_nope", JobStatus.FAILED)


async def test_list_filters_and_newest_first(store: JobStore, clock: VirtualClock) -> None:
    """list_jobs filters by statuses, job_name and parent_id, returns newest first, and honours limit."""
    await store.create_job(make_record("j1", job_name="a"))
    await clock.sleep(1)
    await store.create_job(make_record("j2", job_name="b", parent_id="p"))
    await clock.sleep(1)
    await store.create_job(make_record("j3", job_name="a", parent_id="p"))
    # same clock time: creation order decides
    await store.create_job(make_record("j4", job_name="a"))
    await store.update_job("j2", status=JobStatus.RUNNING)
    await store.finish_job("j3", JobStatus.SUCCEEDED)

    async def ids(**kw: Any) -> list[str]:
        return [r.id for r in await store.list_jobs(**kw)]

    assert await ids() == ["j4", "j3", "j2", "j1"]
    assert await ids(job_name="a") == ["j4", "j3", "j1"]
    assert await ids(parent_id="p") == ["j3", "j2"]
    assert await ids(statuses=[JobStatus.PENDING]) == ["j4", "j1"]
    assert await ids(statuses=[JobStatus.RUNNING, JobStatus.SUCCEEDED]) == ["j3", "j2"]
    assert await ids(statuses=[]) == []
    assert await ids(job_name="a", parent_id="p", statuses=[JobStatus.SUCCEEDED]) == ["j3"]
    assert await ids(limit=2) == ["j4", "j3"]
    with pytest.raises(UsageError, match="limit"):
        await store.list_jobs(limit=0)


async def test_durations_of_finished_runs(store: JobStore, clock: VirtualClock) -> None:
    """durations gives finished_at - started_at of finished runs of one job name, newest first."""
    for i, (name, run) in enumerate([("a", 5.0), ("a", 7.0), ("b", 1.0), ("a", 2.0)]):
        await store.create_job(make_record(f"j{i}", job_name=name))
        await store.update_job(f"j{i}", status=JobStatus.RUNNING, started_at=clock.time())
        await clock.sleep(run)
        await store.finish_job(f"j{i}", JobStatus.SUCCEEDED)
    await store.create_job(make_record("unfinished", job_name="a"))
    await store.create_job(make_record("never_started", job_name="a"))
    await store.finish_job("never_started", JobStatus.FAILED)
    assert await store.durations("a") == [2.0, 7.0, 5.0]
    assert await store.durations("a", limit=1) == [2.0]
    assert await store.durations("nobody") == []


async def test_values_must_be_json(store: JobStore) -> None:
    """Values that are not JSON-serialisable are refused with a StoreError that says what to store."""
    with pytest.raises(StoreError, match="not JSON-serialisable"):
        await store.create_job(make_record("job_a", spec={"when": object()}))
    await store.create_job(make_record("job_b"))
    with pytest.raises(StoreError, match="not JSON-serialisable"):
        await store.append_event("job_b", "t", {"x": {1, 2}})
    with pytest.raises(StoreError, match="not JSON-serialisable"):
        await store.set_meta("m", float("nan"))
    assert await store.events("job_b") == []


async def test_closed_store_refuses_use(backend: Backend) -> None:
    """A store that is not open raises UsageError telling the caller to open it."""
    store = backend.replica()
    if backend.shared_memory:
        store = type(store)(clock=backend.clock)  # type: ignore[call-arg]
    with pytest.raises(UsageError, match="not open"):
        await store.get_job("job_a")


async def test_open_and_close_nest(backend: Backend) -> None:
    """open() twice needs aclose() twice before the store closes; a closed store can be opened again."""
    store = backend.replica()
    await store.open()
    async with store:
        await store.create_job(make_record("job_a"))
    assert await store.get_job("job_a") is not None
    await store.aclose()
    with pytest.raises(UsageError):
        await store.get_job("job_a")
    async with store:
        assert await store.get_job("job_a") is not None


# -- events --------------------------------------------------------------------------------------------------


async def test_append_and_read_events(store: JobStore, clock: VirtualClock) -> None:
    """Events get seq 1, 2, 3 with the clock's time; events(since, limit) pages through them in order."""
    await store.create_job(make_record("job_a"))
    first = await store.append_event("job_a", "created", {"route": "dispatch"})
    await clock.sleep(2)
    second = await store.append_event("job_a", "token", {"text": "hé"}, key="c1")
    third = await store.append_event("job_a", "token", {"text": "llo"})
    assert first == JobEvent("job_a", 1, "created", {"route": "dispatch"}, START)
    assert second == JobEvent("job_a", 2, "token", {"text": "hé"}, START + 2, key="c1")
    assert third is not None
    assert third.seq == 3
    assert await store.events("job_a") == [first, second, third]
    assert await store.events("job_a", since=1) == [second, third]
    assert await store.events("job_a", since=1, limit=1) == [second]
    assert await store.events("job_a", since=3) == []
    assert await store.events("job_nope") == []


async def test_append_to_unknown_job_fails(store: JobStore) -> None:
    """append_event on an id the store does not hold raises StoreError naming the id."""
    with pytest.raises(StoreError, match="job_nope"):
        await store.append_event("job_nope", "t", {})
    with pytest.raises(StoreError, match="job_nope"):
        await store.append_event("job_nope", "t", {}, key="k")


async def test_event_key_dedupes_without_using_a_seq(store: JobStore) -> None:
    """A second append with the same key returns None and consumes no seq; keys are per job."""
    await store.create_job(make_record("job_a"))
    await store.create_job(make_record("job_b"))
    assert (await store.append_event("job_a", "t", {"n": 1}, key="k")) is not None
    assert await store.append_event("job_a", "t", {"n": 2}, key="k") is None
    nxt = await store.append_event("job_a", "t", {"n": 3})
    assert nxt is not None
    assert nxt.seq == 2
    other = await store.append_event("job_b", "t", {}, key="k")
    assert other is not None
    assert other.seq == 1
    assert [e.data["n"] for e in await store.events("job_a")] == [1, 3]


async def test_concurrent_appends_are_gap_free(backend: Backend, store: JobStore) -> None:
    """20 tasks x 50 appends, spread over two replicas, give seq 1..1000 with each task's events in order."""
    await store.create_job(make_record("job_a"))
    async with backend.replica() as other:

        async def appender(task: int) -> None:
            target = store if task % 2 else other
            for n in range(50):
                await target.append_event("job_a", "chunk", {"task": task, "n": n})

        await asyncio.gather(*(appender(t) for t in range(20)))
        events = await other.events("job_a")
    assert [e.seq for e in events] == list(range(1, 1001))
    for task in range(20):
        assert [e.data["n"] for e in events if e.data["task"] == task] == list(range(50))


async def test_concurrent_duplicate_keys_append_once(backend: Backend, store: JobStore) -> None:
    """Concurrent appends of the same keys over two replicas store each key once, with no seq gap."""
    await store.create_job(make_record("job_a"))
    async with backend.replica() as other:
        results = await asyncio.gather(
            *(
                (store if i % 2 else other).append_event("job_a", "t", {"i": i}, key=f"k{i % 5}")
                for i in range(40)
            )
        )
    stored = [r for r in results if r is not None]
    assert len(stored) == 5
    events = await store.events("job_a")
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert sorted(e.key or "" for e in events) == ["k0", "k1", "k2", "k3", "k4"]


# -- watches -------------------------------------------------------------------------------------------------


async def _blocked(task: asyncio.Task[None], clock: VirtualClock) -> bool:
    """Whether ``task`` still waits after several poll intervals of virtual time (and a few ms of real)."""
    await clock.sleep(POLL * 5)
    await asyncio.sleep(0.005)
    return not task.done()


async def test_watch_is_level_triggered(store: JobStore, clock: VirtualClock) -> None:
    """A change after entering the watch makes the next wait() return; then wait() blocks till a change."""
    job_a = (await store.create_job(make_record())).id
    async with store.watch(job_a) as watch:
        await store.append_event(job_a, "t", {})
        before = clock.time()
        await asyncio.wait_for(watch.wait(), 5)
        assert clock.time() == before  # no poll needed: the change was already seen
        waiter = asyncio.create_task(watch.wait())
        assert await _blocked(waiter, clock)
        await store.update_job(job_a, state={"x": 1})
        await asyncio.wait_for(waiter, 5)
        waiter = asyncio.create_task(watch.wait())
        assert await _blocked(waiter, clock)
        await store.finish_job(job_a, JobStatus.SUCCEEDED)
        await asyncio.wait_for(waiter, 5)


async def test_watch_wakes_every_watcher(store: JobStore) -> None:
    """One change wakes every watch of that job, and no watch of another job."""
    job_a = (await store.create_job(make_record())).id
    job_b = (await store.create_job(make_record())).id
    async with store.watch(job_a) as w1, store.watch(job_a) as w2, store.watch(job_b) as w3:
        waiters = [asyncio.create_task(w.wait()) for w in (w1, w2, w3)]
        await store.append_event(job_a, "t", {})
        await asyncio.wait_for(asyncio.gather(*waiters[:2]), 5)
        await asyncio.sleep(0.005)
        assert not waiters[2].done()
        waiters[2].cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiters[2]


async def test_watch_sees_changes_from_another_replica(
    backend: Backend, store: JobStore, clock: VirtualClock
) -> None:
    """An append on replica B wakes a watcher on replica A (SQLite: within one poll interval of the clock)."""
    job_a = (await store.create_job(make_record())).id
    async with backend.replica() as other, store.watch(job_a) as watch:
        waiter = asyncio.create_task(watch.wait())
        assert await _blocked(waiter, clock)
        before = clock.time()
        await other.append_event(job_a, "t", {"from": "b"})
        await asyncio.wait_for(waiter, 5)
        assert clock.time() - before <= POLL + 1e-6
        # a change on B made before A calls wait() is not lost either, and needs no poll interval
        await other.finish_job(job_a, JobStatus.SUCCEEDED)
        before = clock.time()
        await asyncio.wait_for(watch.wait(), 5)
        assert clock.time() == before


async def test_iterate_events_ends_when_the_job_ends(backend: Backend, store: JobStore) -> None:
    """iterate_events replays from a cursor, follows appends from another replica, stops once terminal."""
    job_a = (await store.create_job(make_record())).id
    await store.append_event(job_a, "created", {})
    async with backend.replica() as other:

        async def produce() -> None:
            for n in range(5):
                await other.append_event(job_a, "token", {"n": n})
                await backend.clock.sleep(1)
            await other.append_event(job_a, "succeeded", {})
            await other.finish_job(job_a, JobStatus.SUCCEEDED)

        async def consume(since: int) -> list[int]:
            return [event.seq async for event in iterate_events(store, job_a, since=since)]

        producer = asyncio.create_task(produce())
        seen = await asyncio.wait_for(consume(0), 10)
        await producer
    assert seen == list(range(1, 8))
    assert await asyncio.wait_for(consume(5), 5) == [6, 7]


# -- leases --------------------------------------------------------------------------------------------------


async def test_claim_renew_release(store: JobStore, clock: VirtualClock) -> None:
    """claim_jobs leases unowned unfinished jobs, oldest first; renew extends; release frees them."""
    for i in range(4):
        await store.create_job(make_record(f"j{i}"))
        await clock.sleep(1)
    await store.finish_job("j3", JobStatus.SUCCEEDED)
    claimed = await store.claim_jobs("r1", lease_seconds=30, limit=2)
    assert [r.id for r in claimed] == ["j0", "j1"]
    assert all(r.owner == "r1" and r.lease_expires_at == clock.time() + 30 for r in claimed)
    assert [r.id for r in await store.claim_jobs("r2", lease_seconds=30)] == ["j2"]
    again = await store.claim_jobs("r1", lease_seconds=60)
    assert [r.id for r in again] == ["j0", "j1"]  # its own leases, extended
    await clock.sleep(10)
    assert await store.renew_leases("r1", lease_seconds=30) == 2
    job = await store.get_job("j0")
    assert job is not None
    assert job.lease_expires_at == clock.time() + 30
    await store.release_jobs("r1")
    released = await store.get_job("j0")
    assert released is not None
    assert (released.owner, released.lease_expires_at) == (None, None)
    assert await store.renew_leases("r1", lease_seconds=30) == 0
    assert [r.id for r in await store.claim_jobs("r2", lease_seconds=30)] == ["j0", "j1", "j2"]


async def test_expired_lease_is_taken_over(store: JobStore, clock: VirtualClock) -> None:
    """Once a lease expires on the clock another owner claims the job; the old owner cannot renew it."""
    await store.create_job(make_record("job_a"))
    assert [r.id for r in await store.claim_jobs("r1", lease_seconds=30)] == ["job_a"]
    await clock.sleep(29)
    assert await store.claim_jobs("r2", lease_seconds=30) == []
    await clock.sleep(1)
    taken = await store.claim_jobs("r2", lease_seconds=30)
    assert [(r.id, r.owner) for r in taken] == [("job_a", "r2")]
    assert await store.renew_leases("r1", lease_seconds=30) == 0
    await store.finish_job("job_a", JobStatus.SUCCEEDED)
    assert await store.renew_leases("r2", lease_seconds=30) == 0
    assert await store.claim_jobs("r1", lease_seconds=30) == []


async def test_concurrent_claims_are_disjoint(backend: Backend, store: JobStore) -> None:
    """Two owners on two replicas claiming at once get disjoint sets that together cover every job once."""
    for i in range(60):
        await store.create_job(make_record(f"j{i:02}"))
    async with backend.replica() as other:
        first, second = await asyncio.gather(
            store.claim_jobs("r1", lease_seconds=30, limit=40),
            other.claim_jobs("r2", lease_seconds=30, limit=40),
        )
    r1, r2 = {r.id for r in first}, {r.id for r in second}
    assert not r1 & r2
    assert len(r1 | r2) == 60
    assert len(first) == len(r1) <= 40
    assert len(second) == len(r2) <= 40
    owners = Counter(job.owner for job in await store.list_jobs(limit=100))
    assert owners == {"r1": len(r1), "r2": len(r2)}


async def test_lease_arguments_are_checked(store: JobStore) -> None:
    """A non-positive lease or limit is a UsageError that names the argument."""
    with pytest.raises(UsageError, match="lease_seconds"):
        await store.claim_jobs("r1", lease_seconds=0)
    with pytest.raises(UsageError, match="limit"):
        await store.claim_jobs("r1", lease_seconds=5, limit=0)
    with pytest.raises(UsageError, match="lease_seconds"):
        await store.renew_leases("r1", lease_seconds=-1)


# -- locks ---------------------------------------------------------------------------------------------------


async def test_lock_excludes_across_replicas(backend: Backend, store: JobStore, clock: VirtualClock) -> None:
    """lock(name) lets one holder at a time in, across two replicas; another name is independent."""
    inside: list[str] = []
    overlap: list[list[str]] = []
    entries: list[str] = []

    async with backend.replica() as other:

        async def worker(name: str, target: JobStore) -> None:
            for _ in range(3):
                async with target.lock("critical"):
                    inside.append(name)
                    entries.append(name)
                    if len(inside) > 1:
                        overlap.append(list(inside))
                    await clock.sleep(0.2)
                    inside.remove(name)

        await asyncio.wait_for(
            asyncio.gather(*(worker(f"w{i}", store if i % 2 else other) for i in range(4))), 20
        )

        async def take_elsewhere() -> None:
            async with other.lock("elsewhere"):
                entries.append("elsewhere")

        async with store.lock("critical"):  # held here: another name is still free on the other replica
            await asyncio.wait_for(take_elsewhere(), 5)
    assert overlap == []
    assert Counter(entries) == {"w0": 3, "w1": 3, "w2": 3, "w3": 3, "elsewhere": 1}


async def test_lock_is_released_on_cancellation(backend: Backend, store: JobStore) -> None:
    """A holder cancelled inside the lock, or a waiter cancelled before getting it, leaves the lock free."""
    async with backend.replica() as other:
        held = asyncio.Event()

        async def hold_forever() -> None:
            async with store.lock("x"):
                held.set()
                await asyncio.Event().wait()

        holder = asyncio.create_task(hold_forever())
        await asyncio.wait_for(held.wait(), 5)

        async def take() -> None:
            async with other.lock("x"):
                pass

        waiter = asyncio.create_task(take())
        await asyncio.sleep(0.01)
        assert not waiter.done()
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        holder.cancel()
        with pytest.raises(asyncio.CancelledError):
            await holder
        await asyncio.wait_for(take(), 5)
        async with store.lock("x"):
            pass


# -- metadata and retention ----------------------------------------------------------------------------------


async def test_meta_roundtrip(backend: Backend, store: JobStore) -> None:
    """set_meta stores any JSON value under a key (overwriting); get_meta reads it, from any replica."""
    assert await store.get_meta("bots") is None
    await store.set_meta("bots", {"support": "bot_1", "n": [1, 2.5, None, True]})
    await store.set_meta("since", 12.5)
    await store.set_meta("since", 13.5)
    await store.set_meta("name", "x")
    async with backend.replica() as other:
        assert await other.get_meta("bots") == {"support": "bot_1", "n": [1, 2.5, None, True]}
        assert await other.get_meta("since") == 13.5
        assert await other.get_meta("name") == "x"


async def test_prune_deletes_old_finished_jobs(store: JobStore, clock: VirtualClock) -> None:
    """prune removes jobs (and their events) finished before the cutoff; unfinished and recent ones stay."""
    for name in ("old", "recent", "running"):
        await store.create_job(make_record(name, key=f"key-{name}"))
        await store.append_event(name, "t", {})
    await store.finish_job("old", JobStatus.SUCCEEDED)
    await clock.sleep(100)
    await store.finish_job("recent", JobStatus.FAILED)
    assert await store.prune(finished_before=START + 50) == 1
    assert await store.get_job("old") is None
    assert await store.events("old") == []
    assert {r.id for r in await store.list_jobs()} == {"recent", "running"}
    assert len(await store.events("recent")) == 1
    # the idempotency key of a pruned job is free again
    reborn = await store.create_job(make_record("old2", key="key-old"))
    assert reborn.id == "old2"
    assert await store.prune(finished_before=START + 50) == 0
