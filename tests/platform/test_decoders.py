"""The sans-IO stream decoders: JSONL and SSE, any chunking, blank lines, keep-alives, malformed lines."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator import StreamProtocolError, UsageError
from orchestrator.platform import JSONLDecoder, SSEDecoder, StreamEvent
from orchestrator.platform._sse import sse_item

from ._support import split_at

# -- strategies ----------------------------------------------------------------------------------------------

_json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()
)
_json = st.recursive(
    _json_scalar,
    # no "type" key in data: `event: t` + data {"type": t, "data": ...} is the whole-item variant by design
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=8).filter(lambda key: key != "type"), inner, max_size=4),
    ),
    max_leaves=12,
)
_types = st.one_of(
    st.sampled_from(["token", "result", "error", "message", "ping", "nop", "item", "sendResult", "usage"]),
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12),
)


@st.composite
def _items(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {"type": draw(_types)}
    if draw(st.booleans()):
        item["data"] = draw(_json)
    if draw(st.booleans()):
        item["createdAt"] = draw(st.integers(min_value=0, max_value=2**53))
    extra = draw(st.dictionaries(st.sampled_from(["id", "channel", "x"]), _json, max_size=2))
    item.update(extra)
    return item


def _decode_jsonl(pieces: list[Any]) -> list[StreamEvent]:
    decoder = JSONLDecoder()
    events: list[StreamEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.flush())
    return events


def _expected(items: list[dict[str, Any]]) -> list[tuple[str, Any, int | None, dict[str, Any]]]:
    return [(i["type"], i.get("data"), i.get("createdAt"), i) for i in items]


def _seen(events: list[StreamEvent]) -> list[tuple[str, Any, int | None, Any]]:
    return [(e.type, e.data, e.created_at, dict(e.raw)) for e in events]


# -- JSONL ---------------------------------------------------------------------------------------------------


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(_items(), max_size=12),
    separators=st.lists(
        st.sampled_from(["\n", "\r\n", "\n\n", "\n  \n", "\n\r\n"]), min_size=12, max_size=12
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
    as_bytes=st.booleans(),
    trailing_newline=st.booleans(),
)
def test_jsonl_any_split_yields_the_same_events(
    items: list[dict[str, Any]],
    separators: list[str],
    cuts: list[int],
    as_bytes: bool,
    trailing_newline: bool,
) -> None:
    """Any split of a JSONL stream (text or UTF-8 bytes, blank lines, CRLF) decodes to the same events."""
    text = "".join(
        json.dumps(item, ensure_ascii=False) + sep for item, sep in zip(items, separators, strict=False)
    )
    if not trailing_newline:
        text = text.rstrip("\r\n ")
    data: str | bytes = text.encode() if as_bytes else text
    assert _seen(_decode_jsonl(split_at(data, cuts))) == _expected(items)


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=3_000_000), min_size=1, max_size=40))
def test_jsonl_lines_of_megabytes_split_anywhere(cuts: list[int]) -> None:
    """A line over 1 MB (multi-byte UTF-8 included) decodes whole, however the bytes are split."""
    big = "é€" * 400_000  # 2.0 MB of UTF-8
    items: list[dict[str, Any]] = [
        {"type": "token", "data": {"token": "a"}},
        {"type": "message", "data": {"text": big}},
        {"type": "x"},
    ]
    data = _jsonl_bytes(items)
    assert len(data) > 2_000_000
    assert _seen(_decode_jsonl(split_at(data, cuts))) == _expected(items)


def _jsonl_bytes(items: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items).encode()


def test_jsonl_huge_line_in_small_chunks_keeps_a_small_carry() -> None:
    """A 4 MB line fed in 4 KiB chunks is joined once (linear), and nothing is held back after it."""
    line = json.dumps({"type": "message", "data": {"text": "z" * 4_000_000}}) + "\n"
    decoder = JSONLDecoder()
    events: list[StreamEvent] = []
    for start in range(0, len(line), 4096):
        events.extend(decoder.feed(line[start : start + 4096]))
    assert [e.type for e in events] == ["message"]
    assert len(events[0].data["text"]) == 4_000_000
    assert decoder.pending == 0


def test_jsonl_keepalives_and_unknown_types_pass_through_untouched() -> None:
    """``ping``, ``nop`` and unknown types are yielded with every key kept in ``raw``."""
    text = (
        '{"type":"nop"}\n{"type":"ping","data":{}}\n'
        '{"type":"sparkle","data":{"x":1},"extra":[1,2],"createdAt":5}\n'
    )
    events = JSONLDecoder().feed(text)
    assert [e.type for e in events] == ["nop", "ping", "sparkle"]
    assert events[0].data is None
    assert events[2].raw == {"type": "sparkle", "data": {"x": 1}, "extra": [1, 2], "createdAt": 5}
    assert events[2].created_at == 5


def test_jsonl_float_created_at_becomes_int_and_junk_becomes_none() -> None:
    """``createdAt`` is normalised to int milliseconds; a non-number leaves ``created_at`` ``None``."""
    decoder = JSONLDecoder()
    events = decoder.feed(
        '{"type":"a","createdAt":12.7}\n{"type":"b","createdAt":"soon"}\n  {"type":"c"}  \n'
    )
    assert [(e.type, e.created_at) for e in events] == [("a", 12), ("b", None), ("c", None)]
    assert events[1].raw["createdAt"] == "soon"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not json at all", "not valid JSON"),
        ('{"type": "token", "data": ', "not valid JSON"),
        ("[1, 2, 3]", "expected a JSON object, got list"),
        ('"just a string"', "expected a JSON object, got str"),
        ('{"data": {"token": "x"}}', "no string 'type'"),
        ('{"type": 7}', "no string 'type'"),
        ('{"type": "a"} {"type": "b"}', "Extra data"),
        ("<html><body>502 Bad Gateway</body></html>", "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_jsonl_malformed_line_raises_quoting_its_start(line: str, reason: str) -> None:
    """A malformed line raises StreamProtocolError saying why and quoting the line's first 200 characters."""
    decoder = JSONLDecoder()
    assert decoder.feed('{"type":"ok"}\n') != []
    with pytest.raises(StreamProtocolError) as caught:
        decoder.feed(line + "\n")
    message = str(caught.value)
    assert reason in message
    assert repr(line[:200]) in message
    assert len(message) < 600


