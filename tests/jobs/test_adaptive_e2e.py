"""Adaptive routing end to end: observed p95 moves a dispatch job to task and back, alike on every replica."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from orchestrator import EventType, Job, Orchestrator, Prompt, Route, RoutingPolicy
from orchestrator.testing import Harness

from .._postgres import base_url, drop_schema

POLICY = RoutingPolicy(adaptive=True, adaptive_window=3)


def declare(orc: Orchestrator) -> Job[[str]]:
    @orc.job(runtime="5m", name="research")
    def research(work: str) -> Prompt:
        return Prompt(text=f"Research [[sleep {work}]]", backstory="You research.")

    return research


@pytest.fixture(scope="session")
def postgres_base() -> str:
    """The test database's URL (no schema)."""
    return base_url()


@pytest.fixture
async def pg_store(postgres_base: str) -> AsyncIterator[str]:
    """A PostgreSQL store URL on a fresh schema, dropped afterwards."""
    schema = f"adaptive_{secrets.token_hex(6)}"
    yield f"{postgres_base}?schema={schema}"
    await drop_schema(postgres_base, schema)


async def test_adaptive_routing_moves_a_job_and_back_across_two_replicas(
    harness: Harness, pg_store: str
) -> None:
    """p95 over the mark sends the next runs (on either replica) as tasks; p95 under the low mark brings them back."""
    first = harness.orchestrator(store=pg_store, routing=POLICY, replica_id="replica-a")
    second = harness.orchestrator(store=pg_store, routing=POLICY, replica_id="replica-b")
    on_first, on_second = declare(first), declare(second)
    assert on_first.route is Route.DISPATCH
    with capture_logs() as logs:
        async with first, second:
            slow = [await on_first.start("13m") for _ in range(3)]
            for handle in slow:
                assert handle.route is Route.DISPATCH
                await handle.result()
            # either replica routes alike: the decision is in the store (whichever replica finished the runs)
            fast = [await on_second.start("2m") for _ in range(3)]
            assert on_second.explain().route is Route.TASK
            assert "passed the 12m mark" in str(on_second.explain())
            for handle in fast:
                assert handle.route is Route.TASK
                assert (await handle.result()).route is Route.TASK
            # p95 of the last three runs is now 2 minutes and change: under the 9-minute mark
            back = await on_first.start("1m")
            assert back.route is Route.DISPATCH
            assert (await back.result()).route is Route.DISPATCH
            assert "back to dispatch" in str(on_first.explain())
            row = first.routing_report().row("research")
            assert row.route is Route.DISPATCH and row.adaptive is not None and "back" in row.adaptive
            changes = {
                h.id: [e.data["route"] async for e in h.events() if e.type == EventType.ROUTING_CHANGED]
                for h in [*slow, *fast, back]
            }
    # the run whose end made each change (the last of the three to finish) says so in its log
    assert sorted(changes[h.id] for h in slow) == [[], [], ["task"]]
    assert sorted(changes[h.id] for h in fast) == [[], [], ["dispatch"]]
    assert changes[back.id] == []
    changed = [entry for entry in logs if entry["event"] == "adaptive routing changed"]
    assert [c["route"] for c in changed] == ["task", "dispatch"]  # logged once per change, by one replica
    assert changed[0]["samples"] == 3 and changed[0]["p95"] > 12 * 60


async def test_hysteresis_keeps_a_job_between_the_marks(harness: Harness) -> None:
    """A moved job whose p95 sits between the low and the high mark stays a task (it does not flap)."""
    orc = harness.orchestrator(routing=POLICY)
    research = declare(orc)
    async with orc:
        for _ in range(3):
            await (await research.start("13m")).result()
        for _ in range(3):
            handle = await research.start("10m")  # 10 minutes: under 12, over 9
            assert handle.route is Route.TASK
            await handle.result()
        assert (await research.start("10m")).route is Route.TASK


async def test_adaptive_off_by_default(harness: Harness) -> None:
    """Without adaptive=True a slow dispatch job stays a dispatch (routing advice only)."""
    orc = harness.orchestrator()
    research = declare(orc)
    async with orc:
        for _ in range(3):
            await (await research.start("13m")).result()
        handle = await research.start("1m")
        assert handle.route is Route.DISPATCH
        await handle.result()
    assert research.explain().adaptive is None
    assert orc.routing_report().row("research").adaptive is None


def test_adaptive_policy_refuses_marks_that_would_flap() -> None:
    """adaptive_low must sit under the headroom, and the window hold at least one run."""
    with pytest.raises(ValueError, match="adaptive_low"):
        RoutingPolicy(adaptive=True, adaptive_low=0.9)
    with pytest.raises(ValueError, match="adaptive_window"):
        RoutingPolicy(adaptive=True, adaptive_window=0)
    assert RoutingPolicy(adaptive=True).dispatch_budget == timedelta(minutes=12)


async def test_a_stateful_run_stays_a_dispatch(harness: Harness) -> None:
    """A moved job's run on a conversation stays a dispatch: a task cannot write into that conversation."""
    async with harness.platform.client() as client:
        conversation = await client.conversations.create({})
    orc = harness.orchestrator(routing=POLICY)

    @orc.job(runtime="5m", name="research")
    def research(work: str, conversation_id: str | None = None) -> Prompt:
        return Prompt(text=f"Research [[sleep {work}]]", conversation_id=conversation_id)

    async with orc:
        for _ in range(3):
            await (await research.start("13m")).result()
        assert (await research.start("1m")).route is Route.TASK
        stateful = await research.start("1m", conversation.id)
        assert stateful.route is Route.DISPATCH
        assert (await stateful.result()).conversation_id == conversation.id
