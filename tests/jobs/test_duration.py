"""Durations as users write them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.jobs import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("20m", 1200),
        ("3h", 10800),
        ("1h30m", 5400),
        ("2d", 172800),
        ("1.5h", 5400),
        ("250ms", 0.25),
    ],
)
def test_parse_forms(text: str, seconds: float) -> None:
    """The documented string forms parse to the expected number of seconds."""
    assert parse_duration(text).total_seconds() == pytest.approx(seconds)


def test_numbers_and_timedeltas() -> None:
    """Numbers are seconds; timedeltas pass through."""
    assert parse_duration(30) == timedelta(seconds=30)
    assert parse_duration(timedelta(minutes=2)) == timedelta(minutes=2)


@pytest.mark.parametrize("bad", ["", "abc", "10 minutes", "-5m", "5", "m5", "1h-30m"])
def test_bad_strings_are_refused(bad: str) -> None:
    """Strings that are not number+unit parts are refused with the accepted forms."""
    with pytest.raises(ValueError, match="number\\+unit"):
        parse_duration(bad)


def test_negative_is_refused() -> None:
    """A negative duration is refused."""
    with pytest.raises(ValueError, match="negative"):
        parse_duration(-1)


@given(st.integers(min_value=1, max_value=10_000_000))
def test_format_parse_round_trip(seconds: int) -> None:
    """format_duration's output parses back to the same duration."""
    assert parse_duration(format_duration(seconds)).total_seconds() == seconds


@given(st.text(max_size=40))
def test_parse_never_crashes(text: str) -> None:
    """Arbitrary text either parses or raises ValueError, never anything else."""
    try:
        parse_duration(text)
    except ValueError:
        pass


@pytest.mark.parametrize("bad", ["9" * 30 + "d", float("inf"), float("nan"), 10**30])
def test_out_of_range_durations_are_value_errors(bad: object) -> None:
    """A duration past timedelta's range, infinity or NaN is a ValueError, never an OverflowError."""
    with pytest.raises(ValueError, match=r"duration|finite"):
        parse_duration(bad)  # type: ignore[arg-type]
