"""Request bodies: JSON parsing and validation that names the field that is wrong and what it should be."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from ._errors import bad_request
from ._limits import parse_json

__all__ = [
    "MESSAGE_TYPES",
    "Body",
    "read_body",
    "validate_functions",
    "validate_limits",
    "validate_messages",
]

MESSAGE_TYPES = frozenset(
    {"user", "bot", "context", "activity", "instruction", "backstory", "reasoning", "checkpoint"}
)
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*\Z")
_BOT_STRINGS = ("botId", "backstory", "model", "datasetId", "skillsetId")
_BOT_FLAGS = ("moderation", "privacy")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


async def read_body(request: Request) -> Body:
    """The request's JSON object body, within the limits of :mod:`._limits`; an empty body is ``{}``."""
    raw = await request.body()
    if not raw.strip():
        return Body({})
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise bad_request(f"Request body must be a JSON object, got {_kind(data)}")
    return Body(data)


class Body:
    """Typed, validating access to the fields of a JSON object body (``None`` = absent or null)."""

    def __init__(self, data: Mapping[str, Any], prefix: str = "") -> None:
        self.data = data
        self._prefix = prefix

    def has(self, key: str) -> bool:
        return key in self.data

    def _wrong(self, key: str, want: str) -> Exception:
        return bad_request(f"{self._prefix}{key} must be {want}, got {_kind(self.data[key])}")

    def text(
        self, key: str, *, required: bool = False, min_len: int = 0, max_len: int | None = None
    ) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise bad_request(f"{self._prefix}{key} is required (a string)")
            return None
        if not isinstance(value, str):
            raise self._wrong(key, "a string")
        if len(value) < min_len:
            raise bad_request(
                f"{self._prefix}{key} is too short: {len(value)} characters, at least {min_len}"
            )
        if max_len is not None and len(value) > max_len:
            raise bad_request(f"{self._prefix}{key} is too long: {len(value)} characters, at most {max_len}")
        return value

    def integer(self, key: str, *, minimum: int | None = None) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise self._wrong(key, "an integer")
        if minimum is not None and value < minimum:
            raise bad_request(f"{self._prefix}{key} must be at least {minimum}, got {value}")
        return int(value)

    def flag(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is None or isinstance(value, bool):
            return value
        raise self._wrong(key, "a boolean")

    def mapping(self, key: str) -> dict[str, Any] | None:
        value = self.data.get(key)
        if value is None or isinstance(value, dict):
            return value
        raise self._wrong(key, "an object")

    def array(self, key: str) -> list[Any] | None:
        value = self.data.get(key)
        if value is None or isinstance(value, list):
            return value
        raise self._wrong(key, "an array")

    def bot_config(self) -> dict[str, Any]:
        """The bot reference/config fields that are present (``botId``, ``backstory``, ``model``, ...)."""
        out: dict[str, Any] = {}
        for key in _BOT_STRINGS:
            if self.text(key) is not None:
                out[key] = self.data[key]
        for key in _BOT_FLAGS:
            if self.flag(key) is not None:
                out[key] = self.data[key]
        return out


def validate_messages(value: object, *, field: str = "messages") -> list[dict[str, Any]]:
    """``messages``: a non-empty array of ``{type, text, meta?}``."""
    if not isinstance(value, list):
        raise bad_request(f"{field} is required: an array of at least one {{type, text}} message")
    if not value:
        raise bad_request(f"{field} must hold at least one message")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise bad_request(f"{field}[{i}] must be an object {{type, text}}, got {_kind(item)}")
        body = Body(item, f"{field}[{i}].")
        kind = body.text("type", required=True)
        if kind not in MESSAGE_TYPES:
            raise bad_request(f"{field}[{i}].type {kind!r} is not one of {', '.join(sorted(MESSAGE_TYPES))}")
        text = body.text("text", required=True)
        message: dict[str, Any] = {"type": kind, "text": text}
        if body.mapping("meta") is not None:
            message["meta"] = item["meta"]
        out.append(message)
    return out


def validate_functions(value: object) -> list[dict[str, Any]]:
    """``functions``: names that are JS identifiers of at most 64 characters; parameters; optional result."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request(f"functions must be an array, got {_kind(value)}")
    seen: set[str] = set()
    for i, item in enumerate(value):
        where = f"functions[{i}]"
        if not isinstance(item, dict):
            raise bad_request(
                f"{where} must be an object {{name, description, parameters}}, got {_kind(item)}"
            )
        body = Body(item, f"{where}.")
        name = body.text("name", required=True)
        assert name is not None
        if len(name) > 64:
            raise bad_request(f"{where}.name {name[:70]!r} is too long: {len(name)} characters, at most 64")
        if not _IDENTIFIER.match(name):
            raise bad_request(
                f"{where}.name {name!r} is not a JavaScript identifier (letters, digits, _ and $)"
            )
        if name in seen:
            raise bad_request(f"{where}.name {name!r} is declared twice")
        seen.add(name)
        body.text("description", required=True)
        params = body.mapping("parameters")
        if params is None:
            raise bad_request(f"{where}.parameters is required: a JSON schema {{type: 'object', properties}}")
        if params.get("type") != "object" or not isinstance(params.get("properties"), dict):
            raise bad_request(f"{where}.parameters must be {{type: 'object', properties: {{...}}}}")
        result = body.mapping("result")
        if result is not None:
            if ("data" in result) == ("channel" in result):
                raise bad_request(
                    f"{where}.result must hold exactly one of 'data' (static) or 'channel' (live)"
                )
            if "channel" in result:
                Body(result, f"{where}.result.").text("channel", required=True, min_len=16)
        body.mapping("call")
    return list(value)


def validate_limits(value: object) -> dict[str, int]:
    """``limits``: optional positive integers ``iterations``, ``continuations``, ``calls``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request(f"limits must be an object, got {_kind(value)}")
    body = Body(value, "limits.")
    out = {}
    for key in ("iterations", "continuations", "calls"):
        number = body.integer(key, minimum=1)
        if number is not None:
            out[key] = number
    return out
