"""The typed usage examples run, not just type-check."""

from __future__ import annotations

from orchestrator import Route

from .api_usage import declare, make


def test_usage_examples_declare() -> None:
    """The documented declarations route as the design says."""
    orc = make()
    declare(orc)
    assert {name: j.route for name, j in orc.jobs.items() if not name.startswith("orchestrator.")} == {
        "triage": Route.DISPATCH,
        "analyse": Route.TASK,
        "nightly_summary": Route.TASK,
        "digest": Route.DISPATCH,
        "bounded": Route.TASK,
    }
