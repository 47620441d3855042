"""One duration parser behind every public duration argument: the forms a job's runtime takes work everywhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import Orchestrator, PlanPolicy, Prompt, ResultTimeout, RoutingPolicy, VirtualClock
from orchestrator.jobs import parse_duration
from orchestrator.testing import Harness

_UNITS = st.sampled_from(["ms", "s", "m", "h", "d", "w"])
_DURATION_TEXT = st.lists(st.tuples(st.integers(1, 500), _UNITS), min_size=1, max_size=3).map(
    lambda parts: "".join(f"{n}{u}" for n, u in parts)
)


def test_plan_policy_takes_the_strings_a_runtime_takes() -> None:
    """PlanPolicy(min_interval="15m") works like @orc.job(runtime="15m"); seconds and timedeltas too."""
    policy = PlanPolicy(
        min_interval="15m", max_task_runtime="2h", max_total_runtime=86400, default_runtime="1h"
    )
    assert policy.min_interval == timedelta(minutes=15)
    assert policy.max_task_runtime == timedelta(hours=2)
    assert policy.max_total_runtime == timedelta(days=1)
    assert policy == PlanPolicy(
        min_interval=timedelta(minutes=15),
        max_task_runtime=timedelta(hours=2),
        max_total_runtime=timedelta(days=1),
        default_runtime=timedelta(hours=1),
    )
    assert PlanPolicy.from_dict(policy.to_dict()) == policy


def test_routing_policy_takes_duration_strings() -> None:
    """RoutingPolicy durations accept strings and seconds, and the routing follows them."""
    policy = RoutingPolicy(ceiling="10m", default_runtime=120, completion_bound="5m")
    assert (policy.ceiling, policy.default_runtime, policy.completion_bound) == (
        timedelta(minutes=10),
        timedelta(minutes=2),
        timedelta(minutes=5),
    )
    assert policy.dispatch_budget == timedelta(minutes=8)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PlanPolicy(min_interval="soon"), "min_interval 'soon' is not a duration"),
        (lambda: PlanPolicy(max_start_delay="0s"), "max_start_delay must be a positive duration"),
        (lambda: RoutingPolicy(ceiling="0m"), "ceiling must be a positive duration"),
        (lambda: RoutingPolicy(default_runtime="-5m"), "default_runtime '-5m' is not a duration"),
        (lambda: RoutingPolicy(headroom=0), "headroom must be in"),
        (lambda: Orchestrator(lease="forever"), "lease 'forever' is not a duration"),
    ],
)
def test_bad_durations_say_what_was_wrong(make: object, message: str) -> None:
    """A bad duration argument raises ValueError naming the argument and the accepted forms."""
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


@given(_DURATION_TEXT)
def test_every_runtime_string_is_a_plan_policy_duration(text: str) -> None:
    """Any string a job's runtime accepts gives PlanPolicy the same duration (fuzzed)."""
    expected = parse_duration(text, what="runtime")
    bound = max(expected, timedelta(hours=6))
    policy = PlanPolicy(min_interval=text, max_task_runtime=bound, max_total_runtime=bound * 4)
    assert policy.min_interval == expected


async def test_result_timeout_and_orchestrator_bounds_take_strings(harness: Harness) -> None:
    """result(timeout="2m") waits two virtual minutes; Orchestrator(lease="45s", retention="3d") is accepted."""
    orc = harness.orchestrator(lease="45s", retention="3d")

    @orc.job(runtime="10m")
    def slow() -> Prompt:
        return Prompt(text="work [[sleep 9m]]")

    clock = orc.clock
    assert isinstance(clock, VirtualClock)
    async with orc:
        handle = await slow.start()
        started = clock.time()
        with pytest.raises(ResultTimeout):
            await handle.result(timeout="2m")
        assert clock.time() - started == pytest.approx(120, abs=1)
        assert (await handle.result(timeout="1h")).text
