"""Replay de-duplication on channels without sequence numbers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.supervise import ReplayAligner


def _deliver(events: list[str], cuts: list[int], history: int) -> list[int]:
    """Feed ``events`` through an aligner, reconnecting at each cut with a replay of the last ``history``."""
    aligner = ReplayAligner(history=history)
    out: list[int] = []
    published = 0
    for cut in [*sorted(set(cuts)), len(events)]:
        cut = min(max(cut, published), len(events))
        if published:
            aligner.reconnect()
            start = max(0, published - history)
            for i in range(start, published):
                pos = aligner.feed("token", {"token": events[i]})
                if pos is not None:
                    out.append(pos)
        for i in range(published, cut):
            pos = aligner.feed("token", {"token": events[i]})
            if pos is not None:
                out.append(pos)
        published = cut
    return out


@given(
    st.lists(st.sampled_from(["a", "b", "c", "the", " "]), max_size=60),
    st.lists(st.integers(min_value=0, max_value=60), max_size=5),
)
def test_replay_within_history_is_exact(events: list[str], cuts: list[int]) -> None:
    """With the whole channel in history, every event is delivered exactly once, in order."""
    assert _deliver(events, cuts, history=1000) == list(range(len(events)))


@given(
    st.lists(st.text(min_size=8, max_size=8), min_size=1, max_size=80, unique=True),
    st.lists(st.integers(min_value=0, max_value=80), max_size=5),
)
def test_replay_beyond_history_with_distinct_events(events: list[str], cuts: list[int]) -> None:
    """With a history window smaller than the stream, distinct events are still delivered exactly once."""
    assert _deliver(events, cuts, history=10) == list(range(len(events)))


def test_gap_larger_than_history_skips_lost_events() -> None:
    """Events published beyond the replay window while disconnected are lost; the rest are new, not duplicates."""
    aligner = ReplayAligner(history=3)
    for i in range(3):
        assert aligner.feed("token", {"token": f"e{i}"}) == i
    aligner.reconnect()
    # 10 events published meanwhile; the replay holds only the last 3 of them
    positions = [aligner.feed("token", {"token": f"e{i}"}) for i in range(10, 13)]
    assert positions == [3, 4, 5]


def test_restore_rebuilds_the_window() -> None:
    """A restored aligner (after a restart) recognises the replay of what was stored."""
    first = ReplayAligner()
    for i in range(5):
        first.feed("token", {"token": str(i)})
    from orchestrator.supervise._align import fingerprint

    second = ReplayAligner()
    second.restore([fingerprint("token", {"token": str(i)}) for i in range(5)], 5)
    second.reconnect()
    got = [second.feed("token", {"token": str(i)}) for i in range(7)]
    assert got == [None] * 5 + [5, 6]