def test_jsonl_malformed_last_line_without_newline_raises_on_flush() -> None:
    """A truncated final line (no newline) raises when the stream is flushed."""
    decoder = JSONLDecoder()
    assert decoder.feed(b'{"type":"token"}\n{"type":"res') != []
    with pytest.raises(StreamProtocolError, match="not valid JSON"):
        decoder.flush()


def test_jsonl_invalid_utf8_names_the_line() -> None:
    """Bytes that are not UTF-8 raise StreamProtocolError quoting the offending line."""
    decoder = JSONLDecoder()
    assert [e.type for e in decoder.feed(b'{"type":"a"}\n{"type":"\xff\xfe"}\n{"type":"b"}\n')] == ["a"]
    with pytest.raises(StreamProtocolError, match="not valid UTF-8") as caught:
        decoder.flush()
    assert "type" in str(caught.value)
    earlier = JSONLDecoder()
    assert [e.type for e in earlier.feed(b'{"type":"a"}\nnot json\n\xff\n')] == ["a"]
    with pytest.raises(StreamProtocolError, match="not valid JSON"):
        earlier.flush()


@pytest.mark.parametrize("as_bytes", [False, True])
def test_jsonl_events_before_a_malformed_line_are_delivered_first(as_bytes: bool) -> None:
    """Good lines in the same chunk as a malformed one are returned; the error comes on every later call."""
    text = '{"type":"token"}\n{"type":"result","data":{"text":"ok"}}\ngarbage\n{"type":"late"}\n'
    decoder = JSONLDecoder()
    events = decoder.feed(text.encode() if as_bytes else text)
    assert [e.type for e in events] == ["token", "result"]
    with pytest.raises(StreamProtocolError, match="garbage"):
        decoder.feed(b'{"type":"more"}\n' if as_bytes else '{"type":"more"}\n')
    with pytest.raises(StreamProtocolError, match="garbage"):
        decoder.flush()


def test_jsonl_refuses_mixing_str_and_bytes_mid_line() -> None:
    """Switching between str and bytes while a line is pending is a usage error, not silent corruption."""
    decoder = JSONLDecoder()
    decoder.feed(b'{"type":')
    with pytest.raises(UsageError, match="one kind"):
        decoder.feed('"a"}\n')
    other = JSONLDecoder()
    other.feed('{"type":')
    with pytest.raises(UsageError, match="one kind"):
        other.feed(b'"a"}\n')
    with pytest.raises(TypeError, match="str or bytes"):
        JSONLDecoder().feed(42)  # type: ignore[arg-type]


# -- SSE -----------------------------------------------------------------------------------------------------


def _decode_sse(pieces: list[str], *, channel_items: bool = False) -> list[StreamEvent]:
    decoder = SSEDecoder(channel_items=channel_items)
    events: list[StreamEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.flush())
    return events


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(_items(), max_size=10),
    styles=st.lists(st.sampled_from(["event+data", "event+item", "item"]), min_size=10, max_size=10),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_sse_any_split_and_either_data_variant_yields_the_items(
    items: list[dict[str, Any]], styles: list[str], newline: str, cuts: list[int]
) -> None:
    """Both SSE data variants, with any line ending and any split, decode to the items' type and data."""
    frames = []
    for item, style in zip(items, styles, strict=False):
        if style == "event+data":
            lines = [f"event: {item['type']}", f"data: {json.dumps(item.get('data'))}"]
        elif style == "event+item":
            whole = {
                "type": item["type"],
                "data": item.get("data"),
                **{k: v for k, v in item.items() if k != "type"},
            }
            lines = [f"event: {item['type']}", f"data: {json.dumps(whole)}"]
        else:
            lines = [f"data: {json.dumps(item)}"]
        frames.append(newline.join([": comment", *lines, "", ""]))
    text = "".join(frames)
    events = _decode_sse(split_at(text, cuts))
    assert [(e.type, e.data) for e in events] == [(i["type"], i.get("data")) for i in items]


