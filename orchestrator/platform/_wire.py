"""Shaping requests and reading answers: path segments, query encoding, JSON bodies, returned ids."""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import Enum
from typing import Any, Literal
from urllib.parse import quote

from .._errors import PlatformError, UsageError

__all__ = [
    "StreamFormat",
    "encode_body",
    "encode_query",
    "history_body",
    "object_body",
    "returned_id",
    "segment",
    "shape",
]

StreamFormat = Literal["jsonl", "sse"]


def segment(value: object, name: str) -> str:
    """``value`` as one URL path segment (percent-encoded); refuses empty and non-string ids."""
    if not isinstance(value, str) or not value:
        raise UsageError(f"{name} must be a non-empty string, got {value!r}")
    return quote(value, safe="")


def _scalar(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_query(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Query parameters the platform's way: ``None`` dropped, ``true``/``false``, ``meta.k=v`` for a dict."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs.extend((f"{key}.{sub}", _scalar(v)) for sub, v in value.items() if v is not None)
        elif isinstance(value, list | tuple | set | frozenset):
            pairs.append((key, ",".join(_scalar(v) for v in value)))
        else:
            pairs.append((key, _scalar(value)))
    return tuple(pairs)


def encode_body(body: Mapping[str, Any] | None) -> bytes:
    try:
        return json.dumps({} if body is None else body, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise UsageError(f"the request body cannot be sent as JSON: {exc}") from exc


def returned_id(body: Any, fallback: str | None = None, *, what: str) -> str:
    """The ``id`` of a mutation's ``{id}`` answer (``fallback`` when the platform left it out)."""
    ident = body.get("id") if isinstance(body, Mapping) else None
    if isinstance(ident, str) and ident:
        return ident
    if fallback is not None:
        return fallback
    raise PlatformError(f"{what}: the platform's answer has no 'id' ({shape(body)})")


def shape(body: Any) -> str:
    # what an unexpected answer looked like, without its values (which could hold anything)
    if isinstance(body, Mapping):
        return f"keys {sorted(map(str, body))}"
    return f"a JSON {type(body).__name__}" if body is not None else "an empty body"


def history_body(history_length: int | None) -> dict[str, Any]:
    if history_length is None:
        return {}
    if isinstance(history_length, bool) or not isinstance(history_length, int) or history_length < 0:
        raise UsageError(f"history_length must be a non-negative int, got {history_length!r}")
    return {"historyLength": history_length}


def object_body(body: Mapping[str, Any] | None, name: str = "body") -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, Mapping):
        raise UsageError(f"{name} must be a mapping (the JSON object to send), got {type(body).__name__}")
    return dict(body)
