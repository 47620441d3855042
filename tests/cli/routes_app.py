"""A small application for ``orchestrator routes`` tests: an orchestrator with one job per route, and jobs lists."""

from __future__ import annotations

from orchestrator import Orchestrator, Prompt, job

orc = Orchestrator(store="memory://", environ={})


@orc.job(runtime="3m")
def triage(ticket: str) -> Prompt:
    """A short background job: a dispatch."""
    return Prompt(text=f"Triage this ticket: {ticket}")


@orc.job(runtime="3h", cancellable=True)
def analyse(corpus: str) -> str:
    """Long and cancellable: a task."""
    return f"Analyse {corpus}"


@orc.job(schedule="0 7 * * 1-5", timezone="Europe/London", runtime="20m")
def nightly_summary() -> str:
    """Scheduled: a task."""
    return "Summarise yesterday"


@orc.job(interactive=True)
def chat(text: str) -> str:
    """The reply is needed in the same call: a completion."""
    return text


@orc.job(route="dispatch", runtime="13m")
def tight() -> str:
    """Forced to a dispatch with little headroom: routed, with a warning."""
    return "Work close to the ceiling"


@job(runtime="5h")
def crunch() -> str:
    """Declared without an orchestrator: a task by its runtime."""
    return "Crunch the numbers"


@job
def quick() -> str:
    """Declared without an orchestrator, no runtime: a dispatch."""
    return "Quick one"


unbound_jobs = [crunch, quick]
answer = 42
