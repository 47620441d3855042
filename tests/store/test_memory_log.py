"""The memory store's compact event log (one flat list per job) reads back as the appends made it."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from orchestrator import JobStatus, VirtualClock
from orchestrator.store import MemoryStore

from .conftest import make_record

_APPENDS = st.lists(
    st.tuples(st.sampled_from(["token", "tool"]), st.text(max_size=3), st.none() | st.sampled_from("abcd")),
    max_size=12,
)


@given(_APPENDS, st.integers(min_value=-2, max_value=14), st.none() | st.integers(min_value=1, max_value=5))
def test_events_page_like_a_list_of_the_appends(
    appends: list[tuple[str, str, str | None]], since: int, limit: int | None
) -> None:
    """events(since, limit) is the slice of the accepted appends (a repeated key is refused), seq from 1."""

    async def scenario() -> None:
        async with MemoryStore(clock=VirtualClock()) as store:
            await store.create_job(make_record("j"))
            model: list[tuple[str, dict[str, str], str | None]] = []
            for kind, text, key in appends:
                event = await store.append_event("j", kind, {"token": text}, key=key)
                if key is not None and any(k == key for _t, _d, k in model):
                    assert event is None
                    continue
                model.append((kind, {"token": text}, key))
                assert event is not None and event.seq == len(model)
            got = await store.events("j", since=since, limit=limit)
            start = max(0, since)
            want = model[start:] if limit is None else model[start : start + limit]
            assert [(e.type, dict(e.data), e.key) for e in got] == want
            assert [e.seq for e in got] == list(range(start + 1, start + 1 + len(want)))
            assert all(e.job_id == "j" for e in got)

    asyncio.run(scenario())


async def test_a_pruned_jobs_keys_are_forgotten() -> None:
    """After prune, a job recreated with the same id can log an event under a key its predecessor used."""
    clock = VirtualClock()
    async with MemoryStore(clock=clock) as store:
        await store.create_job(make_record("j", key="k1"))
        assert await store.append_event("j", "t", {}, key="once") is not None
        await store.finish_job("j", JobStatus.SUCCEEDED)
        await clock.sleep(10)
        assert await store.prune(finished_before=clock.time()) == 1
        await store.create_job(make_record("j", key="k2"))
        again = await store.append_event("j", "t", {}, key="once")
        assert again is not None and again.seq == 1
