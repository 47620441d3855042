"""Merged token events: a run's consecutive token deltas become one stored event per window, in order.

Unit tests of :class:`RunLog` on the memory store and a virtual clock; the replay aligner rebuilt from merged
events; and dispatches streamed end to end through the local platform into SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import EventType, StoreError, VirtualClock
from orchestrator.store import JobEvent, JobRecord, JobStatus, MemoryStore
from orchestrator.supervise._align import ReplayAligner, fingerprint
from orchestrator.supervise._runlog import RunLog, split_token_event
from orchestrator.testing import Harness

from .._postgres import base_url, drop_schema


@pytest.fixture
async def memory() -> AsyncIterator[tuple[MemoryStore, VirtualClock]]:
    """An open memory store with one running job ``j``, on a virtual clock."""
    clock = VirtualClock(start=1_700_000_000.0)
    async with MemoryStore(clock=clock) as store:
        await store.create_job(
            JobRecord(
                id="j",
                job_name="n",
                route="dispatch",
                status=JobStatus.RUNNING,
                created_at=0.0,
                updated_at=0.0,
                idempotency_key="j",
            )
        )
        yield store, clock


async def test_deltas_within_a_window_become_one_event(memory: tuple[MemoryStore, VirtualClock]) -> None:
    """Deltas logged within one window are stored as one token event: text in order, parts, first key."""
    store, clock = memory
    log = RunLog(store, "j", clock=clock, window=0.05, spawn=lambda work: None)
    for n, word in enumerate(["Hel", "lo", " world"]):
        await log.token({"token": word}, key=f"a1p{n}")
    assert await store.events("j") == []  # not written yet: nothing waited for it
    await log.flush()
    (event,) = await store.events("j")
    assert (event.type, event.key) == (EventType.TOKEN, "a1p0")
    assert event.data == {"token": "Hello world", "parts": [3, 2, 6]}


async def test_writer_appends_pending_deltas_after_the_window(
    memory: tuple[MemoryStore, VirtualClock],
) -> None:
    """The writer stores pending deltas once the window has passed, without a flush, and then ends: an idle
    run keeps no task."""
    store, clock = memory
    async with anyio.create_task_group() as tg:
        log = RunLog(store, "j", clock=clock, window=0.05, spawn=tg.start_soon)
        await log.token({"token": "a"}, key="a1p0")
        await log.token({"token": "b"}, key="a1p1")
        await clock.sleep(0.06)
        first = await store.events("j")
        await log.token({"token": "c"}, key="a1p2")
    # the task group ended by itself: the writer returned once nothing was pending
    assert [e.data for e in first] == [{"token": "ab", "parts": [1, 1]}]
    assert [(e.key, e.data) for e in await store.events("j")] == [
        ("a1p0", {"token": "ab", "parts": [1, 1]}),
        ("a1p2", {"token": "c"}),
    ]


async def test_another_event_is_stored_after_the_pending_deltas(
    memory: tuple[MemoryStore, VirtualClock],
) -> None:
    """An event that is not a token waits for the pending deltas to be stored first: the log keeps order."""
    store, clock = memory
    log = RunLog(store, "j", clock=clock, window=10.0, spawn=lambda work: None)
    await log.token({"token": "x"}, key="a1p0")
    await log.token({"token": "y"}, key="a1p1")
    event = await log.append("tool.call", {"name": "f"}, key="a1p2")
    await log.token({"token": "z"}, key="a1p3")
    await log.flush()
    assert event is not None and event.seq == 2
    assert [(e.seq, e.type, e.data.get("token")) for e in await store.events("j")] == [
        (1, EventType.TOKEN, "xy"),
        (2, "tool.call", None),
        (3, EventType.TOKEN, "z"),
    ]


async def test_window_zero_stores_every_delta_as_it_comes(memory: tuple[MemoryStore, VirtualClock]) -> None:
    """With window=0 every delta is its own event, stored before token() returns (one event per token)."""
    store, clock = memory
    log = RunLog(store, "j", clock=clock, window=0, spawn=lambda work: None)
    await log.token({"token": "a"}, key="a1p0")
    assert [e.data for e in await store.events("j")] == [{"token": "a"}]
    await log.token({"token": "b"}, key="a1p1")
    assert [e.key for e in await store.events("j")] == ["a1p0", "a1p1"]


async def test_a_delta_with_more_data_is_not_merged(memory: tuple[MemoryStore, VirtualClock]) -> None:
    """A token event carrying more than its text is stored as it came, after the deltas before it."""
    store, clock = memory
    log = RunLog(store, "j", clock=clock, window=10.0, spawn=lambda work: None)
    await log.token({"token": "a"}, key="a1p0")
    await log.token({"token": "b", "logprob": -0.1}, key="a1p1")
    await log.flush()
    assert [e.data for e in await store.events("j")] == [{"token": "a"}, {"token": "b", "logprob": -0.1}]


@given(st.lists(st.text(max_size=8), min_size=1, max_size=30))
def test_a_merged_event_splits_back_into_its_deltas(parts: list[str]) -> None:
    """split_token_event gives back exactly the deltas merged into an event (empty ones included)."""
    data: dict[str, object] = {"token": "".join(parts)}
    if len(parts) > 1:
        data["parts"] = [len(p) for p in parts]
    assert list(split_token_event(data)) == [{"token": p} for p in parts]


@pytest.mark.parametrize(
    "data",
    [
        {"token": "abc", "parts": [1, 1]},  # lengths do not add up
        {"token": "abc", "parts": "3"},
        {"token": "abc", "parts": [-1, 4]},
        {"token": "abc", "parts": [True, 2]},
        {"token": 5, "parts": [1]},
    ],
)
def test_malformed_parts_make_one_delta(data: dict[str, object]) -> None:
    """An event whose parts do not describe its text is taken as one delta, unchanged."""
    assert list(split_token_event(data)) == [data]


def test_aligner_restored_from_merged_events_skips_the_replay() -> None:
    """An aligner rebuilt from merged events treats the whole replayed history as seen, then goes on."""
    stream = [("token", {"token": f"w{n} "}) for n in range(12)]
    merged = [stream[0:5], stream[5:6], stream[6:12]]
    stored = []
    for group in merged:
        data: dict[str, object] = {"token": "".join(str(d["token"]) for _, d in group)}
        if len(group) > 1:
            data["parts"] = [len(str(d["token"])) for _, d in group]
        stored.append(data)
    fps = [fingerprint("token", delta) for data in stored for delta in split_token_event(data)]
    aligner = ReplayAligner()
    aligner.restore(fps, len(fps))
    aligner.reconnect()
    assert [aligner.feed(t, d) for t, d in stream] == [None] * 12
    assert aligner.feed("token", {"token": "next"}) == 12


# -- end to end ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_base() -> str:
    """The test database's URL."""
    return base_url()


