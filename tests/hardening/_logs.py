"""Checks over jobs' event logs shared by the fault suites: gaps, duplicates, tokens against the result."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

from orchestrator import EventType, JobHandle


@dataclass
class LogFigures:
    """What the event logs of a set of jobs hold."""

    ends: Counter[str] = field(default_factory=Counter)
    tokens: int = 0  # token deltas (one token event may hold several: its ``parts``)
    gaps: int = 0
    duplicates: int = 0
    reconnects: int = 0


async def check_logs(handles: list[JobHandle]) -> LogFigures:
    """Wait for every job; count how each ended and what its log holds; its tokens must spell its result."""
    out = LogFigures()
    for handle in handles:
        result = await handle.result()
        out.ends[(await handle.status()).value] += 1
        events = [e async for e in handle.events()]
        out.gaps += sum(1 for a, b in itertools.pairwise(e.seq for e in events) if b != a + 1)
        keys = [e.key for e in events if e.key]
        out.duplicates += len(keys) - len(set(keys))
        token_events = [e for e in events if e.type == EventType.TOKEN]
        tokens = [str(e.data["token"]) for e in token_events]
        out.tokens += sum(len(e.data.get("parts") or [None]) for e in token_events)
        out.reconnects += sum(1 for e in events if e.type == EventType.STREAM_RECONNECTED)
        assert "".join(tokens) == result.text, handle.id
    return out
