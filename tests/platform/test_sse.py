"""Our SSE decoder against httpx-sse's: the same events and the same errors for any stream, split anywhere."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestrator import StreamProtocolError
from orchestrator.platform import SSEDecoder

from ._sse_reference import ReferenceSSEDecoder
from ._support import split_at

_json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=6)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["type", "data", "createdAt", "text", "x"]), inner, max_size=3),
    ),
    max_leaves=6,
)
_types = st.sampled_from(["token", "message", "result", "nop", "item", "", "bot", " token"])
_json_text = st.one_of(
    _json_value.map(lambda v: json.dumps(v, separators=(",", ":"))),
    _json_value.map(lambda v: f" {json.dumps(v)} "),
    st.sampled_from(["{", "nul", "1 2", "\xa0", " ", '{"a":1}x', "NaN", "\ufeff{}", "[]"]),
)
_field_line = st.one_of(
    _json_text.map(lambda d: f"data: {d}"),
    _json_text.map(lambda d: f"data:{d}"),
    _json_text.map(lambda d: f"data:  {d}"),
    _types.map(lambda t: f"event: {t}"),
    _types.map(lambda t: f"event:{t}"),
    st.sampled_from(
        [
            "",
            "",
            "data",
            "data:",
            "event",
            "event:",
            "id: 7",
            "id",
            "id: a\0b",
            "retry: 10",
            "retry: soon",
            "retry:+3",
            ": keep-alive",
            ":",
            "field: value",
            "eventful: x",
            "datum: 1",
        ]
    ),
    st.text(st.characters(blacklist_characters="\r\n"), max_size=12),
)
_newline = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r"])


@st.composite
def _streams(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.tuples(_field_line, _newline), max_size=25))
    text = "".join(line + end for line, end in lines)
    if draw(st.booleans()):
        text += draw(_field_line)  # an unterminated last line
    return text


def _run(decoder: Any, pieces: list[str]) -> list[Any]:
    """Every call's outcome: the events it returned, or the error it raised."""
    outcomes: list[Any] = []
    for call in [*(lambda p=p: decoder.feed(p) for p in pieces), decoder.flush]:
        try:
            events = call()
        except StreamProtocolError as exc:
            outcomes.append(("error", str(exc)))
        else:
            outcomes.append([repr((e.type, e.data, e.created_at, e.raw)) for e in events])
    return outcomes


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(_streams(), st.lists(st.integers(min_value=0), max_size=8), st.booleans())
@example("event: token\rdata: {}\r\r", [13], False)  # a CR pair split between chunks
@example("id: 1\n\n\nevent:\n\n", [], False)  # a last event id outlives its message
@example('event: message\ndata: {"type":"message","data":{"type":"bot","text":"x"}}\n\n', [], True)
def test_our_decoder_matches_httpx_sse_on_any_stream_andsplit_at(
    text: str, cuts: list[int], channel_items: bool
) -> None:
    """Fed the same chunks, SSEDecoder returns (or raises) exactly what the httpx-sse-based reference does."""
    pieces = split_at(text, cuts)
    ours = _run(SSEDecoder(channel_items=channel_items), pieces)
    reference = _run(ReferenceSSEDecoder(channel_items=channel_items), pieces)
    assert ours == reference


def test_a_line_of_megabytes_in_small_chunks_is_carried_as_pieces() -> None:
    """A 4 MB data line fed in 1 KB chunks is held as pieces (linear time) and decodes whole."""
    value = "x" * (4 * 1024 * 1024)
    text = f'event: token\ndata: {{"token":"{value}"}}\n\n'
    decoder = SSEDecoder()
    events = []
    for at in range(0, len(text), 1024):
        events += decoder.feed(text[at : at + 1024])
        if not events:
            assert decoder.pending <= at + 1024
    assert [(e.type, len(e.data["token"])) for e in events] == [("token", len(value))]
    assert decoder.pending == 0
