"""Hypothesis strategies for hostile input: text that cannot be encoded, huge and deep values, wrong types."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

# every code point, lone surrogates included (hypothesis leaves out category Cs unless told)
ANY_CHAR = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
NASTY = (
    "\ud800",
    "a\udfffb",
    "\ud83d",
    "\x00",
    "\u202e\u200b",
    "\ufeff",
    "%ff%fe",
    " " * 20,
    "/" * 20,
    "../../../etc/passwd",
    "\r\n\r\n",
    "'; DROP TABLE jobs; --",
    "\\u0000",
)

hostile_text = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.sampled_from(NASTY),
    st.builds(lambda n, c: c * n, st.sampled_from([5_000, 40_000]), st.sampled_from("x\ud800é")),
)
leaf: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**63) - 1, 10**400, 0, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)
json_values: st.SearchStrategy[Any] = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(ANY_CHAR, max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

MESSAGE_TYPES = ("user", "bot", "context", "activity", "instruction", "backstory", "reasoning", "checkpoint")
message = st.fixed_dictionaries(
    {
        "type": st.one_of(st.sampled_from(MESSAGE_TYPES), json_values),
        "text": st.one_of(hostile_text, json_values),
    },
    optional={"meta": json_values},
)
function = st.fixed_dictionaries(
    {
        "name": st.one_of(st.sampled_from(["lookup", "x" * 65, "1bad", "ok$"]), hostile_text),
        "description": hostile_text,
        "parameters": st.one_of(st.just({"type": "object", "properties": {}}), json_values),
    },
    optional={"result": st.one_of(st.just({"channel": "c" * 20}), json_values)},
)

# the body fields the platform reads, each with values that are mostly of the right shape
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "messages": st.one_of(st.lists(message, max_size=3), json_values),
    "text": st.one_of(hostile_text, json_values),
    "name": st.one_of(hostile_text, json_values),
    "description": st.one_of(hostile_text, json_values),
    "meta": st.one_of(st.dictionaries(hostile_text, hostile_text, max_size=3), json_values),
    "botId": st.one_of(hostile_text, json_values),
    "backstory": hostile_text,
    "model": hostile_text,
    "channelId": st.one_of(hostile_text, st.just("c" * 30), json_values),
    "functions": st.one_of(st.lists(function, max_size=2), json_values),
    "limits": st.one_of(st.dictionaries(st.sampled_from(["iterations", "calls"]), json_values), json_values),
    "historyLength": st.one_of(st.integers(), json_values),
    "message": st.one_of(st.dictionaries(hostile_text, json_values, max_size=3), json_values),
    "schedule": st.one_of(st.sampled_from(["0 7 * * 1-5", "* * * * * * *", "never"]), hostile_text),
    "timezone": st.one_of(st.sampled_from(["Europe/London", "Mars/Base"]), hostile_text),
    "maxTime": st.one_of(st.integers(), json_values),
    "contactId": st.one_of(hostile_text, json_values),
    "extensions": json_values,
    "type": st.one_of(st.sampled_from(MESSAGE_TYPES), hostile_text),
    "entities": json_values,
    "expiresAt": json_values,
}


def nested(depth: int, *, key: str | None = None) -> bytes:
    """A JSON body nested ``depth`` levels deep (arrays, or objects under ``key``)."""
    if key is None:
        return b"[" * depth + b"]" * depth
    return b'{"' + key.encode() + b'":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"


def encode_json(value: Any) -> bytes:
    """``value`` as the JSON a careless client sends: lone surrogates as ``\\ud800`` escapes, NaN as NaN."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


raw_bodies: st.SearchStrategy[bytes | None] = st.one_of(
    st.none(),
    st.builds(encode_json, st.fixed_dictionaries({}, optional=FIELDS)),
    st.builds(encode_json, st.fixed_dictionaries({}, optional=FIELDS)),
    st.builds(encode_json, json_values),
    st.binary(max_size=64),
    st.builds(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass"), json_values),
    st.builds(nested, st.sampled_from([64, 65, 1_000, 100_000])),
    st.builds(
        nested, st.sampled_from([64, 1_000, 50_000]), key=st.sampled_from(["meta", "messages", "message"])
    ),
    st.sampled_from([b"{", b'{"a":}', b"\xff\xfe{}", b'{"name": "\xed\xa0\x80"}', b"NaN", b'"x"']),
    st.builds(lambda n: b'{"name": "' + b"x" * n + b'"}', st.sampled_from([200_000, 5_000_000])),
)


def pct(text: str) -> str:
    """``text`` percent-encoded from its UTF-8 bytes (lone surrogates as the bytes a broken encoder makes)."""
    return quote_from_bytes(text.encode("utf-8", "surrogatepass"), safe="")


path_values = st.one_of(
    hostile_text.map(lambda text: pct(text[:600])),
    st.sampled_from(["%ff" * 20, "%20" * 20, "a/" * 10, "%2F" * 20, "%", "%zz", "x" * 5000, "%ED%A0%80" * 8]),
)
query_keys = st.sampled_from(
    [
        "take",
        "cursor",
        "order",
        "meta.a",
        "meta[a]",
        "meta.",
        "meta[]",
        "status",
        "botId",
        "taskId",
        "type",
        "x",
    ]
)
query_values = st.one_of(
    st.sampled_from(
        ["abc", "-5", "0", "101", "1e3", "9" * 5000, "desc", "asc", "DESC", "", "%ff", "%ED%A0%80"]
    ),
    hostile_text.map(lambda text: pct(text[:600])),
)
query_strings = st.lists(st.tuples(query_keys, query_values), max_size=4).map(
    lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)
)
accepts = st.sampled_from(
    [None, "application/json", "application/jsonl", "text/event-stream", "*/*", "x/\x7f", "text/csv"]
)
content_types = st.sampled_from([None, "application/json", "text/plain", "multipart/form-data; boundary=x"])
extra_headers = st.dictionaries(
    st.sampled_from(["x-request-id", "user-agent", "cookie", "x-forwarded-for", "range", "expect"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=60).map(str.strip),
    max_size=3,
)
