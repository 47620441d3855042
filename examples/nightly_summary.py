"""The nightly summary: a job on a cron schedule in a timezone, plus an admin endpoint that runs it now.

What it shows:

- ``@orc.job(schedule="0 7 * * 1-5", timezone="Europe/London", runtime="20m")``: a *scheduled task* on the
  platform, created (or updated when the declaration changed) when the orchestrator starts, never duplicated
  across restarts or replicas. It runs at 07:00 London time on weekdays, GMT or BST; each run is a job record
  with a handle, an event log and a result.
- ``job.trigger_now()``: run it once now, off schedule, from an admin endpoint
  (``POST /admin/nightly-summary/trigger``), protected by a bearer token when ``ADMIN_TOKEN`` is set.
- ``GET /admin/nightly-summary/runs``: the recent runs, from the store.

Run it::

    python examples/nightly_summary.py            # serves on http://127.0.0.1:8000 (PORT to change)
    curl -X POST localhost:8000/admin/nightly-summary/trigger
    curl localhost:8000/admin/nightly-summary/runs

Without ``CHATBOTKIT_API_TOKEN`` it runs on the embedded local platform, whose clock runs 60x faster than real
time (a summary takes five platform-minutes, five real seconds; a platform day passes in 24 real minutes); with it,
on ChatBotKit in real time. Runs are kept in ``ORCHESTRATOR_STORE`` if set, else in memory.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orchestrator import Clock, Job, Orchestrator, Prompt, VirtualClock
from orchestrator.store import JobRecord, JobStore

if TYPE_CHECKING:
    from orchestrator.local import LocalPlatform
    from orchestrator.platform import PlatformClient

TIME_SCALE = 60.0  # the local platform's clock, times real time
JOB_NAME = "nightly_summary"

log = structlog.get_logger("examples.nightly_summary")


def on_real_platform() -> bool:
    """Whether ``Orchestrator()`` will use ChatBotKit (``CHATBOTKIT_API_TOKEN`` is set) rather than the local one."""
    return bool(os.environ.get("CHATBOTKIT_API_TOKEN"))


def simulate(directives: str) -> str:
    """Directives that steer the local platform's simulated agent; nothing is sent to a real model."""
    return "" if on_real_platform() else f" {directives}"


def create_orchestrator(
    *,
    clock: Clock | None = None,
    platform: PlatformClient | LocalPlatform | None = None,
    store: str | JobStore | None = None,
) -> Orchestrator:
    """The orchestrator with the scheduled job declared (it must be, before ``async with orc``).

    Args:
        clock: the clock (tests pass a ``VirtualClock``); by default see the module docstring.
        platform: a platform client or local platform; ``None`` lets ``Orchestrator`` choose from the environment.
        store: a store URL or object; ``ORCHESTRATOR_STORE`` or ``memory://`` by default.
    """
    if clock is None and platform is None and not on_real_platform():
        clock = VirtualClock(time_scale=TIME_SCALE)
    orc = Orchestrator(
        platform=platform,
        store=store or os.environ.get("ORCHESTRATOR_STORE") or "memory://",
        clock=clock,
    )

    @orc.job(schedule="0 7 * * 1-5", timezone="Europe/London", runtime="20m", name=JOB_NAME)
    def nightly_summary() -> Prompt:
        return Prompt(
            text=(
                "Summarise yesterday's support tickets for the team: the three biggest issues, anything "
                "still open for more than a day, and one thing that went well." + simulate("[[sleep 5m]]")
            ),
            backstory="You write the support team's morning summary: short, factual, friendly.",
        )

    return orc


def iso(when: float | None) -> str | None:
    return None if when is None else datetime.fromtimestamp(when, UTC).isoformat()


def run_view(record: JobRecord) -> dict[str, Any]:
    """A run as the admin API shows it."""
    return {
        "id": record.id,
        "status": record.status.value,
        "started_at": iso(record.started_at),
        "finished_at": iso(record.finished_at),
        "summary": (record.result or {}).get("text"),
        "error": (record.error or {}).get("reason"),
    }


def create_app(
    *,
    orchestrator_factory: Callable[[], Orchestrator] = create_orchestrator,
    admin_token: str | None = None,
) -> Starlette:
    """The admin app. Its lifespan runs the orchestrator, and with it the schedule.

    Args:
        orchestrator_factory: builds the orchestrator (tests inject theirs).
        admin_token: the bearer token the admin endpoints require; ``ADMIN_TOKEN`` by default; without one they
            are open (fine on 127.0.0.1, not beyond).
    """
    token = admin_token if admin_token is not None else os.environ.get("ADMIN_TOKEN") or None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        orc = orchestrator_factory()
        if JOB_NAME not in orc.jobs:
            raise RuntimeError(f"the orchestrator has no job {JOB_NAME!r}: declare it in the factory")
        if token is None:
            log.warning("admin endpoints are not protected: set ADMIN_TOKEN to require a bearer token")
        async with orc:
            app.state.orchestrator = orc
            yield

    def summary_job(request: Request) -> tuple[Orchestrator, Job[Any]]:
        orc = cast(Orchestrator, request.app.state.orchestrator)
        return orc, orc.jobs[JOB_NAME]

    def refused(request: Request) -> JSONResponse | None:
        if token is None:
            return None
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(given.encode(), token.encode()):
            return None
        return JSONResponse(
            {"detail": "the admin endpoints need 'Authorization: Bearer <ADMIN_TOKEN>'"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    async def trigger(request: Request) -> JSONResponse:
        if (denied := refused(request)) is not None:
            return denied
        _, job = summary_job(request)
        handle = await job.trigger_now()
        log.info("nightly summary triggered by an admin", job_id=handle.id)
        return JSONResponse(run_view(await handle.record()), status_code=202)

    async def runs(request: Request) -> JSONResponse:
        if (denied := refused(request)) is not None:
            return denied
        orc, job = summary_job(request)
        records = await orc.store.list_jobs(job_name=job.name, limit=50)
        return JSONResponse({"schedule": job.definition.schedule, "runs": [run_view(r) for r in records]})

    return Starlette(
        routes=[
            Route("/admin/nightly-summary/trigger", trigger, methods=["POST"]),
            Route("/admin/nightly-summary/runs", runs, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


app = create_app()

if __name__ == "__main__":
    import logging

    import uvicorn

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
