"""A plan written in a reply's text, for a model that answers with its plan instead of calling the plan tool.

Accepted forms: a JSON object ``{"tasks": [...]}`` or a bare JSON list of task objects, either as the whole
reply, inside a fenced code block (```json ... ```), or embedded in prose. The text is only ever parsed as JSON:
never evaluated. :func:`extract_plan` never raises, whatever the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["extract_plan"]

_MAX_TEXT = 200_000
_MAX_STARTS = 64
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[^\n]*\n(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


def _as_plan(value: Any) -> list[Any] | None:
    if isinstance(value, dict):
        tasks = value.get("tasks")
        return list(tasks) if isinstance(tasks, list) else None
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return list(value)
    return None


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _candidates(text: str) -> Iterator[Any]:
    stripped = text.strip()
    yield _decode(stripped)
    for match in _FENCE.finditer(text):
        yield _decode(match.group(2).strip())
    starts = 0
    for match in re.finditer(r"[\[{]", text):
        if starts >= _MAX_STARTS:
            return
        starts += 1
        try:
            value, _ = _DECODER.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            continue
        yield value


def extract_plan(text: str) -> list[Any] | None:
    """The task entries of the first JSON plan found in ``text``, or ``None`` when it holds none.

    Entries are returned as found (each still to be parsed and validated as untrusted input). Only the first
    200,000 characters are read, and at most 64 embedded JSON starts are tried.
    """
    if not isinstance(text, str) or not text:
        return None
    text = text[:_MAX_TEXT]
    for value in _candidates(text):
        plan = _as_plan(value)
        if plan is not None:
            return plan
    return None
