"""What went wrong on the wire, as the package's exceptions (with the token kept out of them).

Every httpx failure and every error answer of the platform becomes a :class:`~orchestrator.PlatformError`
subclass here, chained to its cause. Bodies ``{message, code}`` fill ``message``/``code``; a 200 whose body is
an error object is an error too (reference §1: non-stream calls running over ~19 s commit a 200 first).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from .._errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PlatformConnectionError,
    PlatformError,
    PlatformTimeout,
    PlatformUnavailable,
    RateLimitedError,
)

__all__ = [
    "Secret",
    "error_from_body",
    "error_from_response",
    "error_from_transport",
    "is_error_body",
    "parse_retry_after",
    "scrub_error",
]

_TEXT_LIMIT = 1000

_BY_STATUS: dict[int, type[PlatformError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    422: BadRequestError,
    429: RateLimitedError,
}

# the platform's code vocabulary, for error bodies that arrive with a 200
_BY_CODE: dict[str, type[PlatformError]] = {
    "BAD_REQUEST": BadRequestError,
    "UNPROCESSABLE_ENTITY": BadRequestError,
    "NOT_AUTHENTICATED": AuthenticationError,
    "NOT_AUTHORIZED": AuthenticationError,
    "AUTHORIZATION_REQUIRED": AuthenticationError,
    "NOT_FOUND": NotFoundError,
    "TOO_MANY_REQUESTS": RateLimitedError,
    "LIMITS_REACHED": RateLimitedError,
    "TIMEOUT": PlatformTimeout,
    "GATEWAY_TIMEOUT": PlatformTimeout,
    "INTERNAL_SERVER_ERROR": PlatformUnavailable,
    "BAD_GATEWAY": PlatformUnavailable,
    "SERVICE_UNAVAILABLE": PlatformUnavailable,
}


class Secret:
    """A credential that never shows itself in a repr, a str or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The credential itself, for the one place that needs it (the authorization header)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def scrub(self, text: str) -> str:
        """``text`` with every occurrence of the credential replaced by ``***``."""
        return text.replace(self._value, "***") if self._value and self._value in text else text


def _scrub_value(value: Any, secret: Secret) -> Any:
    if isinstance(value, str):
        return secret.scrub(value)
    if isinstance(value, Mapping):
        return {secret.scrub(str(k)): _scrub_value(v, secret) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(v, secret) for v in value]
    return value


def scrub_error(exc: PlatformError, secret: Secret | None) -> PlatformError:
    """Remove the credential from an error's message, url and data (should the platform have echoed it)."""
    if secret is None or not secret.reveal():
        return exc
    exc.message = secret.scrub(exc.message)
    exc.args = tuple(secret.scrub(a) if isinstance(a, str) else a for a in exc.args)
    if exc.url:
        exc.url = secret.scrub(exc.url)
    if exc.data is not None:
        exc.data = _scrub_value(exc.data, secret)
    return exc


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """``Retry-After`` in seconds (``None`` if absent or unreadable): delta-seconds, or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, when.timestamp() - now)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _decode_body(content: bytes) -> Any:
    if not content.strip():
        return None
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return content.decode("utf-8", "replace")


def _make(
    cls: type[PlatformError],
    message: str,
    *,
    status: int | None,
    code: str | None,
    url: str | None,
    data: Any,
    retry_after: float | None,
) -> PlatformError:
    if issubclass(cls, RateLimitedError | PlatformUnavailable):
        return cls(message, retry_after=retry_after, status=status, code=code, url=url, data=data)
    return cls(message, status=status, code=code, url=url, data=data)


def error_from_response(response: httpx.Response, content: bytes, *, url: str, now: float) -> PlatformError:
    """The error an HTTP status >= 400 stands for, with message and code from the body when it has them."""
    status = response.status_code
    body = _decode_body(content)
    message: str | None = None
    code: str | None = None
    if isinstance(body, Mapping):
        if isinstance(body.get("message"), str) and body["message"]:
            message = body["message"]
        if isinstance(body.get("code"), str) and body["code"]:
            code = body["code"]
        if body.get("error") == "authorization_required":
            code = code or "AUTHORIZATION_REQUIRED"
            message = message or "authorization required"
    elif isinstance(body, str):
        message = body[:_TEXT_LIMIT]
    code = code or response.headers.get("x-failure-code") or f"ERROR_{status}"
    if message is None:
        message = f"HTTP {status} {response.reason_phrase}".rstrip()
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = PlatformUnavailable if status >= 500 else PlatformError
    retry_after = parse_retry_after(response.headers.get("retry-after"), now=now)
    return _make(cls, message, status=status, code=code, url=url, data=body, retry_after=retry_after)


def is_error_body(body: Any, expected: Collection[str]) -> bool:
    """Whether a 200 body is an error object: ``{message|error, ...}`` and none of the ``expected`` fields."""
    if not isinstance(body, Mapping) or not ("message" in body or "error" in body):
        return False
    return not any(key in body for key in expected)


def error_from_body(body: Mapping[str, Any], *, status: int, url: str) -> PlatformError:
    """The error a 200 error body stands for; its ``code`` picks the class when it is a known one."""
    message = body.get("message")
    error = body.get("error")
    code = body.get("code")
    if not isinstance(code, str) or not code:
        code = "AUTHORIZATION_REQUIRED" if error == "authorization_required" else f"ERROR_{status}"
    if not isinstance(message, str) or not message:
        message = error if isinstance(error, str) and error else "the platform answered with an error body"
    cls = _BY_CODE.get(code, PlatformError)
    return _make(cls, message, status=status, code=code, url=url, data=dict(body), retry_after=None)


def error_from_transport(exc: Exception, *, url: str, method: str) -> PlatformError:
    """The error an httpx exception stands for: timeouts and connection failures get their own classes."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return PlatformTimeout(f"{method} {url} timed out ({type(exc).__name__}: {detail})", url=url)
    if isinstance(exc, httpx.TransportError):
        return PlatformConnectionError(
            f"{method} {url} failed: the connection broke ({type(exc).__name__}: {detail})", url=url
        )
    return PlatformError(f"{method} {url} failed ({type(exc).__name__}: {detail})", url=url)