@pytest.fixture(params=["sqlite", "postgres"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_base: str) -> AsyncIterator[str]:
    """A SQLite file, or a fresh PostgreSQL schema (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/jobs.sqlite3"
        return
    base = postgres_base
    schema = f"runlog_{secrets.token_hex(6)}"
    yield f"{base}?schema={schema}"
    await drop_schema(base, schema)


def deltas(events: list[JobEvent]) -> int:
    return sum(len(list(split_token_event(e.data))) for e in events if e.type == EventType.TOKEN)


async def test_streamed_dispatches_log_merged_tokens(harness: Harness, store_url: str) -> None:
    """Ten dispatches streaming at once: fewer token events than tokens, the text exact, seqs gap-free."""
    orc = harness.orchestrator(store=store_url)

    @orc.job(runtime="5m")
    def chatty(n: int) -> str:
        return f"Stream {n} " + "[[tokens 20]] [[sleep 1s]] " * 5

    async with orc:
        handles = [await chatty.start(n) for n in range(10)]
        for handle in handles:
            result = await handle.result()
            events = [e async for e in handle.events()]
            tokens = [e for e in events if e.type == EventType.TOKEN]
            assert "".join(str(e.data["token"]) for e in tokens) == result.text
            assert deltas(events) >= 100
            assert len(tokens) < deltas(events) / 2, "consecutive deltas were merged"
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            keys = [e.key for e in events if e.key]
            assert len(keys) == len(set(keys))


@given(st.text(), st.text())
def test_token_fingerprints_tell_deltas_apart(a: str, b: str) -> None:
    """Deltas' fingerprints (hashed without JSON) are equal exactly when the texts are, and differ from
    any other data's."""
    assert (fingerprint("token", {"token": a}) == fingerprint("token", {"token": b})) is (a == b)
    assert fingerprint("token", {"token": a}) != fingerprint("token", {"token": a, "n": 1})
    assert fingerprint("token", {"token": a}) != fingerprint("reasoningToken", {"token": a})


class _FailingOnce(MemoryStore):
    """A memory store whose next token append fails (after storing it, when ``stored`` is set)."""

    fail_next = False
    stored = False

    async def append_event(self, job_id: str, type: str, data: Any, *, key: str | None = None) -> Any:
        if type == EventType.TOKEN and self.fail_next:
            self.fail_next = False
            if self.stored:
                await super().append_event(job_id, type, data, key=key)
            raise StoreError("the store went away")
        return await super().append_event(job_id, type, data, key=key)


@pytest.mark.parametrize("stored", [False, True])
async def test_a_failed_write_is_raised_once_and_retried_whole(stored: bool) -> None:
    """A merged event whose append failed (stored or not) makes the next token() raise; it is retried with
    the same key and data, so its deltas are logged once, before the later ones."""
    clock = VirtualClock(start=1_700_000_000.0)
    async with _FailingOnce(clock=clock) as store:
        await store.create_job(
            JobRecord(
                id="j",
                job_name="n",
                route="dispatch",
                status=JobStatus.RUNNING,
                created_at=0.0,
                updated_at=0.0,
                idempotency_key="j",
            )
        )
        store.stored = stored
        async with anyio.create_task_group() as tg:
            log = RunLog(store, "j", clock=clock, window=0.05, spawn=tg.start_soon)
            await log.token({"token": "a"}, key="a1p0")
            await log.token({"token": "b"}, key="a1p1")
            store.fail_next = True
            await clock.sleep(0.06)  # the writer's append fails
            with pytest.raises(StoreError, match="went away"):
                await log.token({"token": "c"}, key="a1p2")
            await log.token({"token": "c"}, key="a1p2")  # taken again from the replay
        await log.flush()
        assert [(e.key, e.data["token"]) for e in await store.events("j")] == [("a1p0", "ab"), ("a1p2", "c")]
