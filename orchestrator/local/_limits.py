"""The request boundary: documented limits, enforced before any endpoint does work.

Every request passes :class:`RequestGuard` (after authentication) and every JSON body :func:`parse_json`; what
breaks a limit is answered 4xx ``{message, code}`` naming the part of the request that is wrong:

===========================  ==================================================================================
``MAX_BODY_BYTES``           4 MiB per request body (413 ``PAYLOAD_TOO_LARGE``), checked on ``content-length``
                             and again while the body is read
``MAX_URL_BYTES``            8 KiB for the path and query together (414 ``URI_TOO_LONG``)
``MAX_DEPTH``                64 levels of nested arrays and objects in a body (400)
``MAX_STRING``               1,000,000 characters in any one string of a body, keys included (400)
text                         the path, every query parameter and every body string must be valid Unicode
                             (UTF-8 after percent-decoding; no lone surrogates such as ``"\\ud800"``) (400)
numbers                      ``NaN`` and ``Infinity`` are not JSON (400)
list ``take``                over 100 means 100; 0, negative or not a number means 100 (``_lists``)
===========================  ==================================================================================

Refusing text that cannot be encoded at the door is what keeps a stored record from breaking every later
list or fetch of it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import ApiError, bad_request
from ._wire import dumps

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_DEPTH",
    "MAX_STRING",
    "MAX_URL_BYTES",
    "RequestGuard",
    "check_text",
    "parse_json",
]

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_URL_BYTES = 8 * 1024
MAX_DEPTH = 64
MAX_STRING = 1_000_000


def _too_large(size: int) -> ApiError:
    return ApiError(
        413,
        f"Request body is too large: {size} bytes, at most {MAX_BODY_BYTES}; send less, or split the work",
        "PAYLOAD_TOO_LARGE",
    )


def check_text(value: str, where: str) -> None:
    """Refuse a string holding a lone surrogate (it cannot be stored or sent as UTF-8)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise bad_request(
            f"{where} is not valid Unicode: {exc.reason} at character {exc.start} "
            f"({value[exc.start]!r}); send text that encodes as UTF-8"
        ) from None


def _decoded(raw: bytes, where: str) -> str:
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(
            f"{where} is not valid UTF-8 after percent-decoding (byte {exc.start}: {exc.reason}); "
            "percent-encode the UTF-8 bytes of valid text"
        ) from None


def _check_url(scope: Scope) -> None:
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    query: bytes = scope.get("query_string", b"")
    if len(raw_path) + len(query) > MAX_URL_BYTES:
        raise ApiError(
            414,
            f"The URL is too long: {len(raw_path) + len(query)} bytes of path and query, at most "
            f"{MAX_URL_BYTES}; send large values in the body",
            "URI_TOO_LONG",
        )
    _decoded(raw_path, "the path")
    for pair in query.split(b"&"):
        key, _, value = pair.replace(b"+", b" ").partition(b"=")
        name = _decoded(key, "a query parameter name")
        _decoded(value, f"query parameter {name!r}")


class RequestGuard:
    """ASGI middleware: the URL and body-size limits, before the request reaches an endpoint."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _check_url(scope)
            declared = _content_length(scope)
        except ApiError as exc:
            await _answer(send, exc)
            return
        if declared is not None and declared > MAX_BODY_BYTES:
            await _answer(send, _too_large(declared))
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY_BYTES:
                    raise _too_large(seen)
            return message

        await self.app(scope, bounded, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise bad_request(f"content-length {value[:40]!r} is not a number of bytes") from None
    return None


async def _answer(send: Send, exc: ApiError) -> None:
    body = dumps({"message": exc.message, "code": exc.code})
    await send(
        {
            "type": "http.response.start",
            "status": exc.status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON number")


def parse_json(raw: bytes) -> Any:
    """Decode a JSON body within the limits (depth, string length, valid Unicode, no NaN/Infinity).

    Raises:
        ApiError: 400 naming what is wrong, and where (``messages[0].text``, ``meta.note``, ...).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(
            f"Request body is not valid UTF-8 (byte {exc.start}: {exc.reason}): send a JSON object in UTF-8"
        ) from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise bad_request(
            f"Request body is nested too deeply: at most {MAX_DEPTH} levels of arrays and objects"
        ) from None
    except ValueError as exc:
        raise bad_request(f"Request body is not valid JSON ({exc}): send a JSON object") from None
    _walk(data)
    return data


def _walk(data: Any) -> None:
    """Check every value of a decoded body, iteratively (a deep body must not exhaust the stack here)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            _check_string(value, where or "the body")
        elif isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise bad_request(
                    f"{where or 'the body'} is nested too deeply: at most {MAX_DEPTH} levels of arrays and "
                    "objects in a request body"
                )
            if isinstance(value, dict):
                for key, item in value.items():
                    _check_string(key, f"a key of {where or 'the body'}")
                    stack.append((item, f"{where}.{key}" if where else key, depth + 1))
            else:
                stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))


def _check_string(value: str, where: str) -> None:
    if len(value) > MAX_STRING:
        raise bad_request(f"{where[:200]} is too long: {len(value)} characters, at most {MAX_STRING}")
    check_text(value, where[:200])
