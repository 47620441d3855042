"""examples/chat_bot.py: questions answered at once, work handed to a plan and followed up in the thread."""

from __future__ import annotations

import pytest

from orchestrator import VirtualClock
from orchestrator.testing import Harness

from ._support import load_example

chat_bot = load_example("chat_bot")


async def test_bot_answers_now_and_follows_up_the_plan(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    """A question gets an answer; a work request gets an ack, then its plan and outcome; a redelivery adds nothing."""
    start = harness.clock.time()
    posts = await chat_bot.main(platform=harness.platform.client(), store="memory://")
    by_thread: dict[str, list[str]] = {}
    for post in posts:
        by_thread.setdefault(post.thread, []).append(post.text)

    (answer,) = by_thread["support"]
    assert "refund policy" in answer  # the simulated agent replies with an excerpt of the question

    ack, ack_again, planned, outcome = by_thread["churn-review"]
    assert ack.startswith("On it") and ack == ack_again  # redelivered: the same plan, followed up once
    assert planned.startswith("Planned 3 task(s):")
    assert "0 8 * * 1 (Europe/London)" in planned
    assert outcome.startswith("Done:")
    assert outcome.count("✓ ") == 2
    assert "↻ every-monday-morning-post-a-churn-digest-in-this: next run Mon 23 Mar 08:00 UTC" in outcome
    assert "refused check-the-cancellations-dashboard" in outcome and "12h" in outcome
    assert harness.clock.time() - start >= 90 * 60  # the longest task worked 1h30 of platform time

    out = capsys.readouterr().out
    assert "#churn-review ben: Can you dig into last quarter's churn?" in out
    assert "demo cleanup: plan plan_" in out
    async with harness.platform.client() as client:
        tasks = [t async for t in client.tasks.list()]
    assert not [t for t in tasks if t.schedule]  # the demo removed the recurring digest it scheduled


async def test_default_platform_keeping_schedules(capsys: pytest.CaptureFixture[str]) -> None:
    """On the default embedded platform, keep_schedules=True follows the plan up and cancels nothing."""
    posts = await chat_bot.main(clock=VirtualClock(), keep_schedules=True)
    assert [p.text.split(":")[0] for p in posts if p.thread == "churn-review"] == [
        "On it",
        "On it",
        "Planned 3 task(s)",
        "Done",
    ]
    assert "demo cleanup" not in capsys.readouterr().out
