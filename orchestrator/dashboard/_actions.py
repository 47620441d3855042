"""The actions (POST, CSRF-checked): cancel a job, run a scheduled job now, approve or reject a held plan task.

Each goes through the orchestrator's public API and answers with a redirect (303) to the page that shows its
effect, or with a 4xx page saying why it cannot be done.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import NotCancellable, UsageError
from ..planning import load_plan
from ._auth import read_form
from ._context import dashboard_of
from ._views import valid_id

__all__ = ["approve_task", "cancel_job", "reject_task", "run_now"]


def _back(request: Request, path: str) -> RedirectResponse:
    base = str(request.scope.get("root_path") or "").rstrip("/")
    return RedirectResponse(f"{base}{path}", status_code=303)


def _id(value: str, what: str) -> str:
    if not valid_id(value):
        raise HTTPException(400, f"{value[:60]!r} is not a {what} id: ids are letters, digits and _.:-")
    return value


async def cancel_job(request: Request) -> Response:
    dashboard = dashboard_of(request)
    dashboard.guard.check_csrf(request, await read_form(request))
    job_id = _id(request.path_params["job_id"], "job")
    orc = dashboard.source.acting()
    try:
        handle = await orc.load_handle(job_id)
        await handle.cancel()
    except NotCancellable as exc:
        raise HTTPException(409, str(exc)) from exc
    except UsageError as exc:
        raise HTTPException(404, str(exc)) from exc
    return _back(request, f"/jobs/{job_id}")


async def run_now(request: Request) -> Response:
    dashboard = dashboard_of(request)
    dashboard.guard.check_csrf(request, await read_form(request))
    name = request.path_params["name"]
    orc = dashboard.source.acting()
    j = orc.jobs.get(name)
    if j is None or j.definition.schedule is None:
        raise HTTPException(
            404, f"no scheduled job named {name[:80]!r} is declared here: see the Schedules page"
        )
    handle = await j.trigger_now()
    return _back(request, f"/jobs/{handle.id}")


async def _decide(request: Request, *, approve: bool) -> Response:
    dashboard = dashboard_of(request)
    form = await read_form(request)
    dashboard.guard.check_csrf(request, form)
    plan_id = _id(request.path_params["plan_id"], "plan")
    task = form.get("task")
    if not isinstance(task, str) or not task.strip():
        raise HTTPException(400, "say which held task: the form needs a task= name")
    orc = dashboard.source.acting()
    try:
        plan = await load_plan(orc, plan_id)
        if approve:
            await plan.approve([task])
        else:
            await plan.reject([task])
    except UsageError as exc:
        raise HTTPException(409 if "held" in str(exc) else 404, str(exc)) from exc
    return _back(request, f"/plans#{plan_id}")


async def approve_task(request: Request) -> Response:
    return await _decide(request, approve=True)


async def reject_task(request: Request) -> Response:
    return await _decide(request, approve=False)
