"""A FastAPI service that embeds the orchestrator: start jobs, read their status, stream their events, cancel.

What it shows:

- The orchestrator lives in the app's lifespan (``async with orc``): its supervisors run while the service runs,
  and jobs in flight when it stopped are resumed when it starts again (with a durable store).
- ``POST /jobs`` ``{"job": "triage", "args": ["T-1"]}`` (or ``"kwargs": {...}``) starts one of the declared jobs
  and answers ``202`` with its id; an unknown job or arguments the job does not take are a ``400`` that says why.
- ``GET /jobs/{id}``: status, and the result (or the error) once it ended.
- ``GET /jobs/{id}/events``: the job's event log as Server-Sent Events (``id: <seq>``, ``event: <type>``,
  ``data: <json>``), replayed from the start, then live, ending after the job's last event. Resume with the
  ``Last-Event-ID`` header (browsers send it when an ``EventSource`` reconnects) or ``?since=<seq>``; once the job
  has ended and nothing is left to send the answer is ``204``, which tells an ``EventSource`` to stop reconnecting.
- ``POST /jobs/{id}/cancel``: cancels a task-routed job (``202``); a dispatch cannot be cancelled (``409`` with the
  reason and what to declare instead).

Run it::

    python examples/fastapi_service.py            # serves on http://127.0.0.1:8000 (PORT to change)
    curl -X POST localhost:8000/jobs -H 'content-type: application/json' -d '{"job": "triage", "args": ["T-1"]}'
    curl -N localhost:8000/jobs/<id>/events

Without ``CHATBOTKIT_API_TOKEN`` the jobs run on the embedded local platform, whose clock runs 60x faster than
real time (a platform-minute a second: ``triage`` takes about a second, ``analyse`` two minutes); with it, on
ChatBotKit in real time. Jobs are kept in ``ORCHESTRATOR_STORE`` if set, else in memory.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, cast

from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from orchestrator import (
    Clock,
    Job,
    JobHandle,
    NotCancellable,
    Orchestrator,
    PlatformError,
    Prompt,
    UsageError,
    VirtualClock,
)
from orchestrator.store import JobRecord, JobStore

if TYPE_CHECKING:
    from orchestrator.local import LocalPlatform
    from orchestrator.platform import PlatformClient

TIME_SCALE = 60.0  # the local platform's clock, times real time
FOCUSES = ("themes", "sentiment", "feature requests")


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
    """The service's orchestrator and its jobs (not started: the app's lifespan enters it).

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

    @orc.job(runtime="3m")
    def triage(ticket: str) -> Prompt:
        """Triage a support ticket (a dispatch: a few minutes, not cancellable)."""
        return Prompt(
            text=f"Triage this support ticket, give it a priority and a team: {ticket}"
            + simulate("[[tokens 12]] [[sleep 1m]]"),
            backstory="You are the support team's triage assistant.",
        )

    @orc.job(runtime="3h", cancellable=True)
    def analyse(corpus: str, focus: str = "themes") -> Prompt:
        """Analyse a corpus (a task: hours, cancellable)."""
        if focus not in FOCUSES:  # a job function may refuse its arguments: the API answers 400 with this
            raise ValueError(f"focus must be one of {', '.join(FOCUSES)}, got {focus!r}")
        return Prompt(
            text=f"Analyse the corpus {corpus!r}, focusing on {focus}." + simulate("[[sleep 2h]]"),
            backstory="You are a careful research analyst.",
        )

    return orc


class StartJob(BaseModel):
    """The body of ``POST /jobs``."""

    model_config = ConfigDict(extra="forbid")

    job: str = Field(description="the name of a declared job")
    args: list[Any] = Field(default_factory=list, description="positional arguments of the job function")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the job function")


def job_view(record: JobRecord) -> dict[str, Any]:
    """A job as the API shows it."""
    return {
        "id": record.id,
        "job": record.job_name,
        "route": record.route,
        "status": record.status.value,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "result": dict(record.result) if record.result is not None else None,
        "error": dict(record.error) if record.error is not None else None,
        "links": {
            "self": f"/jobs/{record.id}",
            "events": f"/jobs/{record.id}/events",
            "cancel": f"/jobs/{record.id}/cancel",
        },
    }


def public_jobs(orc: Orchestrator) -> dict[str, Job[Any]]:
    """The jobs clients may start: the service's own (``orchestrator.*`` jobs are the framework's, e.g. planning)."""
    return {name: job for name, job in orc.jobs.items() if not name.startswith("orchestrator.")}


