"""Durations as users write them: ``timedelta``, seconds, or ``"90s"``, ``"20m"``, ``"3h"``, ``"1h30m"``, ``"2d"``.

The one parser behind every public duration argument (a job's ``runtime`` and ``timeout``, ``RoutingPolicy``,
``PlanPolicy``, the orchestrator's lease/grace/retention, the local platform's bounds, ``result(timeout=)``), so
each accepts the same forms.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["Duration", "format_duration", "optional_seconds", "parse_duration", "positive_duration"]

Duration = timedelta | float | int | str
"""What a duration argument accepts: a ``timedelta``, a number of seconds, or a string such as ``"15m"``."""

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+$")


def parse_duration(value: Duration, *, what: str = "duration") -> timedelta:
    """Parse a duration.

    Args:
        value: a ``timedelta``, a number of seconds, or a string of number+unit parts (``ms s m h d w``),
            e.g. ``"90s"``, ``"20m"``, ``"1h30m"``.
        what: the name used in error messages (``"runtime"``).

    Returns:
        The duration as a ``timedelta``.

    Raises:
        ValueError: the value is negative, zero-length text, or not in a known form.
    """
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool):
        raise ValueError(f"{what} must be a timedelta, seconds or a string like '20m', got {value!r}")
    elif isinstance(value, int | float):
        try:
            result = timedelta(seconds=float(value))
        except (OverflowError, ValueError) as exc:  # inf, nan, or past timedelta's range
            raise ValueError(f"{what} must be a finite number of seconds, got {value!r}") from exc
    elif isinstance(value, str):
        text = value.strip().lower()
        if not _WHOLE.match(text):
            raise ValueError(
                f"{what} {value!r} is not a duration: write it as number+unit parts, e.g. '90s', '20m', '3h', '1h30m'"
            )
        try:
            result = timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in _PART.findall(text)))
        except OverflowError as exc:
            raise ValueError(f"{what} {value!r} is too long to be a duration") from exc
    else:
        raise ValueError(
            f"{what} must be a timedelta, seconds or a string like '20m', got {type(value).__name__}"
        )
    if result < timedelta(0):
        raise ValueError(f"{what} must not be negative, got {value!r}")
    return result


def positive_duration(value: Duration, *, what: str) -> timedelta:
    """:func:`parse_duration`, refusing zero as well (``ValueError`` naming ``what``)."""
    result = parse_duration(value, what=what)
    if result <= timedelta(0):
        raise ValueError(f"{what} must be a positive duration (e.g. '15m'), got {value!r}")
    return result


def optional_seconds(value: Duration | None, *, what: str) -> float | None:
    """A duration argument that may be ``None`` (no bound), as float seconds."""
    return None if value is None else parse_duration(value, what=what).total_seconds()


def format_duration(value: timedelta | float) -> str:
    """A short human form: ``3h``, ``20m``, ``1h30m``, ``45s``."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    total = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, total = divmod(total, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts) or "0s"
