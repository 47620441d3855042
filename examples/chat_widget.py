"""The chat widget: a stateful conversation, each reply an interactive completion streamed token by token.

What it shows:

- ``@orc.job(interactive=True)`` is routed to a *completion* (the reply is needed in the same call).
- A stateful conversation: the platform keeps the history (``Prompt(conversation_id=...)`` sends only the new
  message), so every turn builds on the previous ones.
- Streaming: the reply's tokens are printed as they arrive, from the job's event log (``handle.events()``), the
  same log a web widget would read over SSE; ``handle.result()`` then gives the whole reply and its usage.

Run it::

    python examples/chat_widget.py

Without ``CHATBOTKIT_API_TOKEN`` it talks to the embedded local platform's simulated agent (replies are an
excerpt of the question, streamed as tokens); with it, to ChatBotKit. Jobs are kept in ``ORCHESTRATOR_STORE`` if
set, else in memory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from orchestrator import Clock, EventType, Orchestrator, Prompt
from orchestrator.store import JobStore

if TYPE_CHECKING:
    from orchestrator.local import LocalPlatform
    from orchestrator.platform import PlatformClient

BACKSTORY = "You are the friendly assistant of a bike shop. Answer in two or three sentences."
TURNS = (
    "Hi! Do you service electric bikes?",
    "How long does a full service take?",
    "Great, can I book one for Saturday morning?",
)


@dataclass(frozen=True)
class Turn:
    """One exchange: what the user said, the reply, and the tokens it streamed as."""

    user: str
    reply: str
    tokens: tuple[str, ...]


async def main(
    *,
    clock: Clock | None = None,
    platform: PlatformClient | LocalPlatform | None = None,
    store: str | JobStore | None = None,
    turns: Sequence[str] = TURNS,
) -> list[Turn]:
    """Hold a conversation of ``turns``, streaming every reply; return the transcript.

    Args:
        clock: the clock (tests pass a ``VirtualClock``); wall time by default.
        platform: a platform client or local platform; ``None`` lets ``Orchestrator`` choose from the environment.
        store: a store URL or object; ``ORCHESTRATOR_STORE`` or ``memory://`` by default.
        turns: what the user says, one message per turn.
    """
    orc = Orchestrator(
        platform=platform,
        store=store or os.environ.get("ORCHESTRATOR_STORE") or "memory://",
        clock=clock,
    )

    @orc.job(interactive=True)
    def reply(conversation_id: str, text: str) -> Prompt:
        return Prompt(text=text, conversation_id=conversation_id)

    print(f"reply runs as a {reply.route.value} (interactive: the reply is needed in the same call)\n")
    transcript: list[Turn] = []
    async with orc:
        # the widget's session: one conversation on the platform, which keeps its history
        conversation = await orc.client.conversations.create({"backstory": BACKSTORY})
        print(f"conversation {conversation.id}\n")
        for text in turns:
            print(f"you: {text}")
            print("bot: ", end="", flush=True)
            handle = await reply.start(conversation.id, text)
            tokens: list[str] = []
            async for event in handle.events():
                if event.type == EventType.TOKEN:
                    token = str(event.data["token"])
                    tokens.append(token)
                    print(token, end="", flush=True)
            result = await handle.result()
            print(f"\n     ({result.usage.get('token', '?')} tokens, end: {result.end_reason})\n")
            transcript.append(Turn(user=text, reply=result.text, tokens=tuple(tokens)))
    return transcript


if __name__ == "__main__":
    import logging

    import structlog

    # an application decides what it logs: keep the console for the conversation
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    anyio.run(main)