def call_form(name: str, signature: inspect.Signature) -> str:
    """``triage(ticket)``, ``analyse(corpus, focus='themes')``: how a job is called, without annotations."""
    bare = [p.replace(annotation=p.empty) for p in signature.parameters.values()]
    return name + str(signature.replace(parameters=bare, return_annotation=signature.empty))


def sse_frame(seq: int, type: str, data: Any) -> str:
    """One Server-Sent Event."""
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    return f"id: {seq}\nevent: {type}\ndata: {payload}\n\n"


def create_app(*, orchestrator_factory: Callable[[], Orchestrator] = create_orchestrator) -> FastAPI:
    """The service. ``orchestrator_factory`` builds the orchestrator its lifespan runs (tests inject theirs)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        orc = orchestrator_factory()
        async with orc:
            app.state.orchestrator = orc
            yield

    app = FastAPI(title="orchestrator example service", lifespan=lifespan)

    def orchestrator(request: Request) -> Orchestrator:
        return cast(Orchestrator, request.app.state.orchestrator)

    async def existing(orc: Orchestrator, job_id: str) -> tuple[JobHandle, JobRecord]:
        record = await orc.store.get_job(job_id)
        if record is None:
            raise HTTPException(404, f"no job {job_id!r}: it never existed here, or it was pruned")
        return orc.get_handle(job_id), record

    @app.exception_handler(RequestValidationError)
    async def bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}" for err in exc.errors()
        )
        return JSONResponse(
            status_code=400,
            content={"detail": f"bad request: {problems}", "errors": jsonable_encoder(exc.errors())},
        )

    @app.post("/jobs", status_code=202)
    async def start_job(body: StartJob, request: Request) -> dict[str, Any]:
        jobs = public_jobs(orchestrator(request))
        job = jobs.get(body.job)
        if job is None:
            declared = ", ".join(sorted(jobs)) or "none"
            raise HTTPException(400, f"unknown job {body.job!r}: this service declares {declared}")
        signature = inspect.signature(job.fn)
        try:
            signature.bind(*body.args, **body.kwargs)
        except TypeError as exc:
            raise HTTPException(
                400,
                f"job {job.name!r} is called as {call_form(job.name, signature)}; these arguments do not fit: {exc}",
            ) from exc
        try:
            handle = await job.start(*body.args, **body.kwargs)
        except (TypeError, ValueError, UsageError) as exc:
            raise HTTPException(400, f"job {job.name!r} refused its arguments: {exc}") from exc
        except PlatformError as exc:
            raise HTTPException(502, f"the platform refused job {job.name!r}: {exc}") from exc
        return job_view(await handle.record())

    @app.get("/jobs/{job_id}")
    async def get_job(job_id: str, request: Request) -> dict[str, Any]:
        _, record = await existing(orchestrator(request), job_id)
        return job_view(record)

    @app.get("/jobs/{job_id}/events", response_model=None)
    async def job_events(
        job_id: str,
        request: Request,
        since: Annotated[int | None, Query(ge=0, description="replay events after this seq")] = None,
        last_event_id: Annotated[str | None, Header(description="the last event seq received")] = None,
    ) -> Response:
        orc = orchestrator(request)
        handle, record = await existing(orc, job_id)
        cursor = since or 0
        if last_event_id:  # a reconnecting EventSource: it wins over ?since=
            cursor = int(last_event_id) if last_event_id.isdigit() else -1
            if cursor < 0:
                raise HTTPException(
                    400, f"Last-Event-ID must be an event seq (a whole number), got {last_event_id!r}"
                )
        if record.status.terminal and not await orc.store.events(job_id, since=cursor, limit=1):
            return Response(status_code=204)  # finished and fully delivered: EventSource stops reconnecting

        async def frames() -> AsyncIterator[str]:
            async for event in handle.events(since=cursor):
                yield sse_frame(event.seq, event.type, dict(event.data))

        return StreamingResponse(
            frames(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.post("/jobs/{job_id}/cancel", status_code=202)
    async def cancel_job(job_id: str, request: Request) -> dict[str, Any]:
        handle, _ = await existing(orchestrator(request), job_id)
        try:
            await handle.cancel()
        except NotCancellable as exc:
            raise HTTPException(409, str(exc)) from exc
        return job_view(await handle.record())

    return app


app = create_app()

if __name__ == "__main__":
    import logging

    import structlog
    import uvicorn

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
