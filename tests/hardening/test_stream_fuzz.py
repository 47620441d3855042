"""Stream decoding fuzzed with random, truncated and oversized input: only ``StreamProtocolError``, bounded memory."""

from __future__ import annotations

import json
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import StreamProtocolError
from orchestrator.platform import JSONLDecoder, SSEDecoder

from . import _hostile as hostile
from ._tally import broken, tried

T = TypeVar("T", str, bytes)

items = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from(["token", "message", "result"]), hostile.json_values)},
    optional={"data": hostile.json_values},
)
wire = st.one_of(
    st.binary(max_size=300),
    st.lists(items, max_size=5).map(lambda xs: b"".join(hostile.encode_json(x) + b"\n" for x in xs)),
    st.lists(items, max_size=5).map(
        lambda xs: "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in xs).encode(
            "utf-8", "surrogatepass"
        )
    ),
    st.sampled_from(
        [b"{", b'{"type": 1}\n', b"[]\n", b"\xff\xfe\n", b"data: {\n\n", b"event: x\ndata: [\n\n", b"NaN\n"]
    ),
)


def _chunks(data: T, cuts: list[int]) -> list[T]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


def _run(surface: str, feed: object, flush: object) -> None:
    try:
        feed()  # type: ignore[operator]
        flush()  # type: ignore[operator]
    except StreamProtocolError as exc:
        message = exc.message
        tried(surface, refused=bool(message))
        return
    except Exception as exc:
        broken(surface, f"{type(exc).__name__}: {exc!r}"[:300])
        raise
    tried(surface, refused=False)


@given(data=wire, cuts=st.lists(st.integers(min_value=0), max_size=6), truncate=st.integers(min_value=0))
def test_jsonl_decoder_raises_only_stream_protocol_errors(
    data: bytes, cuts: list[int], truncate: int
) -> None:
    """Random, split and truncated JSONL bytes decode to events or raise StreamProtocolError, nothing else."""
    data = data[: truncate % (len(data) + 1)] if truncate % 3 == 0 else data
    decoder = JSONLDecoder()

    def feed() -> None:
        for chunk in _chunks(data, cuts):
            decoder.feed(chunk)

    _run("stream: JSONL decoder", feed, decoder.flush)


@given(
    text=st.one_of(st.text(hostile.ANY_CHAR, max_size=300), wire.map(lambda b: b.decode("utf-8", "replace"))),
    cuts=st.lists(st.integers(min_value=0), max_size=6),
)
def test_sse_decoder_raises_only_stream_protocol_errors(text: str, cuts: list[int]) -> None:
    """Random and split SSE text decodes to events or raises StreamProtocolError, nothing else."""
    decoder = SSEDecoder(channel_items=True)
    parts = _chunks(text, cuts)

    def feed() -> None:
        for part in parts:
            decoder.feed(part)

    _run("stream: SSE decoder", feed, decoder.flush)


@pytest.mark.parametrize("kind", ["bytes", "str"])
def test_a_stream_without_newlines_is_refused_past_the_line_bound(kind: str) -> None:
    """An oversized line (no newline) raises StreamProtocolError at ``max_line``; the held data stays bounded."""
    decoder = JSONLDecoder(max_line=1_000_000)
    chunk: bytes | str = b"x" * 65_536 if kind == "bytes" else "x" * 65_536
    for _ in range(15):  # 983,040 held back: still within the bound
        assert decoder.feed(chunk) == []
    assert decoder.pending == 15 * 65_536
    with pytest.raises(StreamProtocolError, match="without a newline"):
        decoder.feed(chunk)
    assert decoder.pending == 0
    with pytest.raises(StreamProtocolError):
        decoder.feed(chunk)
    tried("stream: JSONL decoder", refused=True)


def test_an_sse_line_without_its_end_is_refused_past_the_line_bound() -> None:
    """An SSE line longer than ``max_line`` held back raises StreamProtocolError; the held text is dropped."""
    decoder = SSEDecoder(max_line=1_000)
    for _ in range(10):  # 1,000 held back: within the bound
        assert decoder.feed("d" * 100) == []
    assert decoder.pending == 1_000
    with pytest.raises(StreamProtocolError, match="over 1000 characters without its end"):
        decoder.feed("d")
    assert decoder.pending == 0
    with pytest.raises(StreamProtocolError):
        decoder.feed("\n\n")
    tried("stream: SSE decoder", refused=True)


def test_an_sse_line_left_open_after_complete_messages_is_refused_after_they_are_delivered() -> None:
    """Events completed before an oversized open line are delivered; the bound's error comes on the next call."""
    decoder = SSEDecoder(max_line=50)
    events = decoder.feed('event: token\ndata: "a"\n\ndata: ' + "x" * 60)
    assert [(e.type, e.data) for e in events] == [("token", "a")]
    with pytest.raises(StreamProtocolError, match="over 50 characters"):
        decoder.flush()
    tried("stream: SSE decoder", refused=True)


@pytest.mark.parametrize("split", [False, True])
def test_an_sse_message_of_many_data_lines_is_refused_past_the_event_bound(split: bool) -> None:
    """A message whose data lines add up past ``max_event`` raises StreamProtocolError, however it is chunked."""
    decoder = SSEDecoder(max_event=1_000)
    text = 'event: token\ndata: "ok"\n\n' + "data: 1234567\n" * 200 + "\n"
    events: list[object] = []
    parts = [text[i : i + 7] for i in range(0, len(text), 7)] if split else [text]

    def feed() -> None:
        for part in parts:
            events.extend(decoder.feed(part))
        decoder.flush()

    with pytest.raises(StreamProtocolError, match="over 1000 characters of data"):
        feed()
    assert len(events) == 1
    assert decoder.pending <= 1_000
    tried("stream: SSE decoder", refused=True)


def test_an_sse_message_within_the_bounds_is_decoded() -> None:
    """A message just within ``max_event`` and ``max_line`` decodes as usual."""
    decoder = SSEDecoder(max_line=100, max_event=100)
    payload = '"' + "y" * 90 + '"'
    events = decoder.feed("event: token\ndata: " + payload + "\n\n")
    assert [(e.type, e.data) for e in events] == [("token", "y" * 90)]


@pytest.mark.parametrize("value", [0, -1, 1.5, "10", True])
def test_sse_decoder_bounds_must_be_positive_ints(value: object) -> None:
    """A bound that is not a positive int is refused with InvalidArgument naming it."""
    from orchestrator import InvalidArgument

    with pytest.raises(InvalidArgument, match="max_line"):
        SSEDecoder(max_line=value)  # type: ignore[arg-type]
    tried("stream: SSE decoder bounds", refused=True)


@given(
    text=st.one_of(
        st.text(hostile.ANY_CHAR, max_size=400),
        st.lists(st.sampled_from(["data: ", "x" * 40, "\n", "\r", ":c", "event: t", '"q"']), max_size=60).map(
            "".join
        ),
    ),
    cuts=st.lists(st.integers(min_value=0), max_size=8),
    bound=st.integers(min_value=1, max_value=120),
)
def test_sse_decoder_holds_no_more_than_its_bounds(text: str, cuts: list[int], bound: int) -> None:
    """Random SSE text against small bounds: only StreamProtocolError, and never more held than the bounds."""
    decoder = SSEDecoder(max_line=bound, max_event=bound)
    parts = _chunks(text, cuts)

    def feed() -> None:
        for part in parts:
            decoder.feed(part)
            assert decoder.pending <= bound + 1
            assert sum(map(len, decoder._data)) <= bound

    _run("stream: SSE decoder (bounded)", feed, decoder.flush)
