"""De-duplicating channel replay: a stable position for events that carry no sequence number.

A dispatch channel keeps its last ``HISTORY`` (1000) events. Re-subscribing with ``historyLength`` replays them,
oldest first, then continues live, and the wire carries no sequence ids. :class:`ReplayAligner` gives every event
its absolute position in the channel (0, 1, 2, ...) and tells a replayed event (already seen) from a new one.

It keeps the fingerprints of the last ``HISTORY`` events seen. After a reconnect the replay starts at some
absolute position ``s`` with ``max(0, seen - HISTORY) <= s``; each candidate ``s`` must agree with every replayed
event so far. The smallest agreeing candidate wins, which is exact whenever the channel held at most ``HISTORY``
events (then ``s = 0``), and whenever nothing was published while disconnected. Only a periodic event sequence
longer than the history window, with events published during the gap, can be ambiguous.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["HISTORY", "ReplayAligner", "fingerprint"]

HISTORY = 1000


def fingerprint(event_type: str, data: Any) -> bytes:
    """A short stable digest of an event's type and data.

    Data that is exactly ``{"token": text}`` (every streamed delta) is hashed without JSON encoding: its
    type and text, after a NUL byte no JSON text starts with, so it cannot collide with the general form.
    """
    if type(data) is dict and len(data) == 1:
        token = data.get("token")
        if type(token) is str:
            blob = b"\0" + event_type.encode() + b"\0" + token.encode("utf-8", "surrogatepass")
            return hashlib.blake2b(blob, digest_size=12).digest()
    blob = json.dumps([event_type, data], sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.blake2b(blob, digest_size=12).digest()


class ReplayAligner:
    """Assigns absolute channel positions to a stream of events, across reconnects with replay."""

    def __init__(self, history: int = HISTORY) -> None:
        self._history = history
        self._fps: deque[bytes] = deque(maxlen=history)
        self._seen = 0  # absolute count of distinct events seen
        self._candidates: list[int] | None = None  # replay start candidates while aligning
        self._replayed = 0  # events received since the last reconnect

    @property
    def seen(self) -> int:
        """How many distinct channel events were seen (the next new event gets this position)."""
        return self._seen

    def restore(self, fingerprints: Iterable[bytes], seen: int) -> None:
        """Rebuild from the fingerprints of the last events seen (oldest first) and the absolute count."""
        self._fps.clear()
        self._fps.extend(fingerprints)
        self._seen = seen
        self._candidates = None

    def reconnect(self) -> None:
        """A new subscription with replay begins: the next events may repeat ones already seen."""
        if self._seen == 0:
            self._candidates = None
            return
        low = max(0, self._seen - len(self._fps))
        self._candidates = list(range(low, self._seen + 1))
        self._replayed = 0

    def _fp_at(self, position: int) -> bytes | None:
        offset = position - (self._seen - len(self._fps))
        if 0 <= offset < len(self._fps):
            return self._fps[offset]
        return None

    def feed(self, event_type: str, data: Any) -> int | None:
        """The event's absolute position if it is new, or ``None`` if it is a replay of one already seen."""
        fp = fingerprint(event_type, data)
        if self._candidates is not None:
            i = self._replayed
            self._replayed += 1
            # keep the candidates s for which position s+i is either beyond what we saw, or matches
            kept = []
            for s in self._candidates:
                pos = s + i
                if pos >= self._seen or self._fp_at(pos) == fp:
                    kept.append(s)
            if kept:
                self._candidates = kept
                best = kept[0]
                if best + i < self._seen:
                    return None
            # aligned past what we saw (or nothing agrees: a gap); from here on events are new
            self._candidates = None
        position = self._seen
        self._fps.append(fp)
        self._seen += 1
        return position

    def forget_last(self) -> None:
        """Undo the last new position (its event could not be recorded): a replay delivers it again as new."""
        if self._seen and self._fps:
            self._fps.pop()
            self._seen -= 1


def fingerprint_of(event: Mapping[str, Any]) -> bytes:
    """The fingerprint of a raw ``{type, data}`` event mapping."""
    return fingerprint(str(event.get("type")), event.get("data"))
