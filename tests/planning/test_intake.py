"""ChatIntake: a chat message is answered at once; its work is planned; follow-ups are posted."""

from __future__ import annotations

from orchestrator.planning import ChatIntake, PlanPolicy
from orchestrator.testing import Harness

from ._support import THREE_LINES, platform_tasks


async def test_message_answered_at_once_then_followed_up(harness: Harness) -> None:
    """The reply names the plan before any task exists; follow-ups list the tasks, then the outcome."""
    posted: list[str] = []

    async def notify(text: str) -> None:
        posted.append(text)

    orc = harness.orchestrator()
    async with orc:
        intake = ChatIntake(orc, policy=PlanPolicy(max_tasks=5))
        reply = await intake.receive(THREE_LINES, message_id="slack-1700000000.000100", notify=notify)
        assert reply.plan is not None
        assert reply.plan.id in reply.text
        assert posted == []  # nothing planned yet: the answer did not wait for the plan
        result = await reply.plan.result()
        redelivered = await intake.receive(THREE_LINES, message_id="slack-1700000000.000100")
        await harness.clock.sleep(1)
        tasks = await platform_tasks(harness)
    assert redelivered.plan is not None and redelivered.plan.id == reply.plan.id
    assert len(tasks) == 3
    assert posted[0].startswith("Planned 3 task(s):")
    assert "post-a-digest-of-new-findings: 0 7 * * 1-5 (Europe/London), up to 20m [scheduled]" in posted[0]
    assert posted[1].startswith("Plan finished:")
    assert "recurring, next run 2026-03-23T07:00:00+00:00" in posted[1]
    assert len(result.results) == 2 and all(f"• {name}: done" in posted[1] for name in result.results)


async def test_unplannable_messages_are_answered_without_a_plan(harness: Harness) -> None:
    """Empty and over-long messages get a plain answer and no plan; a reply with no plan is reported."""
    posted: list[str] = []

    async def notify(text: str) -> None:
        posted.append(text)

    orc = harness.orchestrator()
    async with orc:
        intake = ChatIntake(orc, max_message_length=500)
        empty = await intake.receive("  ", message_id="m1")
        long = await intake.receive("x" * 501, message_id="m2")
        vague = await intake.receive("What do you think about batteries?", message_id="m3", notify=notify)
        assert vague.plan is not None
        await harness.clock.sleep(60)
    assert empty.plan is None and "what needs doing" in empty.text
    assert long.plan is None and "at most 500" in long.text
    assert (
        len(posted) == 1
        and posted[0].startswith("I couldn't finish that: plan ")
        and "holds no plan" in posted[0]
    )
