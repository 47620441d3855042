"""Public-API usage that must type-check under mypy --strict (this file is checked, and also imported by a test)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount

from orchestrator import (
    JobHandle,
    JobResult,
    JobStatus,
    JobTimedOut,
    Orchestrator,
    PlannedTask,
    Prompt,
    Route,
    RoutingPolicy,
    VirtualClock,
)
from orchestrator.dashboard import dashboard_app


def declare(orc: Orchestrator) -> None:
    @orc.job(runtime=timedelta(minutes=3))
    async def triage(ticket: str) -> Prompt:
        return Prompt(text=f"Triage this ticket: {ticket}", bot_id="bot_support")

    @orc.job(runtime="3h", cancellable=True)
    def analyse(corpus: str) -> Prompt:
        return Prompt(text=f"Analyse {corpus}")

    @orc.job(schedule="0 7 * * 1-5", timezone="Europe/London", runtime="20m")
    def nightly_summary() -> str:
        return "Summarise yesterday"

    @orc.job(runtime="10m", on_ceiling="continue", max_continuations=2)
    def digest(topic: str) -> str:
        return f"Digest {topic}"

    @orc.job(runtime="2h", timeout="3h", cancellable=True)
    def bounded() -> str:
        return "Work"

    @orc.approver("finance")
    def finance(tasks: Sequence[PlannedTask]) -> bool:
        return all(t.recurring for t in tasks)

    route: Route = triage.route
    assert route is Route.DISPATCH
    assert digest.definition.on_ceiling == "continue"
    assert bounded.definition.timeout == timedelta(hours=3)
    assert bounded.explain().bound is not None
    assert analyse.route is Route.TASK
    assert nightly_summary.explain().route is Route.TASK


async def use(orc: Orchestrator, handle: JobHandle) -> JobResult:
    status: JobStatus = await handle.status()
    assert isinstance(status, JobStatus)
    async for event in handle.events(since=0):
        assert event.seq >= 1
    same: JobHandle = orc.get_handle(handle.id)
    return await same.result(timeout=timedelta(minutes=1))


def make() -> Orchestrator:
    return Orchestrator(
        store="memory://", clock=VirtualClock(), routing=RoutingPolicy(headroom=0.8, adaptive=True)
    )


def outcome(exc: JobTimedOut) -> str:
    return exc.partial_output


def dashboard(orc: Orchestrator) -> Starlette:
    def allow(request: Request) -> bool:
        return request.headers.get("x-user") == "ops"

    mounted = dashboard_app(orc, token=allow, poll_interval=2.0)
    return Starlette(
        routes=[Mount("/orchestrator", mounted), Mount("/ops", dashboard_app(orc, token="a-long-secret"))]
    )
