"""Routing: the guide's decision tree, refusals at decoration time, and explanations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator import Prompt, Route, RoutingError, RoutingPolicy, job
from orchestrator.jobs._routing import JobShape


def test_chat_reply_is_a_completion() -> None:
    """The guide's chat reply (interactive, stateful) becomes a completion."""

    @job(interactive=True, runtime="30s")
    def chat_reply(conversation_id: str, text: str) -> Prompt:
        return Prompt(text=text, conversation_id=conversation_id)

    assert chat_reply.route is Route.COMPLETE
    assert "same call" in str(chat_reply.explain())


def test_nightly_summary_is_a_scheduled_task() -> None:
    """The guide's nightly summary (a schedule) becomes a task."""

    @job(schedule="0 7 * * 1-5", timezone="Europe/London", runtime="20m")
    def nightly_summary() -> str:
        return "Summarise yesterday's tickets"

    assert nightly_summary.route is Route.TASK
    assert any("schedule" in r for r in nightly_summary.explain().reasons)


def test_long_analysis_is_a_task() -> None:
    """The guide's long document analysis (hours, cancellable) becomes a task."""

    @job(runtime="3h", cancellable=True)
    def analyse(corpus: str) -> str:
        return f"Analyse {corpus}"

    assert analyse.route is Route.TASK
    reasons = " ".join(analyse.explain().reasons)
    assert "cancellable" in reasons


def test_triage_is_a_dispatch() -> None:
    """A short background job that need not be cancellable becomes a dispatch."""

    @job(runtime=timedelta(minutes=3))
    def triage(ticket: str) -> str:
        return f"Triage {ticket}"

    assert triage.route is Route.DISPATCH
    assert "within the dispatch budget" in " ".join(triage.explain().reasons)


def test_runtime_over_the_headroom_becomes_a_task() -> None:
    """A runtime over ceiling x headroom (12 min by default) is routed to a task, even if under 15 min."""

    @job(runtime="13m")
    def slowish() -> str:
        return "x"

    assert slowish.route is Route.TASK
    assert "exceeds the dispatch ceiling" in " ".join(slowish.explain().reasons)


def test_headroom_is_configurable() -> None:
    """With headroom 1.0 a 14-minute job fits a dispatch."""
    policy = RoutingPolicy(headroom=1.0)
    assert policy.decide(JobShape(name="j", runtime=timedelta(minutes=14))).route is Route.DISPATCH


def test_forced_dispatch_over_ceiling_is_refused() -> None:
    """Forcing a dispatch for a runtime over the ceiling is refused with what to declare instead."""
    with pytest.raises(RoutingError, match="route='task'"):

        @job(route="dispatch", runtime="20m")
        def too_long() -> str:
            return "x"


def test_forced_cancellable_dispatch_is_refused() -> None:
    """A dispatch cannot be cancellable."""
    with pytest.raises(RoutingError, match="cannot be cancelled"):

        @job(route="dispatch", cancellable=True)
        def cancellable_dispatch() -> str:
            return "x"


def test_bad_cron_is_refused() -> None:
    """A schedule that is not cron is refused at decoration time, with an example."""
    with pytest.raises(RoutingError, match="0 7 \\* \\* 1-5"):

        @job(schedule="every morning")
        def bad() -> str:
            return "x"


def test_bad_timezone_is_refused() -> None:
    """An unknown timezone is refused."""
    with pytest.raises(RoutingError, match="IANA"):

        @job(schedule="0 7 * * *", timezone="Mars/Olympus")
        def bad_tz() -> str:
            return "x"


def test_schedule_with_arguments_is_refused() -> None:
    """A scheduled job runs without arguments, so required parameters are refused."""
    with pytest.raises(RoutingError, match="takes ticket"):

        @job(schedule="0 7 * * *")
        def needs_args(ticket: str) -> str:
            return ticket


def test_bad_runtime_is_refused() -> None:
    """A runtime that is not a duration is refused with the accepted forms."""
    with pytest.raises(RoutingError, match="'20m'"):

        @job(runtime="twenty minutes")
        def bad_runtime() -> str:
            return "x"


def test_interactive_cancellable_is_refused() -> None:
    """An interactive completion cannot be cancellable."""
    with pytest.raises(RoutingError, match="cannot be cancelled"):

        @job(interactive=True, cancellable=True)
        def chat() -> str:
            return "x"


def test_interactive_over_completion_bound_is_refused() -> None:
    """An interactive job longer than one completion call can last is refused."""
    with pytest.raises(RoutingError, match="bounded"):

        @job(interactive=True, runtime="1h")
        def chat() -> str:
            return "x"


def test_forced_dispatch_with_schedule_is_refused() -> None:
    """Only tasks are schedulable."""
    with pytest.raises(RoutingError, match="only tasks are schedulable"):

        @job(route="dispatch", schedule="0 * * * *")
        def sched() -> str:
            return "x"


def test_unknown_route_is_refused() -> None:
    """A route name that does not exist is refused, listing the routes."""
    with pytest.raises(RoutingError, match="dispatch"):

        @job(route="lambda")
        def odd() -> str:
            return "x"


def test_forced_dispatch_near_ceiling_warns() -> None:
    """A forced dispatch between the budget and the ceiling is allowed with a warning."""

    @job(route="dispatch", runtime="14m")
    def close_call() -> str:
        return "x"

    assert close_call.route is Route.DISPATCH
    assert close_call.explain().warnings


def test_calling_the_job_returns_its_prompt() -> None:
    """Calling the decorated function still returns its Prompt (easy to unit-test)."""

    @job(runtime="1m")
    def triage(ticket: str) -> Prompt:
        return Prompt(text=f"Triage {ticket}", bot_id="bot_support")

    prompt = triage("T-1")
    assert isinstance(prompt, Prompt)
    assert prompt.text == "Triage T-1"
    assert prompt.bot_id == "bot_support"


def test_a_job_is_bound_to_the_orchestrator_it_is_declared_on() -> None:
    """``job.orchestrator`` is the Orchestrator of ``@orc.job`` (its runtime only runs the job for it)."""
    from orchestrator import Orchestrator

    orc = Orchestrator(store="memory://")

    @orc.job(runtime="3m")
    def triage(ticket: str) -> str:
        return f"Triage {ticket}"

    late = job(runtime="3h", cancellable=True, name="analyse")(lambda: "analyse")
    assert late.registered_with is None
    orc.register(late)
    assert triage.orchestrator is orc
    assert late.orchestrator is orc
    assert orc.jobs["triage"] is triage
    assert late.route is Route.TASK


def test_an_unknown_job_option_is_named_with_the_options_a_job_takes() -> None:
    """A misspelt decorator argument (``runtme=``) is an InvalidArgument naming it and listing the real options."""
    from typing import Any

    from orchestrator import InvalidArgument, Orchestrator

    misspelt: dict[str, Any] = {"runtme": "3m"}
    for decorator in (job, Orchestrator(store="memory://").job):
        with pytest.raises(InvalidArgument, match=r"unknown job option\(s\) 'runtme': a job takes runtime, "):
            decorator(**misspelt)
