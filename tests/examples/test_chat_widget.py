"""examples/chat_widget.py: a stateful conversation, each reply streamed token by token."""

from __future__ import annotations

import pytest

from orchestrator import VirtualClock
from orchestrator.testing import Harness

from ._support import load_example

chat_widget = load_example("chat_widget")


async def test_conversation_streams_every_reply(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    """Three turns on one conversation: tokens printed as they arrive add up to each reply; history kept."""
    turns = ["Do you service e-bikes?", "How long does it take?", "Saturday then?"]
    transcript = await chat_widget.main(platform=harness.platform.client(), store="memory://", turns=turns)
    assert [t.user for t in transcript] == turns
    for turn in transcript:
        assert turn.tokens
        assert "".join(turn.tokens) == turn.reply
        assert turn.user in turn.reply  # the simulated agent answers with an excerpt of the question
    out = capsys.readouterr().out
    assert "reply runs as a complete" in out
    for turn in transcript:
        assert f"you: {turn.user}\nbot: {turn.reply}\n" in out
    async with harness.platform.client() as client:
        (conversation,) = [c async for c in client.conversations.list()]
        messages = [m async for m in client.conversations.messages(conversation.id, order="asc")]
    assert [m.type for m in messages] == ["user", "bot"] * 3
    assert [m.text for m in messages if m.type == "user"] == turns


async def test_default_platform(capsys: pytest.CaptureFixture[str]) -> None:
    """With no platform given it runs on the embedded local platform (no CHATBOTKIT_API_TOKEN)."""
    transcript = await chat_widget.main(clock=VirtualClock())
    assert [t.user for t in transcript] == list(chat_widget.TURNS)
    assert all("".join(t.tokens) == t.reply for t in transcript)
    assert "bot: Done: Hi! Do you service electric bikes?" in capsys.readouterr().out
