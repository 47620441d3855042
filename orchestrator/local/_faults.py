"""Fault injection, seeded and deterministic, so that a client's reliability can be proven against it.

A :class:`FaultRule` applies to requests whose path matches its regex (``re.search`` on the path after the
``/v1`` or ``/api/v1`` prefix, e.g. ``r"^/channel/.*/subscribe$"``), at most ``count`` times, each time with
``probability`` (drawn from one ``random.Random(seed)`` per :class:`Faults`, so a run is reproducible given
the same request order). Kinds:

- ``status``: answer ``status`` with ``{message, code}`` at once (429 carries ``Retry-After``).
- ``drop``: let a stream through, then end it after ``after`` events: ``abrupt`` closes the connection without
  finishing the response (the client sees a broken read), else the stream ends cleanly.
- ``latency``: wait ``delay`` seconds before handling — on the platform clock (virtual under a
``VirtualClock``)
  unless ``real_time``, then on the wall clock.

Build rules with :func:`http_error`, :func:`rate_limit`, :func:`drop_stream` and :func:`latency`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from starlette.types import ASGIApp, Receive, Scope, Send

from .._clock import Clock, SystemClock
from ._errors import CODES, error_body
from ._wire import DROP_SCOPE_KEY, DropStream, dumps

__all__ = ["FaultRule", "Faults", "FaultsMiddleware", "drop_stream", "http_error", "latency", "rate_limit"]

_PREFIX = re.compile(r"^(/api)?/v1(?=/)")


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One kind of fault, where it applies and how often (see the module docstring)."""

    kind: Literal["status", "drop", "latency"]
    path: str = ""
    method: str | None = None
    count: int | None = None
    probability: float = 1.0
    status: int = 503
    retry_after: float | None = None
    after: int = 0
    abrupt: bool = True
    delay: float = 0.0
    real_time: bool = False
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be within 0..1, got {self.probability}")
        if self.count is not None and self.count < 0:
            raise ValueError(f"count must be >= 0 or None, got {self.count}")
        try:
            object.__setattr__(self, "_pattern", re.compile(self.path))
        except re.error as exc:
            raise ValueError(f"path {self.path!r} is not a regular expression: {exc}") from exc

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and self._pattern.search(
            path
        ) is not None


def http_error(
    path: str = "",
    *,
    status: int = 503,
    count: int | None = None,
    probability: float = 1.0,
    method: str | None = None,
) -> FaultRule:
    """Answer ``status`` (500, 502, 503, ...) with ``{message, code}``."""
    return FaultRule("status", path, method, count, probability, status=status)


def rate_limit(
    path: str = "",
    *,
    retry_after: float = 1.0,
    count: int | None = None,
    probability: float = 1.0,
    method: str | None = None,
) -> FaultRule:
    """Answer 429 ``TOO_MANY_REQUESTS`` with ``Retry-After: <seconds>``."""
    return FaultRule("status", path, method, count, probability, status=429, retry_after=retry_after)


def drop_stream(
    path: str = "", *, after: int = 0, abrupt: bool = True, count: int | None = None, probability: float = 1.0
) -> FaultRule:
    """End matching streams after ``after`` events (abruptly: a broken connection; else a clean end)."""
    return FaultRule("drop", path, None, count, probability, after=after, abrupt=abrupt)


def latency(
    path: str = "",
    *,
    delay: float,
    real_time: bool = False,
    count: int | None = None,
    probability: float = 1.0,
    method: str | None = None,
) -> FaultRule:
    """Delay matching requests by ``delay`` seconds (platform clock, or wall clock when ``real_time``)."""
    return FaultRule("latency", path, method, count, probability, delay=delay, real_time=real_time)


class Faults:
    """The active fault rules of a platform (``LocalPlatform.faults``); mutable at runtime.

    Attributes:
        hits: how many times each rule (by position) was applied.
    """

    def __init__(self, rules: Iterable[FaultRule] = (), *, seed: int = 0) -> None:
        self._rules: list[FaultRule] = list(rules)
        self._left: list[int | None] = [r.count for r in self._rules]
        self.hits: list[int] = [0] * len(self._rules)
        self._random = random.Random(seed)

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        return tuple(self._rules)

    def add(self, rule: FaultRule) -> None:
        self._rules.append(rule)
        self._left.append(rule.count)
        self.hits.append(0)

    def clear(self) -> None:
        self._rules.clear()
        self._left.clear()
        self.hits.clear()

    def decide(self, method: str, path: str) -> list[FaultRule]:
        """The rules that fire for this request (consuming their counts), in order."""
        fired = []
        for i, rule in enumerate(self._rules):
            if self._left[i] == 0 or not rule.matches(method, path):
                continue
            if rule.probability < 1.0 and self._random.random() >= rule.probability:
                continue
            left = self._left[i]
            if left is not None:
                self._left[i] = left - 1
            self.hits[i] += 1
            fired.append(rule)
        return fired

    def __repr__(self) -> str:
        return f"Faults({self._rules!r})"


class FaultsMiddleware:
    """ASGI middleware applying ``faults()``, read per request so ``LocalPlatform.faults`` can be replaced."""

    def __init__(self, app: ASGIApp, *, faults: Callable[[], Faults], clock: Clock) -> None:
        self.app = app
        self._faults = faults
        self._clock = clock
        self._wall = SystemClock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _PREFIX.sub("", scope["path"])
        for rule in self._faults().decide(scope["method"], path):
            if rule.kind == "latency":
                await (self._wall if rule.real_time else self._clock).sleep(rule.delay)
            elif rule.kind == "drop":
                scope[DROP_SCOPE_KEY] = DropStream(rule.after, rule.abrupt)
            else:
                await self._answer(rule, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _answer(rule: FaultRule, send: Send) -> None:
        headers = [(b"content-type", b"application/json")]
        if rule.retry_after is not None:
            headers.append((b"retry-after", str(max(0, round(rule.retry_after))).encode()))
        name = CODES.get(rule.status, f"ERROR_{rule.status}").replace("_", " ").lower()
        body = dumps(error_body(rule.status, f"Injected fault: {name}"))
        await send({"type": "http.response.start", "status": rule.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
