"""Round-2 states on every backend: the ``timed_out`` status, and adaptive routing decisions kept in the store."""

from __future__ import annotations

from orchestrator import Route, RoutingPolicy, VirtualClock
from orchestrator.jobs import AdaptiveRouter
from orchestrator.jobs import adaptive_meta_key as meta_key
from orchestrator.store import JobStatus, JobStore

from .conftest import Backend, make_record


async def test_timed_out_is_terminal(store: JobStore, clock: VirtualClock) -> None:
    """A job finished timed_out keeps that status, holds no lease, is listed by it, and is pruned once old."""
    record = await store.create_job(make_record())
    await store.claim_jobs("r1", lease_seconds=30)
    assert await store.finish_job(
        record.id, JobStatus.TIMED_OUT, error={"partial_output": "half", "timeout": 60.0, "reason": "bound"}
    )
    assert not await store.finish_job(record.id, JobStatus.FAILED)
    await store.update_job(record.id, status=JobStatus.RUNNING)
    done = await store.get_job(record.id)
    assert done is not None and done.status is JobStatus.TIMED_OUT and done.status.terminal
    assert done.error is not None and done.error["partial_output"] == "half"
    assert done.owner is None
    assert await store.claim_jobs("r2", lease_seconds=30) == []
    listed = await store.list_jobs(statuses=[JobStatus.TIMED_OUT])
    assert [r.id for r in listed] == [record.id]
    await clock.advance(10)
    assert await store.prune(finished_before=clock.time()) == 1


async def test_adaptive_decision_is_shared_through_the_store(backend: Backend, clock: VirtualClock) -> None:
    """A decision one replica writes is what another replica reads, and only one of them makes the change."""
    policy = RoutingPolicy(adaptive=True, adaptive_window=3)
    async with backend.replica() as first, backend.replica() as second:
        for minutes in (13, 14, 13):
            record = await first.create_job(make_record(job_name="slow"))
            await first.update_job(record.id, status=JobStatus.RUNNING, started_at=clock.time())
            await clock.advance(minutes * 60)
            await first.finish_job(record.id, JobStatus.SUCCEEDED, result={})
        a, b = AdaptiveRouter(policy), AdaptiveRouter(policy)
        assert await b.route_for(second, "slow", Route.DISPATCH) is Route.DISPATCH
        async with first.lock(meta_key("slow")):
            changed = await a.observe(first, "slow", clock.time())
        assert changed is not None and changed.route is Route.TASK and changed.samples == 3
        assert changed.p95 > 12 * 60
        async with second.lock(meta_key("slow")):
            assert await b.observe(second, "slow", clock.time()) is None  # already decided: no second change
        assert await b.route_for(second, "slow", Route.DISPATCH) is Route.TASK
        assert "passed the 12m mark" in (b.cached("slow") or changed).describe()
