"""``dashboard_app``: the web dashboard as a Starlette app, to serve alone or mount in an ASGI application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import Clock, Orchestrator, OrchestratorError, StoreError
from ..store import JobStore
from ._actions import approve_task, cancel_job, reject_task, run_now
from ._auth import Guard, TokenCheck
from ._context import Dashboard, dashboard_of
from ._pages import job_events, job_page, jobs_live, jobs_page, plans_page, routing_page, schedules_page
from ._source import Source

__all__ = ["dashboard_app"]

log = structlog.get_logger("orchestrator.dashboard")

Handler = Callable[[Request], Awaitable[Response]]


def _guarded(handler: Handler) -> Handler:
    """Every page and action: the dashboard token first (a ``?token=`` login redirects without it)."""

    async def guarded(request: Request) -> Response:
        dashboard = dashboard_of(request)
        login = dashboard.guard.login(request)
        if login is not None:
            return login
        if not await dashboard.guard.allowed(request):
            raise HTTPException(
                401,
                "this dashboard needs its token: open it with ?token=<token>, or send Authorization: Bearer",
            )
        return await handler(request)

    return guarded


async def _error_page(request: Request, exc: Exception) -> Response:
    dashboard = dashboard_of(request)
    if isinstance(exc, HTTPException):
        status, detail = exc.status_code, str(exc.detail)
    elif isinstance(exc, StoreError):
        status, detail = 503, f"the job store failed: {exc}"
    elif isinstance(exc, OrchestratorError):
        status, detail = 502, str(exc)
    else:
        log.error("dashboard request failed", path=request.url.path, error=repr(exc), exc_info=exc)
        status, detail = 500, "the dashboard failed on this request; the server's log has the details"
    if status == 404 and detail == HTTPStatus.NOT_FOUND.phrase:
        detail = (
            f"there is no page at {request.url.path}: the dashboard has Jobs, Plans, Schedules and Routing"
        )
    if request.url.path.startswith(dashboard.base(request) + "/live/") and status != 401:
        return Response(detail + "\n", status_code=status, media_type="text/plain")
    headers = {"WWW-Authenticate": 'Bearer realm="orchestrator dashboard"'} if status == 401 else None
    response = dashboard.page(
        "error.html",
        request,
        status_code=status,
        title=f"{status} {HTTPStatus(status).phrase}",
        status=status,
        reason=HTTPStatus(status).phrase,
        detail=detail,
    )
    if headers:
        response.headers.update(headers)
    return response


def dashboard_app(
    orc: Orchestrator | None = None,
    *,
    token: str | TokenCheck | None = None,
    store: JobStore | None = None,
    clock: Clock | None = None,
    poll_interval: float = 1.0,
    tick: float = 1.0,
) -> Starlette:
    """The web dashboard: jobs, a job's live timeline, plans, schedules and routing, as an ASGI app.

    Mount it in your application (``app.mount("/orchestrator", dashboard_app(orc))``) or serve it with
    ``orchestrator dashboard``. It reads ``orc.store``, so every replica's jobs show up, and acts through
    ``orc`` (cancel, run now, approve, reject); the orchestrator must be running (inside ``async with orc``)
    when requests arrive.

    Args:
        orc: the orchestrator to show and act through. Without one, give ``store`` (and ``clock``): the
            dashboard then reads that open store only, and refuses actions (409) saying what to configure.
        token: the dashboard's own token (every page and action needs it), or a callable deciding from the
            request (sync or async: for the embedding application's own auth). ``None``: a random token, in
            ``app.state.dashboard_token``.
        store: an open store for a dashboard without an orchestrator.
        clock: the clock of ``store`` (default: system time).
        poll_interval: seconds (real time) between reads of the jobs list for its live updates.
        tick: seconds (real time) between updates of a running dispatch's ceiling bar when no event comes.

    Returns:
        A Starlette application; ``app.state.dashboard_token`` is the token (``None`` with a callable).
    """
    if orc is None and store is None:
        raise TypeError("dashboard_app() needs an Orchestrator (or, read-only, store=an open JobStore)")
    if orc is not None and not isinstance(orc, Orchestrator):
        raise TypeError(f"dashboard_app() takes an Orchestrator, got {type(orc).__name__}")
    if poll_interval <= 0 or tick <= 0:
        raise ValueError("poll_interval and tick must be positive (seconds)")
    if orc is None:
        from .. import SystemClock

        source = Source(bare_store=store, bare_clock=clock or SystemClock())
    else:
        source = Source(orc=orc)
    guard = Guard(token)
    routes = [
        Route("/", _guarded(jobs_page)),
        Route("/jobs/{job_id}", _guarded(job_page)),
        Route("/jobs/{job_id}/cancel", _guarded(cancel_job), methods=["POST"]),
        Route("/plans", _guarded(plans_page)),
        Route("/plans/{plan_id}/approve", _guarded(approve_task), methods=["POST"]),
        Route("/plans/{plan_id}/reject", _guarded(reject_task), methods=["POST"]),
        Route("/schedules", _guarded(schedules_page)),
        Route("/schedules/{name}/run", _guarded(run_now), methods=["POST"]),
        Route("/routing", _guarded(routing_page)),
        Route("/live/jobs", _guarded(jobs_live)),
        Route("/live/jobs/{job_id}", _guarded(job_events)),
        Mount("/static", StaticFiles(packages=[("orchestrator.dashboard", "static")]), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={Exception: _error_page, HTTPException: _error_page})
    app.state.dashboard = Dashboard(source=source, guard=guard, poll=poll_interval, tick=tick)
    app.state.dashboard_token = guard.token
    return app
