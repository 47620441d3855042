"""The pure parts of planning: proposal parsing, the policy's bounds, and reading a plan out of reply text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.planning import PlanPolicy, Proposal, extract_plan, parse_proposal
from orchestrator.planning._policy import shortest_interval
from orchestrator.planning._proposal import InvalidProposal, task_key

NOW = datetime(2026, 3, 23, 0, 0, tzinfo=UTC)


def test_parse_normalises_and_drops_unknown_keys() -> None:
    """Text is stripped, whitespace in names collapsed, empty optionals dropped, unknown keys only reported."""
    p = parse_proposal(
        {
            "name": "  Daily   digest ",
            "instructions": " Sum up. ",
            "schedule": "",
            "runtime": "1h30m",
            "x": 1,
            "y": 2,
        }
    )
    assert p == Proposal(
        name="Daily digest", instructions="Sum up.", runtime=timedelta(minutes=90), ignored=("x", "y")
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([1, 2], "must be an object"),
        ({"instructions": "x"}, "name is required"),
        ({"name": "a", "instructions": "   "}, "instructions must not be empty"),
        ({"name": "a", "instructions": 3}, "instructions must be a string, got int"),
        ({"name": "a", "instructions": "x\x00y"}, "control characters"),
        ({"name": "a", "instructions": "x", "runtime": True}, "runtime must be a duration"),
        ({"name": "a", "instructions": "x", "runtime": "soon"}, "not a usable duration"),
        ({"name": "a", "instructions": "x", "runtime": float("inf")}, "not a usable duration"),
        ({"name": "a", "instructions": "x", "runtime": float("nan")}, "not a usable duration"),
        ({"name": "a", "instructions": "x", "runtime": 10**30}, "not a usable duration"),
        ({"name": "a", "instructions": "x", "runtime": 0}, "longer than zero"),
        ({"name": "a", "instructions": "x", "schedule": "never"}, "not a valid cron expression"),
        ({"name": "a", "instructions": "x", "timezone": "Nowhere/City"}, "not an IANA timezone"),
        ({"name": "a", "instructions": "x", "start_at": "tomorrow"}, "not an ISO 8601"),
        (
            {"name": "a", "instructions": "x", "schedule": "daily", "start_at": "2026-04-01T09:00"},
            "one-off tasks",
        ),
        ({"name": "a" * 300, "instructions": "x"}, "far over any limit"),
    ],
)
def test_parse_refuses_bad_input_saying_why(args: object, message: str) -> None:
    """Each malformed proposal is refused with a message that says what is wrong."""
    with pytest.raises(InvalidProposal, match=message):
        parse_proposal(args)


def test_naive_start_is_read_in_the_timezone() -> None:
    """A start time without an offset is read in the proposal's timezone, then kept in UTC."""
    p = parse_proposal(
        {"name": "a", "instructions": "x", "timezone": "Europe/London", "start_at": "2026-07-01T09:00"}
    )
    assert p.start_at == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    assert p.naive_start
    assert Proposal.from_dict(p.to_dict()) == Proposal(
        name="a", instructions="x", timezone="Europe/London", start_at=p.start_at, naive_start=True
    )


def test_task_key_is_deterministic_and_case_insensitive() -> None:
    """A task's key depends on the plan key and the name (case-insensitively) only."""
    assert task_key("k", "Daily Digest") == task_key("k", "daily digest")
    assert task_key("k", "a") != task_key("k2", "a")
    assert task_key("k", "a").startswith("pt_")


@pytest.mark.parametrize(
    ("schedule", "gap"),
    [
        ("0 7 * * 1-5", timedelta(days=1)),
        ("*/15 * * * *", timedelta(minutes=15)),
        ("hourly", timedelta(hours=1)),
        ("0 0 1 * *", timedelta(days=28)),
        ("30 1 * * *", timedelta(days=1)),  # a daylight-saving fold is not a short gap
    ],
)
def test_shortest_interval(schedule: str, gap: timedelta) -> None:
    """The shortest gap between fire times over the sample window, on the wall clock."""
    assert shortest_interval(schedule, start=NOW) == gap


def test_schedule_that_never_fires_is_refused() -> None:
    """A valid-looking cron expression that never fires (30 February) is refused, not an error."""
    assert shortest_interval("0 0 30 2 *", start=NOW) is None
    proposal = parse_proposal({"name": "a", "instructions": "x", "schedule": "0 0 30 2 *"})
    assert "never fires" in str(PlanPolicy().validate(proposal, [], now=NOW.timestamp()))


