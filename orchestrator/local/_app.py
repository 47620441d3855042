"""The ASGI application: every endpoint under ``/v1`` and ``/api/v1``, Bearer auth, faults, JSON errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount

from . import _bots, _channel_api, _completions, _conversations, _dispatch, _eventlog_api, _exports, _tasks
from ._errors import BearerAuth, error_body, exception_handlers
from ._faults import Faults, FaultsMiddleware
from ._limits import RequestGuard
from ._services import Services
from ._wire import json_response

__all__ = ["PREFIXES", "build_app"]

PREFIXES = ("/v1", "/api/v1")


def _routes() -> list[BaseRoute]:
    # _exports before _tasks: /task/export must not be taken for the task id `export`
    modules = (_completions, _dispatch, _conversations, _channel_api, _bots, _exports, _tasks, _eventlog_api)
    return [route for module in modules for route in module.routes()]


async def _internal_error(request: Request, exc: Exception) -> Response:
    return json_response(error_body(500, f"Internal error in the local platform: {exc!r}"), 500)


def build_app(services: Services, *, token: str, faults: Callable[[], Faults]) -> Starlette:
    """The platform's Starlette app (``app.state.services`` is ``services``, ``app.state.core`` its core)."""
    core = services.core
    handlers: dict[Any, Any] = {**exception_handlers, Exception: _internal_error}
    app = Starlette(
        routes=[Mount(prefix, routes=_routes()) for prefix in PREFIXES],
        middleware=[
            Middleware(BearerAuth, token=token),
            Middleware(RequestGuard),
            Middleware(FaultsMiddleware, faults=faults, clock=core.clock),
        ],
        exception_handlers=handlers,
    )
    app.state.core = core
    app.state.services = services
    return app
