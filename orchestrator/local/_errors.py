"""Errors on the wire (``{message, code}``, the platform's status vocabulary) and Bearer authentication."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ._wire import dumps, json_response

__all__ = [
    "CODES",
    "ApiError",
    "BearerAuth",
    "bad_request",
    "error_body",
    "exception_handlers",
    "not_found",
]

CODES: dict[int, str] = {
    400: "BAD_REQUEST",
    401: "NOT_AUTHENTICATED",
    402: "NO_SUBSCRIPTION",
    403: "NOT_AUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "TIMEOUT",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    422: "UNPROCESSABLE_ENTITY",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
    501: "NOT_IMPLEMENTED",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """The platform's error object ``{message, code}``."""
    return {"message": message, "code": code or CODES.get(status, f"ERROR_{status}")}


class ApiError(Exception):
    """An error answered to the client as ``status`` + ``{message, code}``."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODES.get(status, f"ERROR_{status}")

    def response(self, headers: dict[str, str] | None = None) -> Response:
        return json_response(error_body(self.status, self.message, self.code), self.status, headers)


def bad_request(message: str) -> ApiError:
    """A 400 ``BAD_REQUEST`` that says what was wrong."""
    return ApiError(400, message)


def not_found(kind: str, ident: str) -> ApiError:
    """A 404 ``NOT_FOUND`` for an unknown id."""
    return ApiError(404, f"{kind} {ident!r} not found")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"No endpoint at {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return json_response(error_body(exc.status_code, message), exc.status_code, dict(exc.headers or {}))


exception_handlers = {ApiError: _api_error, HTTPException: _http_error}


class BearerAuth:
    """ASGI middleware: requests need ``authorization: Bearer <token>``, else 401 ``NOT_AUTHENTICATED``."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self._token = token.encode()

    def _check(self, scope: Scope) -> str | None:
        """``None`` when the request carries the token, else why not (the credential dies with this frame)."""
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                given = value
                break
        scheme, _, credential = given.partition(b" ")
        if scheme.lower() == b"bearer" and secrets.compare_digest(credential.strip(), self._token):
            return None
        return "no authorization header" if not given else "the token is not valid"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reason = self._check(scope)
        if reason is None:
            # past this point nothing needs the credential: a traceback that shows the locals of the frames
            # below (rich, structlog's dev renderer) must not show the token
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"authorization"]}
            await self.app(scope, receive, send)
            return
        body = dumps(error_body(401, f"Not authenticated ({reason}): send 'authorization: Bearer <token>'"))
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
            }
        )
        await send({"type": "http.response.body", "body": body})
