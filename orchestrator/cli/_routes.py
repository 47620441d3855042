"""``orchestrator routes MODULE:ATTR``: the routing table of an application's jobs, and the reasons for each route."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from .._errors import RoutingError
from .._orchestrator import Orchestrator
from ..jobs import AdaptiveRouter, Job, RouteDecision, RoutingPolicy, format_duration
from ._common import CliError, RefusedError, echo_json, make_console, opened_store, run_async

__all__ = ["load_jobs", "route_rows", "routes"]


def _import(module_name: str) -> Any:
    # like `uvicorn app:app`: modules of the project in the current directory are importable
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise CliError(
                f"cannot import {module_name!r}: no such module. Run the command from your project's directory, "
                "or install the project into this environment"
            ) from exc
        raise CliError(f"importing {module_name!r} failed: {exc}") from exc
    except RoutingError as exc:
        raise CliError(f"a job in {module_name!r} is declared in a way no route can hold: {exc}") from exc
    except Exception as exc:  # user code: translated into a message, never a traceback
        raise CliError(f"importing {module_name!r} raised {type(exc).__name__}: {exc}") from exc


def load_jobs(target: str) -> tuple[list[Job[Any]], RoutingPolicy | None]:
    """The jobs ``MODULE:ATTR`` names (an :class:`Orchestrator`, a job, or a list of jobs) and their policy.

    Raises:
        CliError: the target is malformed, cannot be imported, or is not an orchestrator or jobs.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise RefusedError(
            f"{target!r} is not MODULE:ATTR: name the module and the attribute holding your Orchestrator "
            "(or list of jobs), e.g. `orchestrator routes myapp.jobs:orc`"
        )
    obj = _import(module_name)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise CliError(f"module {module_name!r} has no attribute {attr!r}") from exc
    if isinstance(obj, Orchestrator):
        return list(obj.jobs.values()), obj.routing
    if isinstance(obj, Job):
        return [obj], _policy_of([obj])
    if isinstance(obj, list | tuple | set | frozenset) and obj and all(isinstance(j, Job) for j in obj):
        found = sorted(obj, key=lambda j: j.name) if isinstance(obj, set | frozenset) else list(obj)
        return found, _policy_of(found)
    raise CliError(
        f"{target} is a {type(obj).__name__}, not an Orchestrator, a job or a list of jobs: point at the "
        "object your jobs are declared on (e.g. the `orc` of `@orc.job(...)`)"
    )


def _policy_of(jobs: Iterable[Job[Any]]) -> RoutingPolicy | None:
    for j in jobs:
        if j._orc is not None:
            return j._orc.routing
    return None


async def read_adaptive(
    store_url: str, jobs: Iterable[Job[Any]], policy: RoutingPolicy | None
) -> AdaptiveRouter:
    """The adaptive routing decisions the store holds for these jobs (``RoutingPolicy(adaptive=True)``)."""
    router = AdaptiveRouter(policy or RoutingPolicy())
    async with opened_store(store_url) as store:
        for j in jobs:
            if router.applies(j.definition.decision, j.definition.forced_route):
                await router.read(store, j.name)
    return router


def route_rows(jobs: Iterable[Job[Any]], adaptive: AdaptiveRouter | None = None) -> list[dict[str, Any]]:
    """One JSON-ready mapping per job: route, declaration, reasons, bound and any adaptive move."""
    rows = []
    for j in jobs:
        d = j.definition
        decision: RouteDecision = j.explain() if adaptive is None else adaptive.explain(j.name, d.decision)
        rows.append(
            {
                "job": j.name,
                "route": decision.route.value,
                "runtime": None if d.runtime is None else d.runtime.total_seconds(),
                "cancellable": d.cancellable or decision.route.value == "task",
                "declared_cancellable": d.cancellable,
                "interactive": d.interactive,
                "schedule": d.schedule,
                "timezone": d.timezone,
                "forced_route": None if d.forced_route is None else d.forced_route.value,
                "reasons": list(decision.reasons),
                "warnings": list(decision.warnings),
                "bound": decision.bound,
                "timeout": None if d.timeout is None else d.timeout.total_seconds(),
                "on_ceiling": d.on_ceiling,
                "adaptive": decision.adaptive,
            }
        )
    return rows


def _rule(policy: RoutingPolicy | None) -> str:
    p = policy or RoutingPolicy()
    return (
        f"Rule: cancellable, scheduled, or runtime over {format_duration(p.ceiling)} x {p.headroom:g} = "
        f"{format_duration(p.dispatch_budget)} -> task; interactive -> complete; other background work -> dispatch."
    )


@click.command("routes")
@click.argument("target", metavar="MODULE:ATTR")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@click.option(
    "--store",
    "store_url",
    default=None,
    metavar="URL",
    help="Also show the adaptive routing decisions kept in this store (RoutingPolicy(adaptive=True)).",
)
def routes(target: str, as_json: bool, store_url: str | None) -> None:
    """The routing table of an application's jobs (MODULE:ATTR names its Orchestrator or a list of jobs)."""
    jobs, policy = load_jobs(target)
    adaptive = None if store_url is None else run_async(lambda: read_adaptive(store_url, jobs, policy))
    rows = route_rows(jobs, adaptive)
    if as_json:
        echo_json(rows)
        return
    console = make_console()
    if not rows:
        console.print(f"{target} declares no jobs.")
        return
    table = Table(title=f"Routes of {target}", title_justify="left", show_lines=True)
    table.add_column("job", no_wrap=True)
    table.add_column("route", no_wrap=True)
    table.add_column("runtime", justify="right", no_wrap=True)
    table.add_column("cancellable", no_wrap=True)
    table.add_column("schedule")
    table.add_column("reasons", ratio=1)
    for row, j in zip(rows, jobs, strict=True):
        runtime = j.definition.runtime
        schedule = row["schedule"] or "-"
        if row["timezone"]:
            schedule += f"\n{row['timezone']}"
        reasons = Text("\n".join(f"- {r}" for r in row["reasons"]))
        if row["bound"]:
            reasons.append(f"\n- {row['bound']}")
        if row["adaptive"]:
            reasons.append(f"\n- {row['adaptive']}", style="bold cyan")
        for warning in row["warnings"]:
            reasons.append(f"\n! {warning}", style="yellow")
        table.add_row(
            row["job"],
            Text(row["route"], style="bold"),
            "-" if runtime is None else format_duration(runtime),
            "yes" if row["cancellable"] else "no",
            schedule,
            reasons,
        )
    console.print(table)
    console.print(_rule(policy))
