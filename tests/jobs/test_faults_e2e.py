"""Reliability against the local platform's injected faults: dropped streams, 429, 5xx."""

from __future__ import annotations

import pytest

from orchestrator import EventType, JobStatus, Prompt
from orchestrator.local import Faults, drop_stream, http_error, rate_limit
from orchestrator.testing import Harness, local_harness


async def test_dropped_channel_stream_recovered_without_loss_or_duplicates() -> None:
    """A channel stream dropped mid-run (twice) is re-subscribed with replay; no event is lost or doubled."""
    faults = Faults([drop_stream(r"^/channel/.*/subscribe$", after=7, count=2)], seed=1)
    async with local_harness(faults=faults) as h:
        orc = h.orchestrator()

        @orc.job(runtime="5m")
        def chatty() -> str:
            return "Explain [[tokens 30]] [[sleep 1m]] [[tokens 10]]"

        async with orc:
            handle = await chatty.start()
            result = await handle.result()
            events = [e async for e in handle.events()]
    reconnects = [e for e in events if e.type == EventType.STREAM_RECONNECTED]
    assert len(reconnects) == 2
    tokens = [str(e.data["token"]) for e in events if e.type == EventType.TOKEN]
    assert "".join(tokens) == result.text
    deltas = sum(len(e.data.get("parts") or [0]) for e in events if e.type == EventType.TOKEN)
    assert deltas >= 40, "one token event may hold several deltas; there were at least 40"
    keys = [e.key for e in events if e.key]
    assert len(keys) == len(set(keys))


async def test_dispatch_retried_through_rate_limit_and_unavailable() -> None:
    """429 with Retry-After and a 503 on dispatch are retried with the same channelId; the run happens once."""
    faults = Faults(
        [
            rate_limit(r"^/conversation/dispatch$", retry_after=2, count=1),
            http_error(r"^/conversation/dispatch$", status=503, count=1),
        ]
    )
    async with local_harness(faults=faults) as h:
        orc = h.orchestrator()

        @orc.job(runtime="1m")
        def once() -> str:
            return "hello [[tokens 3]]"

        async with orc:
            t0 = h.clock.time()
            handle = await once.start()
            assert h.clock.time() - t0 >= 2  # waited for Retry-After on the virtual clock
            result = await handle.result()
            assert await handle.status() is JobStatus.SUCCEEDED
        assert result.text


async def test_event_log_drop_falls_back_to_polling(harness: Harness) -> None:
    """With the event-log subscription failing, task runs are still tracked (execution-list polling)."""
    harness.platform.faults.add(http_error(r"^/event/log/subscribe$", status=503))
    orc = harness.orchestrator()

    @orc.job(runtime="2h", cancellable=True)
    def analysis() -> Prompt:
        return Prompt(text="Analyse [[sleep 30m]]")

    async with orc:
        result = await analysis.run()
    assert result.text


async def test_subscribe_failures_before_result_still_resolve(harness: Harness) -> None:
    """Channel subscriptions refused with 503 for a while are retried; the dispatch still resolves."""
    harness.platform.faults.add(http_error(r"^/channel/.*/subscribe$", status=503, count=6))
    orc = harness.orchestrator()

    @orc.job(runtime="3m")
    def patient() -> str:
        return "[[sleep 2m]] ok"

    async with orc:
        result = await patient.run()
    assert "ok" in result.text


async def test_stateful_dispatch_with_lost_channel_decided_by_history(harness: Harness) -> None:
    """A stateful dispatch whose channel cannot be read is decided by the conversation's messages."""
    async with harness.platform.client() as client:
        conversation = await client.conversations.create({})
    harness.platform.faults.add(http_error(r"^/channel/.*/subscribe$", status=404))
    orc = harness.orchestrator()

    @orc.job(runtime="5m")
    def followup(conversation_id: str) -> Prompt:
        return Prompt(text="continue [[sleep 2m]]", conversation_id=conversation_id)

    async with orc:
        handle = await followup.start(conversation.id)
        result = await handle.result()
    assert result.conversation_id == conversation.id
    assert result.text.startswith("Done")


async def test_stateless_dispatch_with_lost_channel_ends_at_the_ceiling(harness: Harness) -> None:
    """A stateless dispatch whose channel is never readable ends ceiling_exceeded after ceiling + grace."""
    from orchestrator import CeilingExceeded

    harness.platform.faults.add(http_error(r"^/channel/.*/subscribe$", status=503))
    orc = harness.orchestrator()

    @orc.job(runtime="5m")
    def blind() -> str:
        return "hello [[sleep 1m]]"

    async with orc:
        handle = await blind.start()
        t0 = harness.clock.time()
        with pytest.raises(CeilingExceeded) as info:
            await handle.result()
        assert info.value.partial_output == ""
        assert harness.clock.time() - t0 >= 15 * 60
