"""``orchestrator routes MODULE:ATTR``: the routing table of an application's jobs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from orchestrator import Route, SystemClock
from orchestrator.jobs import AdaptiveDecision
from orchestrator.jobs import adaptive_meta_key as meta_key
from orchestrator.store import open_store

from .conftest import Invoke

APP = "tests.cli.routes_app"


def test_table_shows_each_job_route_and_reasons(invoke: Invoke) -> None:
    """The table has a row per job with its route, runtime, cancellability, schedule and reasons, then the rule."""
    result = invoke(["routes", f"{APP}:orc"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for name in ("triage", "analyse", "nightly_summary", "chat", "tight"):
        assert name in out
    assert "0 7 * * 1-5" in out and "Europe/London" in out
    assert "it must be cancellable" in out
    assert "only tasks are schedulable" in out
    assert "within the dispatch budget 12m" in out
    assert "! runtime 13m leaves less than 20% headroom" in out
    assert "Rule: cancellable, scheduled, or runtime over 15m x 0.8 = 12m -> task" in out


def test_json_rows(invoke: Invoke) -> None:
    """--json prints one object per job with the route, declaration and reasons."""
    result = invoke(["routes", f"{APP}:orc", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["job"]: row for row in json.loads(result.stdout)}
    # every orchestrator also declares the planning job behind orc.plan(): a dispatch
    assert rows.pop("orchestrator.plan", {"route": "dispatch"})["route"] == "dispatch"
    assert {name: row["route"] for name, row in rows.items()} == {
        "triage": "dispatch",
        "analyse": "task",
        "nightly_summary": "task",
        "chat": "complete",
        "tight": "dispatch",
    }
    assert rows["triage"]["runtime"] == 180.0
    assert rows["triage"]["cancellable"] is False
    assert rows["nightly_summary"]["cancellable"] is True  # tasks always are
    assert rows["nightly_summary"]["declared_cancellable"] is False
    assert rows["nightly_summary"]["schedule"] == "0 7 * * 1-5"
    assert rows["nightly_summary"]["timezone"] == "Europe/London"
    assert rows["chat"]["interactive"] is True
    assert rows["tight"]["forced_route"] == "dispatch"
    assert rows["tight"]["warnings"]
    assert all(row["reasons"] for row in rows.values())


def test_a_list_of_jobs(invoke: Invoke) -> None:
    """MODULE:ATTR may name a list of jobs declared with the module-level @job."""
    result = invoke(["routes", f"{APP}:unbound_jobs", "--json"])
    assert result.exit_code == 0, result.output
    assert [(row["job"], row["route"]) for row in json.loads(result.stdout)] == [
        ("crunch", "task"),
        ("quick", "dispatch"),
    ]


def test_a_single_job(invoke: Invoke) -> None:
    """MODULE:ATTR may name one job."""
    result = invoke(["routes", f"{APP}:triage"])
    assert result.exit_code == 0, result.output
    assert "triage" in result.stdout and "dispatch" in result.stdout


def test_bad_targets_are_clear_errors(invoke: Invoke) -> None:
    """A malformed target exits 2; a missing module, attribute or a non-job object exits 1; no tracebacks."""
    cases = {
        "tests.cli.routes_app": (2, "is not MODULE:ATTR"),
        "tests.cli.no_such_module:orc": (1, "no such module"),
        f"{APP}:missing": (1, "has no attribute 'missing'"),
        f"{APP}:answer": (1, "is a int, not an Orchestrator"),
        "tests.cli.routes_broken:impossible": (1, "declared in a way no route can hold"),
    }
    for target, (code, message) in cases.items():
        result = invoke(["routes", target])
        assert result.exit_code == code, (target, result.output)
        assert message in result.stderr, (target, result.stderr)
        assert "Traceback" not in result.output


def test_routes_show_bounds_and_adaptive_decisions_from_the_store(invoke: Invoke, tmp_path: Path) -> None:
    """With --store, a job adaptive routing moved shows its new route and the evidence; every row has its bound."""
    url = f"sqlite:///{tmp_path}/jobs.sqlite3"

    async def decide() -> None:
        async with open_store(url, clock=SystemClock()) as store:
            decision = AdaptiveDecision(
                route=Route.TASK, previous=Route.DISPATCH, p95=800.0, samples=3, mark=720.0, decided_at=0.0
            )
            await store.set_meta(meta_key("research"), decision.to_dict())

    asyncio.run(decide())
    app = "tests.cli.routes_adaptive_app:orc"
    rows = {row["job"]: row for row in json.loads(invoke(["routes", app, "--json", "--store", url]).stdout)}
    assert rows["research"]["route"] == "task"
    assert "passed the 12m mark" in rows["research"]["adaptive"]
    assert rows["digest"]["route"] == "dispatch" and rows["digest"]["on_ceiling"] == "continue"
    assert "continued, at most 2 times" in rows["digest"]["bound"]
    plain = {row["job"]: row for row in json.loads(invoke(["routes", app, "--json"]).stdout)}
    assert plain["research"]["route"] == "dispatch" and plain["research"]["adaptive"] is None
    table = invoke(["routes", app, "--store", url])
    assert table.exit_code == 0, table.output
    assert "adaptive: observed p95 13m20s" in table.stdout
    assert "bound: the 15m dispatch ceiling" in table.stdout
