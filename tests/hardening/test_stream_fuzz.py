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