def test_policy_round_trips_and_refuses_bad_configuration() -> None:
    """A policy survives to_dict/from_dict; impossible configurations are refused when built."""
    policy = PlanPolicy(
        max_tasks=3, allowed_timezones=frozenset({"UTC", "Europe/London"}), name_pattern="[a-z]+"
    )
    assert PlanPolicy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy
    with pytest.raises(ValueError, match="max_tasks"):
        PlanPolicy(max_tasks=0)
    with pytest.raises(ValueError, match="not an IANA"):
        PlanPolicy(allowed_timezones=frozenset({"Atlantis/Capital"}))
    with pytest.raises(ValueError, match="not one string"):
        PlanPolicy(allowed_timezones="UTC")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="default_runtime"):
        PlanPolicy(default_runtime=timedelta(hours=7))
    with pytest.raises(ValueError, match="not a regular expression"):
        PlanPolicy(name_pattern="(")
    with pytest.raises(ValueError, match="positive"):
        PlanPolicy(min_interval=timedelta(0))


def test_policy_fills_the_default_runtime_and_bounds_start_times() -> None:
    """An accepted proposal gets the default runtime; start times in the past or too far ahead are refused."""
    policy = PlanPolicy(max_start_delay=timedelta(days=7))
    now = NOW.timestamp()
    accepted = policy.validate(Proposal(name="a", instructions="x"), [], now=now)
    assert isinstance(accepted, Proposal) and accepted.runtime == timedelta(hours=1)
    past = Proposal(name="a", instructions="x", start_at=NOW - timedelta(hours=1))
    assert "in the past" in str(policy.validate(past, [], now=now))
    far = Proposal(name="a", instructions="x", start_at=NOW + timedelta(days=8))
    assert "more than 7d ahead" in str(policy.validate(far, [], now=now))
    assert "timezones: any IANA timezone" in policy.describe()
    assert "at most 10 tasks" in policy.describe()


@pytest.mark.parametrize(
    "text",
    [
        '{"tasks": [{"name": "a", "instructions": "x"}]}',
        'Here is the plan:\n```json\n{"tasks": [{"name": "a", "instructions": "x"}]}\n```\nDone.',
        '```\n[{"name": "a", "instructions": "x"}]\n```',
        'Sure. {"tasks": [{"name": "a", "instructions": "x"}]} Let me know.',
        'Note [1] first. Then: [{"name": "a", "instructions": "x"}]',
    ],
)
def test_extract_plan_forms(text: str) -> None:
    """A JSON plan is found whole, in a fenced block, or embedded in prose; an object or a bare list."""
    assert extract_plan(text) == [{"name": "a", "instructions": "x"}]


@pytest.mark.parametrize(
    "text", ["", "No plan here.", "[1, 2, 3]", '{"steps": []}', "[[[[[[", "{" * 5000, "[]"]
)
def test_extract_plan_finds_nothing_in_other_text(text: str) -> None:
    """Text without a plan gives None, never an error."""
    assert extract_plan(text) is None


@given(st.text(max_size=2000))
def test_extract_plan_never_raises(text: str) -> None:
    """Whatever the text, extract_plan returns a list or None."""
    result = extract_plan(text)
    assert result is None or isinstance(result, list)


@settings(max_examples=50)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: st.lists(c) | st.dictionaries(st.text(max_size=10), c),
        max_leaves=30,
    )
)
def test_extract_plan_never_raises_on_json(value: object) -> None:
    """Arbitrary JSON (in prose) is read without error."""
    result = extract_plan("plan: " + json.dumps(value) + " end")
    assert result is None or isinstance(result, list)


_SCHEDULES = [
    "0 7 * * 1-5",
    "* * * * *",
    "0 0 30 2 *",
    "@hourly",
    "daily",
    "never",
    "61 * * * *",
    "0 0 * * * *",
]
_ZONES = ["UTC", "Europe/London", "../etc/passwd", "Mars/Base", "", "America/New_York"]


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(["name", "instructions", "schedule", "timezone", "runtime", "start_at", "x"]),
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=30)
        | st.sampled_from(_SCHEDULES + _ZONES + ["2026-03-24T09:00", "2026-03-23T01:00:00+05:00", "2h"]),
    )
)
def test_untrusted_proposals_are_parsed_or_refused(args: dict[str, object]) -> None:
    """Arbitrary tool arguments are accepted or refused with a reason (InvalidProposal or the policy's text)."""
    outcome: Proposal | str
    try:
        outcome = PlanPolicy().validate(parse_proposal(args), [], now=NOW.timestamp())
    except InvalidProposal as exc:
        outcome = str(exc)
    assert (
        outcome if isinstance(outcome, str) else (outcome.name and outcome.instructions and outcome.runtime)
    )
