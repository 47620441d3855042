"""Directives that steer the simulated agent, written inside the text it is given: a small pure parser.

``[[sleep 20m]]`` ``[[tokens 200]]`` ``[[fail "why"]]`` ``[[call NAME {json}]]`` ``[[schedule "0 7 * *
1-5"]]`` ``[[timezone "Europe/London"]]`` ``[[runtime 2h]]`` ``[[plan-as-text]]``. Only ``[[`` followed by one
of these names is a directive; any other ``[[...]]`` is plain text. A directive with a known name but a bad
argument parses to :class:`Invalid`, which says what is wrong, so the agent can fail the run with that
message. The parser never raises, whatever the text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .._duration import parse_duration as _parse_duration

__all__ = [
    "Call",
    "Directive",
    "Fail",
    "Invalid",
    "PlanAsText",
    "Runtime",
    "Schedule",
    "Sleep",
    "Timezone",
    "Tokens",
    "parse_directives",
    "parse_duration",
    "strip_directives",
]

NAMES = ("sleep", "tokens", "fail", "call", "schedule", "timezone", "runtime", "plan-as-text")
_OPEN = re.compile(r"\[\[\s*(" + "|".join(re.escape(n) for n in NAMES) + r")(?=[\s\]])", re.IGNORECASE)
_FUNCTION_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
MAX_TOKENS = 1_000_000
MAX_DURATION = 3650 * 86400.0


def parse_duration(text: str) -> float:
    """Seconds in ``20m``, ``1h30m``, ``90s``, ``1.5h``, ``2d`` (units ms, s, m, h, d, w): the package's one
    duration parser (:func:`orchestrator.jobs.parse_duration`), as float seconds, at most ten years.

    Raises:
        ValueError: the text is not such a duration.
    """
    if not text.strip():
        raise ValueError("empty duration: write e.g. 20m, 1h30m, 90s, 2d")
    try:
        total = _parse_duration(text, what="duration").total_seconds()
    except (ValueError, OverflowError) as exc:
        raise ValueError(
            f"{text.strip()!r} is not a duration: write e.g. 20m, 1h30m, 90s, 2d (units s, m, h, d)"
        ) from exc
    if total > MAX_DURATION:
        raise ValueError(f"{text.strip()!r} is longer than {MAX_DURATION / 86400:g} days")
    return total


@dataclass(frozen=True, slots=True)
class Sleep:
    """Work for ``seconds`` of platform time."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Tokens:
    """Stream ``count`` token events."""

    count: int


@dataclass(frozen=True, slots=True)
class Fail:
    """End the run with an error whose message is ``reason``."""

    reason: str


@dataclass(frozen=True, slots=True)
class Call:
    """Call the declared function ``name`` with ``args`` and wait for its result."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Schedule:
    """Planner: the task's schedule."""

    expression: str


@dataclass(frozen=True, slots=True)
class Timezone:
    """Planner: the task's timezone."""

    name: str


@dataclass(frozen=True, slots=True)
class Runtime:
    """Planner: the task's expected runtime (``text`` as written, ``seconds`` parsed)."""

    text: str
    seconds: float


@dataclass(frozen=True, slots=True)
class PlanAsText:
    """Planner: reply with the plan as JSON text instead of calling the tool."""


@dataclass(frozen=True, slots=True)
class Invalid:
    """A directive with a known name and a bad argument: ``source`` as written, ``reason`` what is wrong."""

    source: str
    reason: str


Directive = Sleep | Tokens | Fail | Call | Schedule | Timezone | Runtime | PlanAsText | Invalid


def _string_arg(arg: str) -> str:
    arg = arg.strip()
    if arg.startswith('"'):
        try:
            value, end = json.JSONDecoder().raw_decode(arg)
        except ValueError:
            return arg.strip('"')
        if isinstance(value, str) and not arg[end:].strip():
            return value
    return arg


def _build(name: str, arg: str, source: str) -> Directive:
    try:
        if name == "sleep":
            return Sleep(parse_duration(arg))
        if name == "runtime":
            return Runtime(arg.strip(), parse_duration(arg))
        if name == "tokens":
            count = int(arg.strip())
            if not 0 <= count <= MAX_TOKENS:
                return Invalid(source, f"tokens takes a count from 0 to {MAX_TOKENS}")
            return Tokens(count)
        if name == "fail":
            return Fail(_string_arg(arg) or "failure requested by [[fail]]")
        if name == "plan-as-text":
            return PlanAsText() if not arg.strip() else Invalid(source, "plan-as-text takes no argument")
        value = _string_arg(arg)
        if not value:
            return Invalid(source, f'{name} needs a value in quotes, e.g. [[{name} "..."]]')
        return Schedule(value) if name == "schedule" else Timezone(value)
    except ValueError as exc:
        return Invalid(
            source, str(exc) if name != "tokens" else "tokens takes a whole number, e.g. [[tokens 200]]"
        )


def _parse_call(text: str, start: int, body_start: int) -> tuple[Directive, int] | None:
    """A ``call`` directive at ``start``: the JSON argument may itself contain ``]]``."""
    rest = text[body_start:]
    stripped = rest.lstrip()
    offset = body_start + len(rest) - len(stripped)
    name_match = _FUNCTION_NAME.match(stripped)
    if name_match is None:
        return None
    name = name_match.group(0)
    after = offset + name_match.end()
    tail = text[after:]
    args_text = tail.lstrip()
    args_at = after + len(tail) - len(args_text)
    if args_text.startswith("]]"):
        return Call(name, {}), args_at + 2
    if not args_text.startswith("{"):
        return None
    try:
        value, used = json.JSONDecoder().raw_decode(args_text)
    except (ValueError, RecursionError):
        return None
    closing = args_text[used:].lstrip()
    if not closing.startswith("]]") or not isinstance(value, dict):
        return None
    end = args_at + used + (len(args_text[used:]) - len(closing)) + 2
    return Call(name, value), end


def _scan(text: str) -> list[tuple[int, int, Directive]]:
    found: list[tuple[int, int, Directive]] = []
    pos = 0
    while (match := _OPEN.search(text, pos)) is not None:
        name = match.group(1).lower()
        if name == "call":
            parsed = _parse_call(text, match.start(), match.end())
            if parsed is not None:
                found.append((match.start(), parsed[1], parsed[0]))
                pos = parsed[1]
                continue
        close = text.find("]]", match.end())
        if close < 0:
            source = text[match.start() :]
            found.append((match.start(), len(text), Invalid(source, "directive is not closed with ]]")))
            break
        source = text[match.start() : close + 2]
        if name == "call":
            reason = 'call needs a function name and an optional JSON object, e.g. [[call lookup {"id": 1}]]'
            directive: Directive = Invalid(source, reason)
        else:
            directive = _build(name, text[match.end() : close], source)
        found.append((match.start(), close + 2, directive))
        pos = close + 2
    return found


def parse_directives(text: str) -> list[Directive]:
    """Every directive in ``text``, in order of appearance. Never raises."""
    return [directive for _, _, directive in _scan(text)]


def strip_directives(text: str) -> str:
    """``text`` without its directives, whitespace collapsed."""
    parts = []
    pos = 0
    for start, end, _ in _scan(text):
        parts.append(text[pos:start])
        pos = end
    parts.append(text[pos:])
    return " ".join("".join(parts).split())
