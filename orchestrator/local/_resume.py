"""Continuations, as the simulated agent sees them: a request that goes on from a reply cut off at a time limit.

A reply cut off at the dispatch ceiling is kept in the history (a stateful conversation's messages, or the messages
of a stateless request) as a ``bot`` message whose ``meta.incomplete`` says how long that part worked
(``{reason, elapsed}``), followed by a ``user`` message asking to go on. :func:`continuation` walks back over
such pairs to the prompt that steered the run and adds up the time already worked, so the agent runs that prompt's
directives from where the parts before it stopped: a ``[[sleep 40m]]`` continued twice after 15 minutes each works
10 more minutes, and tokens streamed before a cut are not streamed again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["continuation"]


def _incomplete(message: Mapping[str, Any]) -> float | None:
    """The seconds a cut-off part worked, when ``message`` is such a part's reply."""
    meta = message.get("meta")
    info = meta.get("incomplete") if isinstance(meta, Mapping) else None
    if message.get("type") != "bot" or not isinstance(info, Mapping) or "elapsed" not in info:
        return None
    try:
        return max(0.0, float(info["elapsed"]))
    except (TypeError, ValueError):
        return None


def _previous_user(messages: Sequence[Mapping[str, Any]], before: int) -> int | None:
    for i in range(before - 1, -1, -1):
        if messages[i].get("type") == "user":
            return i
    return None


def continuation(messages: Sequence[Mapping[str, Any]]) -> tuple[str, float] | None:
    """``(steering prompt, seconds already worked)`` when the last user message continues cut-off parts."""
    current = _previous_user(messages, len(messages))
    elapsed = 0.0
    found = False
    while current is not None and current > 0:
        worked = _incomplete(messages[current - 1])
        if worked is None:
            break
        elapsed += worked
        found = True
        previous = _previous_user(messages, current - 1)
        if previous is None:
            break
        current = previous
    if not found or current is None:
        return None
    return str(messages[current].get("text", "")), elapsed
