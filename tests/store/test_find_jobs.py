"""Paging through jobs (``find_jobs`` with a cursor) and counting them per status, on every store."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator import VirtualClock
from orchestrator.store import JobCursor, JobRecord, JobStatus, JobStore, MemoryStore

from .conftest import make_record


async def _seed(store: JobStore, clock: VirtualClock) -> None:
    await store.create_job(make_record("j1", job_name="a"))
    await clock.sleep(1)
    await store.create_job(dataclasses.replace(make_record("j2", job_name="b"), route="task"))
    await clock.sleep(1)
    # the same created_at: the larger id comes first
    await store.create_job(make_record("j4", job_name="a"))
    await store.create_job(make_record("j3", job_name="a"))
    await store.update_job("j2", status=JobStatus.RUNNING)
    await store.finish_job("j3", JobStatus.SUCCEEDED)


async def test_find_jobs_filters_newest_first(store: JobStore, clock: VirtualClock) -> None:
    """find_jobs filters by status, job name and route, newest first by (created_at, id)."""
    await _seed(store, clock)

    async def ids(**kw: object) -> list[str]:
        return [r.id for r in await store.find_jobs(**kw)]  # type: ignore[arg-type]

    assert await ids() == ["j4", "j3", "j2", "j1"]
    assert await ids(job_name="a") == ["j4", "j3", "j1"]
    assert await ids(route="task") == ["j2"]
    assert await ids(statuses=[JobStatus.PENDING]) == ["j4", "j1"]
    assert await ids(statuses=[JobStatus.PENDING], job_name="b") == []
    assert await ids(statuses=[]) == []


async def test_find_jobs_pages_with_a_cursor(store: JobStore, clock: VirtualClock) -> None:
    """Pages joined through JobCursor.after(last) list every job once, in order, ending with an empty page."""
    await _seed(store, clock)
    seen: list[str] = []
    cursor: JobCursor | None = None
    while True:
        page = await store.find_jobs(before=cursor, limit=1)
        if not page:
            break
        seen += [r.id for r in page]
        cursor = JobCursor.after(page[-1])
    assert seen == ["j4", "j3", "j2", "j1"]
    two = await store.find_jobs(job_name="a", limit=2)
    rest = await store.find_jobs(job_name="a", before=JobCursor.after(two[-1]))
    assert [r.id for r in two + rest] == ["j4", "j3", "j1"]


async def test_count_jobs_per_status(store: JobStore, clock: VirtualClock) -> None:
    """count_jobs gives every status (zero when none), filtered by job name and route."""
    await _seed(store, clock)
    counts = await store.count_jobs()
    assert set(counts) == set(JobStatus)
    assert counts[JobStatus.PENDING] == 2
    assert counts[JobStatus.RUNNING] == 1
    assert counts[JobStatus.SUCCEEDED] == 1
    assert counts[JobStatus.FAILED] == 0
    assert (await store.count_jobs(job_name="a"))[JobStatus.PENDING] == 2
    assert sum((await store.count_jobs(route="task")).values()) == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    times=st.lists(st.integers(min_value=0, max_value=3), min_size=0, max_size=12),
    limit=st.integers(min_value=1, max_value=5),
)
async def test_paging_matches_a_sort(times: list[int], limit: int) -> None:
    """For any creation times, paging by cursor lists exactly the jobs sorted by (created_at, id), newest first."""
    clock = VirtualClock(start=1_000.0)
    async with MemoryStore(clock=clock) as store:
        made: list[JobRecord] = []
        for n, t in enumerate(sorted(times)):
            if clock.time() < 1_000.0 + t:
                await clock.sleep(1_000.0 + t - clock.time())
            made.append(await store.create_job(make_record(f"job_{(n * 7919) % 97:03d}_{n}")))
        expected = [r.id for r in sorted(made, key=lambda r: (r.created_at, r.id), reverse=True)]
        seen: list[str] = []
        cursor: JobCursor | None = None
        while page := await store.find_jobs(before=cursor, limit=limit):
            seen += [r.id for r in page]
            cursor = JobCursor.after(page[-1])
        assert seen == expected
