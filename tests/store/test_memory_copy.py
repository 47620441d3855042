"""The memory store's copy of a payload equals the JSON round trip the durable stores do, fast path or not."""

from __future__ import annotations

import json
import math
from enum import IntEnum, StrEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import StoreError
from orchestrator.store._memory import _copy

_ATOMS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
_VALUES = st.recursive(
    _ATOMS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


class Level(IntEnum):
    LOW = 1


class Colour(StrEnum):
    RED = "red"


def round_trip(value: dict[Any, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(value, allow_nan=False)))


@given(st.dictionaries(st.text(max_size=6) | st.integers(), _VALUES, max_size=5))
def test_copy_is_the_json_round_trip(value: dict[Any, Any]) -> None:
    """Any payload copies to what JSON gives back, and one that JSON refuses (NaN, infinity) is refused."""
    try:
        expected = round_trip(value)
    except ValueError:
        with pytest.raises(StoreError, match="not JSON-serialisable"):
            _copy(value, "a payload")
        return
    copied = _copy(value, "a payload")
    assert copied == expected
    assert json.dumps(copied, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_subclasses_and_non_finite_floats_take_the_json_path() -> None:
    """Enum members become their plain values, tuples lists, int keys strings, as through JSON; NaN is refused."""
    payload: dict[Any, Any] = {"level": Level.LOW, "colour": Colour.RED, "pair": (1, 2), 3: "x"}
    copied = _copy(payload, "a payload")
    assert copied == {"level": 1, "colour": "red", "pair": [1, 2], "3": "x"}
    assert copied is not None and type(copied["level"]) is int and type(copied["colour"]) is str
    with pytest.raises(StoreError, match="not JSON-serialisable"):
        _copy({"x": math.inf}, "a payload")


def test_a_flat_copy_is_independent_of_the_original() -> None:
    """Changing the caller's dict afterwards changes nothing stored."""
    original = {"token": "a", "n": 1}
    copied = _copy(original, "a payload")
    original["token"] = "b"
    assert copied == {"token": "a", "n": 1}


def test_a_nested_copy_is_deep_and_deep_nesting_still_copies() -> None:
    """Nested dicts and lists are copied, not shared; nesting past the fast path's depth gives the same value."""
    original: dict[str, Any] = {"messages": [{"type": "user", "text": "hi"}], "usage": {"token": 3}}
    copied = _copy(original, "a payload")
    original["messages"][0]["text"] = "changed"
    original["usage"]["token"] = 4
    assert copied == {"messages": [{"type": "user", "text": "hi"}], "usage": {"token": 3}}
    deep: dict[str, Any] = {"v": 1}
    for _ in range(40):
        deep = {"d": [deep]}
    assert _copy(deep, "a payload") == round_trip(deep)
