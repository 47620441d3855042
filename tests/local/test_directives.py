"""The directive parser: what each directive parses to, bad arguments, and robustness on arbitrary text."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.local import parse_directives, parse_duration, strip_directives
from orchestrator.local._directives import (
    Call,
    Fail,
    Invalid,
    PlanAsText,
    Runtime,
    Schedule,
    Sleep,
    Timezone,
    Tokens,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("20m", 1200),
        ("1h30m", 5400),
        ("90s", 90),
        ("2d", 172800),
        ("1.5h", 5400),
        ("250ms", 0.25),
        ("1h 5m", 3900),
    ],
)
def test_parse_duration_units(text: str, seconds: float) -> None:
    """Durations combine s, m, h, d (and ms) parts, decimals allowed."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "20", "m", "20x", "1h-5m", "abc", "99999999d"])
def test_parse_duration_rejects(text: str) -> None:
    """Anything else is a ValueError saying how to write a duration."""
    with pytest.raises(ValueError, match=r"duration|longer than"):
        parse_duration(text)


def test_each_directive_in_order() -> None:
    """Directives parse to typed values, in the order they appear."""
    text = (
        'start [[sleep 20m]] then [[tokens 5]] [[call lookup {"id": 7}]] [[fail "no luck"]] '
        '[[schedule "0 7 * * 1-5"]] [[timezone "Europe/London"]] [[runtime 2h]] [[plan-as-text]]'
    )
    assert parse_directives(text) == [
        Sleep(1200),
        Tokens(5),
        Call("lookup", {"id": 7}),
        Fail("no luck"),
        Schedule("0 7 * * 1-5"),
        Timezone("Europe/London"),
        Runtime("2h", 7200),
        PlanAsText(),
    ]


def test_call_arguments_may_contain_brackets() -> None:
    """A call's JSON argument can hold ``]]`` without ending the directive early."""
    (directive,) = parse_directives('[[call f {"rows": [[1, 2]], "s": "]]"}]] after')
    assert directive == Call("f", {"rows": [[1, 2]], "s": "]]"})
    assert strip_directives('x [[call f {"rows": [[1]]}]] y') == "x y"


def test_call_without_arguments() -> None:
    """``[[call NAME]]`` calls with an empty object."""
    assert parse_directives("[[call ping]]") == [Call("ping", {})]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[[sleep soon]]", "not a duration"),
        ("[[tokens many]]", "whole number"),
        ("[[tokens -3]]", "count from 0"),
        ("[[call 9bad]]", "call needs a function name"),
        ("[[call f [1, 2]]]", "call needs a function name"),
        ("[[schedule]]", "needs a value"),
        ("[[plan-as-text now]]", "takes no argument"),
        ("[[sleep 5m", "not closed"),
    ],
)
def test_bad_arguments_are_invalid_with_a_reason(text: str, reason: str) -> None:
    """A known directive with a bad argument is Invalid, and says what is wrong."""
    (directive,) = parse_directives(text)
    assert isinstance(directive, Invalid)
    assert reason in directive.reason


def test_unknown_names_are_plain_text() -> None:
    """``[[...]]`` that is not a known directive stays text (wiki links, for instance)."""
    assert parse_directives("see [[Main Page]] and [[sleepy cat]]") == []
    assert strip_directives("see [[Main Page]]  now") == "see [[Main Page]] now"


def test_fail_without_quotes_and_empty() -> None:
    """``[[fail]]`` has a default reason; an unquoted reason is taken as written."""
    assert parse_directives("[[fail]] [[fail disk full]]") == [
        Fail("failure requested by [[fail]]"),
        Fail("disk full"),
    ]


def test_strip_directives_collapses_whitespace() -> None:
    """Stripping leaves the text with single spaces."""
    assert strip_directives("  Summarise\n the [[sleep 1m]] report [[tokens 3]]  ") == "Summarise the report"


@given(st.text())
def test_never_raises_on_arbitrary_text(text: str) -> None:
    """Any text parses (to a possibly empty list) and strips without raising."""
    directives = parse_directives(text)
    assert isinstance(directives, list)
    assert isinstance(strip_directives(text), str)


_DIRECTIVE_PARTS = st.sampled_from(
    ["[[sleep", "[[call", "[[tokens", "[[fail", "]]", "{", "}", '"', "[[", " ", "x"]
)


@given(st.lists(_DIRECTIVE_PARTS, max_size=30).map("".join))
def test_never_raises_on_directive_fragments(text: str) -> None:
    """Fragments of directives, brackets and quotes never make the parser raise."""
    parse_directives(text)
    strip_directives(text)


_ARGS = st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8) | st.booleans(), max_size=3)


@given(
    st.sampled_from(["lookup", "schedule_task", "_x$1"]),
    _ARGS,
    st.integers(min_value=0, max_value=5000),
    st.integers(min_value=1, max_value=500),
)
def test_generated_directives_round_trip(
    name: str, args: dict[str, object], tokens: int, minutes: int
) -> None:
    """Well-formed directives embedded in text parse back to the same values, and strip away completely."""
    text = f"a [[call {name} {json.dumps(args)}]] b [[tokens {tokens}]] c [[sleep {minutes}m]] d"
    assert parse_directives(text) == [Call(name, args), Tokens(tokens), Sleep(minutes * 60)]
    assert strip_directives(text) == "a b c d"
