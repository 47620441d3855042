"""Plain JSON completions: the answer of a run, its 19 s commit, its client going away, and a retried failure.

A JSON call waits for its run. Still going after ``json_commit_after`` (19 s, as on the real platform), it
commits ``200`` and writes the body when the run ends: the result, or an error object ``{message, code}``. A
failure answered before that gets ``Settings.failure_status`` (200 by default; the reference does not say)
with the same error object. When the client disconnects, the run is stopped, as a stream's is.

A client that retries a failed call (the Node SDK retries every call three times on 5xx) must not make a
stateful run append its user message again or run again: a failed answer is remembered for
``Settings.failure_replay`` seconds under the request's path and body, and the same request within that time
gets the same answer without a run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .._clock import move_on_after
from ._core import Core
from ._errors import error_body
from ._runs import Kill, Outcome, Run
from ._wire import dumps, json_response, watch_disconnect

__all__ = ["JsonRun", "error_of", "replayed_failure"]

Render = Callable[[Outcome], dict[str, Any]]
_JSON = [(b"content-type", b"application/json")]
_MEMORY_PURGE = 1000


def error_of(outcome: Outcome | None) -> dict[str, Any]:
    """The error object ``{message, code}`` of a run that did not succeed (``None``: the platform stopped)."""
    if outcome is None:
        return error_body(503, "The local platform stopped during the run")
    error = outcome.error or {
        "message": f"The run was stopped ({outcome.kill.value if outcome.kill else 'killed'})"
    }
    return error_body(500, str(error.get("message")), error.get("code"))


async def _key(request: Request) -> str:
    return request.url.path + "\0" + hashlib.sha256(await request.body()).hexdigest()


async def replayed_failure(core: Core, request: Request) -> Response | None:
    """The remembered answer to this very request, when it failed within ``failure_replay`` seconds."""
    if core.settings.failure_replay <= 0 or not core.failures:
        return None
    remembered = core.failures.get(await _key(request))
    if remembered is None or remembered[0] < core.clock.time():
        return None
    return Response(remembered[2], status_code=remembered[1], media_type="application/json")


async def _remember(core: Core, request: Request, status: int, body: bytes) -> None:
    window = core.settings.failure_replay
    if window <= 0:
        return
    now = core.clock.time()
    failures = core.failures
    if len(failures) >= _MEMORY_PURGE:
        for key in [k for k, (until, _, _) in failures.items() if until < now]:
            del failures[key]
    failures[await _key(request)] = (now + window, status, body)


class JsonRun(Response):
    """The JSON answer of one run: waits for it, commits at 19 s, stops it when the client goes away."""

    def __init__(self, request: Request, core: Core, run: Run, render: Render) -> None:
        self.status_code = 200
        self.background = None
        self._request = request
        self._core = core
        self._run = run
        self._render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        run = self._run
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch_disconnect, receive, tg.cancel_scope, name="disconnect-watch")
                await self._answer(send)
                tg.cancel_scope.cancel()
        finally:
            if not run.done.is_set():  # the client went away (or the server is stopping): stop the run
                run.kill(Kill.DISCONNECT)

    async def _answer(self, send: Send) -> None:
        run, core = self._run, self._core
        async with move_on_after(core.clock, core.settings.json_commit_after):
            await run.done.wait()
        if not run.done.is_set():
            await send({"type": "http.response.start", "status": 200, "headers": _JSON})
            await run.done.wait()
            await send({"type": "http.response.body", "body": dumps(self._body(run.outcome))})
            return
        outcome = run.outcome
        if outcome is not None and outcome.status == "success":
            response = json_response(self._render(outcome))
        else:
            status = 503 if outcome is None else core.settings.failure_status
            body = dumps(error_of(outcome))
            if outcome is not None:
                await _remember(core, self._request, status, body)
            response = Response(body, status_code=status, media_type="application/json")
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers}
        )
        await send({"type": "http.response.body", "body": response.body})

    def _body(self, outcome: Outcome | None) -> dict[str, Any]:
        if outcome is None or outcome.status != "success":
            return error_of(outcome)
        return self._render(outcome)