def test_sse_event_with_data_of_the_item() -> None:
    """``event: <type>`` + ``data: <json of data>`` (the local platform's framing) gives type and data."""
    events = SSEDecoder().feed(
        'event: token\ndata: {"token":"Hel"}\n\nevent: result\ndata: {"text":"Hello"}\n\n'
    )
    assert [(e.type, e.data) for e in events] == [("token", {"token": "Hel"}), ("result", {"text": "Hello"})]
    assert events[0].raw == {"type": "token", "data": {"token": "Hel"}}


def test_sse_whole_item_keeps_every_key() -> None:
    """``data:`` holding the whole item (with or without ``event:``) keeps ``createdAt`` and unknown keys."""
    item = {"type": "token", "data": {"token": "a"}, "createdAt": 9, "extra": True}
    events = SSEDecoder().feed(f"event: token\ndata: {json.dumps(item)}\n\ndata: {json.dumps(item)}\n\n")
    assert [(e.type, e.data, e.created_at, dict(e.raw)) for e in events] == [
        ("token", {"token": "a"}, 9, item)
    ] * 2


def test_sse_message_without_data_and_keepalive_comments() -> None:
    """An ``event:`` without data gives ``data=None``; comments and a bare ``id:`` give nothing."""
    events = SSEDecoder().feed(": keep-alive\n\nevent: ping\n\nid: 7\n\nevent: nop\ndata: {}\n\n")
    assert [(e.type, e.data) for e in events] == [("ping", None), ("nop", {})]


def test_sse_multi_line_data_is_joined() -> None:
    """Several ``data:`` lines of one message are joined with newlines before parsing."""
    events = SSEDecoder().feed('event: result\ndata: {"text":\ndata: "hi"}\n\n')
    assert [(e.type, e.data) for e in events] == [("result", {"text": "hi"})]


def test_sse_open_message_at_end_of_stream_is_delivered_on_flush() -> None:
    """A final message lacking its blank line is not lost: flush delivers it."""
    decoder = SSEDecoder()
    assert decoder.feed('event: result\ndata: {"text":"done"}') == []
    assert [(e.type, e.data) for e in decoder.flush()] == [("result", {"text": "done"})]
    assert decoder.flush() == []


def test_sse_channel_item_wrapping_a_message_event_is_not_unwrapped_twice() -> None:
    """On a channel, ``event: message`` + an inner ``message`` event stays wrapped; whole items unwrap."""
    inner_message = {"type": "message", "data": {"type": "bot", "text": "hi"}}
    inner_token = {"type": "token", "data": {"token": "x"}}
    whole = {"type": "message", "data": inner_token}
    text = (
        f"event: message\ndata: {json.dumps(inner_message)}\n\n"
        f"event: message\ndata: {json.dumps(inner_token)}\n\n"
        f"event: message\ndata: {json.dumps(whole)}\n\n"
    )
    events = _decode_sse([text], channel_items=True)
    inners = [e.inner() for e in events]
    assert [(i.type, i.data) if i else None for i in inners] == [
        ("message", {"type": "bot", "text": "hi"}),
        ("token", {"token": "x"}),
        ("token", {"token": "x"}),
    ]


def test_sse_completion_message_event_whole_item_is_unwrapped() -> None:
    """On a completion stream, ``event: message`` + the whole ``message`` item gives the chat message."""
    whole = {"type": "message", "data": {"type": "bot", "text": "hi"}}
    events = _decode_sse([f"event: message\ndata: {json.dumps(whole)}\n\n"])
    assert [(e.type, e.data) for e in events] == [("message", {"type": "bot", "text": "hi"})]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("event: token\ndata: {not json\n\n", "SSE data is not valid JSON"),
        ('data: {"no": "type"}\n\n', "without an event name"),
        ("data: [1, 2]\n\n", "without an event name"),
    ],
)
def test_sse_malformed_data_raises_quoting_it(text: str, reason: str) -> None:
    """Malformed SSE data raises StreamProtocolError that quotes the data."""
    with pytest.raises(StreamProtocolError, match=reason) as caught:
        SSEDecoder().feed(text)
    data = text.split("data: ", 1)[1].split("\n")[0]
    assert data[:20] in str(caught.value)


def test_sse_events_before_malformed_data_are_delivered_first() -> None:
    """Messages before a malformed one are returned; the error comes on the next call."""
    decoder = SSEDecoder()
    events = decoder.feed('event: result\ndata: {"text":"ok"}\n\nevent: token\ndata: {oops\n\n')
    assert [e.type for e in events] == ["result"]
    with pytest.raises(StreamProtocolError, match="oops"):
        decoder.feed("event: nop\n\n")
    with pytest.raises(StreamProtocolError, match="oops"):
        decoder.flush()


def test_sse_item_helper_handles_absent_event_and_blank_data() -> None:
    """A message with neither event nor data is nothing; a whole item without data is recognised."""
    assert sse_item(None, "") is None
    event = sse_item("nop", '{"type":"nop"}')
    assert event is not None
    assert (event.type, event.data) == ("nop", None)
