"""Prompts and live tools in wire form."""

from __future__ import annotations

import pytest

from orchestrator import Prompt, Tool


def lookup_order(order_id: str, verbose: bool = False) -> dict[str, str]:
    """Look up an order by id.

    More text that is not part of the description.
    """
    return {"id": order_id}


def test_stateless_body() -> None:
    """A text prompt becomes one user message with the bot configuration inline."""
    body, channels = Prompt(text="hi", bot_id="b1", backstory="be brief", model="m").to_wire()
    assert body == {
        "messages": [{"type": "user", "text": "hi"}],
        "botId": "b1",
        "backstory": "be brief",
        "model": "m",
    }
    assert channels == {}


def test_stateful_body_has_no_messages() -> None:
    """A stateful prompt sends only the new text; the platform keeps the history."""
    body, _ = Prompt(text="next", conversation_id="c1").to_wire()
    assert body == {"text": "next"}


def test_callable_becomes_a_live_tool() -> None:
    """A callable is declared from its signature and docstring, with a result channel of 16+ chars."""
    prompt = Prompt(text="x", functions=[lookup_order])
    body, channels = prompt.to_wire()
    (fn,) = body["functions"]
    assert fn["name"] == "lookup_order"
    assert fn["description"] == "Look up an order by id."
    assert fn["parameters"]["properties"] == {"order_id": {"type": "string"}, "verbose": {"type": "boolean"}}
    assert fn["parameters"]["required"] == ["order_id"]
    assert fn["result"]["channel"] == channels["lookup_order"]
    assert len(channels["lookup_order"]) >= 16
    assert prompt.tools["lookup_order"].handler is lookup_order


def test_bad_tool_name_is_refused() -> None:
    """Tool names must be JS identifiers of at most 64 characters."""
    with pytest.raises(ValueError, match="JavaScript identifier"):
        Tool(name="no spaces", description="d")
    with pytest.raises(ValueError, match="64"):
        Tool(name="a" * 65, description="d")


def test_prompt_needs_content() -> None:
    """An empty prompt is refused with what to give."""
    with pytest.raises(ValueError, match="text or messages"):
        Prompt()


def test_text_and_messages_are_exclusive() -> None:
    """text and messages together are refused."""
    with pytest.raises(ValueError, match="not both"):
        Prompt(text="a", messages=[{"type": "user", "text": "b"}])


def test_coerce_str() -> None:
    """A str returned by a job is the prompt text; anything else is refused."""
    assert Prompt.coerce("hello").text == "hello"
    with pytest.raises(TypeError, match="Prompt or a str"):
        Prompt.coerce(42)  # type: ignore[arg-type]
