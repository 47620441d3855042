"""Fuzzing what crosses a boundary in round 2: declarations (timeout, on_ceiling, max_continuations), the
continuation history the local agent reads, and the adaptive decisions read back from the store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import Route, RoutingError, RoutingPolicy
from orchestrator.jobs import AdaptiveDecision
from orchestrator.jobs._bounds import check_bounds, task_max_time
from orchestrator.local._resume import continuation

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(
        ["fail", "continue", "task", "20m", "1h30m", "0s", "-5m", float("inf"), 1e300, "9" * 30 + "d"]
    ),
)
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(
    route=st.sampled_from(list(Route)),
    runtime=st.one_of(st.none(), st.integers(1, 10**5).map(lambda s: timedelta(seconds=s))),
    timeout=_values,
    on_ceiling=_values,
    max_continuations=_values,
    interactive=st.booleans(),
)
def test_check_bounds_accepts_or_says_why(
    route: Route,
    runtime: timedelta | None,
    timeout: Any,
    on_ceiling: Any,
    max_continuations: Any,
    interactive: bool,
) -> None:
    """Any declaration either validates (to a bound a task can use) or is refused with a RoutingError, nothing else."""
    try:
        bounds = check_bounds(
            "job 'x'",
            route=route,
            runtime=runtime,
            interactive=interactive,
            schedule=None,
            timeout=timeout,
            on_ceiling=on_ceiling,
            max_continuations=max_continuations,
        )
    except RoutingError as exc:
        refused = str(exc)
        assert refused.startswith("job 'x'")
        return
    assert bounds.on_ceiling in ("fail", "continue", "task")
    assert bounds.max_continuations >= 1
    assert task_max_time(runtime, bounds.timeout, RoutingPolicy()) > timedelta(0)


_message = st.fixed_dictionaries(
    {"type": st.sampled_from(["user", "bot", "activity"]), "text": st.text(max_size=20)},
    optional={"meta": st.one_of(_json, st.fixed_dictionaries({"incomplete": _json}))},
)


@given(st.lists(_message, max_size=8))
def test_continuation_reads_any_history(messages: list[dict[str, Any]]) -> None:
    """Any message history gives no continuation or a prompt from it with non-negative work done."""
    found = continuation(messages)
    if found is not None:
        prompt, done = found
        assert done >= 0
        assert prompt in [str(m.get("text", "")) for m in messages if m["type"] == "user"]


def test_regression_infinite_or_huge_timeout_is_refused() -> None:
    """timeout=inf, 1e300 seconds or a 10^30-day string is a RoutingError saying so (found by fuzzing: it was an
    OverflowError)."""
    for timeout in (float("inf"), 1e300, "9" * 30 + "d", float("nan")):
        with pytest.raises(RoutingError, match="timeout"):
            check_bounds(
                "job 'x'",
                route=Route.TASK,
                runtime=None,
                interactive=False,
                schedule=None,
                timeout=timeout,
                on_ceiling="fail",
                max_continuations=3,
            )


def test_continuation_adds_up_the_cut_off_parts() -> None:
    """Two cut-off parts of 900 s before the current request: the steering prompt and 1800 s of work done."""
    cut: dict[str, Any] = {
        "type": "bot",
        "text": "x",
        "meta": {"incomplete": {"reason": "ceiling", "elapsed": 900}},
    }
    messages: list[dict[str, Any]] = [
        {"type": "user", "text": "earlier"},
        {"type": "bot", "text": "done"},
        {"type": "user", "text": "P [[sleep 40m]]"},
        cut,
        {"type": "user", "text": "go on"},
        cut,
        {"type": "user", "text": "go on"},
    ]
    assert continuation(messages) == ("P [[sleep 40m]]", 1800.0)
    assert continuation(messages[:3]) is None


@given(_json)
def test_adaptive_decision_from_any_stored_value(value: Any) -> None:
    """A stored value that is not a decision reads as none; a decision survives the round trip."""
    decision = AdaptiveDecision.from_dict(value)
    if decision is not None:
        assert AdaptiveDecision.from_dict(decision.to_dict()) == decision
