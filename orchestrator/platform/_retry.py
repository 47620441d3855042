"""When and how long to retry a platform request: :class:`RetryPolicy` and its tenacity controller.

Only requests that are safe to repeat are retried (reads, subscribes, cancels, updates, deletes, a dispatch with a
client-chosen ``channelId``), and only on failures that may pass: 429, 502, 503, 504, connection errors and
timeouts. A ``Retry-After`` header is honoured on a 503 as on a 429. The sleeps go through the client's
:class:`~orchestrator.Clock`, so a ``VirtualClock`` skips them.
"""

from __future__ import annotations

import random as _random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tenacity import RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.asyncio import AsyncRetrying

from .._errors import (
    ConfigurationError,
    PlatformConnectionError,
    PlatformTimeout,
    PlatformUnavailable,
    RateLimitedError,
)

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "is_retryable", "make_retrying"]

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How a platform request that may be repeated is retried.

    The delay before retry *n* (1 after the first failure) is
    ``min(max_backoff, initial_backoff * 2**(n-1))``, reduced by a random fraction of at most ``jitter``. When
    the platform sent ``Retry-After`` (with a 429 or a 5xx such as 503) and it is longer, it wins, capped at
    ``max_backoff``.

    Attributes:
        attempts: the total number of attempts (1 disables retrying).
        initial_backoff: the delay before the first retry, in seconds.
        max_backoff: the longest delay, in seconds (also the cap on ``Retry-After``).
        jitter: the largest fraction taken off a computed delay at random, from 0 (none) to 1 (full jitter).
        seed: seeds the jitter's random generator, for reproducible delays.
        random: the random generator to draw jitter from (wins over ``seed``); for tests.
    """

    attempts: int = 4
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    jitter: float = 0.5
    seed: int | None = None
    random: _random.Random | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError(f"RetryPolicy.attempts must be at least 1, got {self.attempts}")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ConfigurationError(
                "RetryPolicy backoffs must not be negative, got "
                f"initial_backoff={self.initial_backoff}, max_backoff={self.max_backoff}"
            )
        if not 0.0 <= self.jitter <= 1.0:
            raise ConfigurationError(f"RetryPolicy.jitter must be between 0 and 1, got {self.jitter}")

    def make_random(self) -> _random.Random:
        """The generator to draw jitter from: ``random`` if given, else one seeded with ``seed``."""
        return self.random if self.random is not None else _random.Random(self.seed)

    def backoff(self, retry: int, *, retry_after: float | None = None, rng: _random.Random) -> float:
        """The delay in seconds before retry number ``retry`` (1 for the retry after the first failure).

        Args:
            retry: the retry's number, from 1.
            retry_after: the platform's ``Retry-After`` in seconds, if it sent one.
            rng: where the jitter comes from.
        """
        base = min(self.max_backoff, self.initial_backoff * 2.0 ** min(max(retry - 1, 0), 60))
        delay = base * (1.0 - self.jitter * rng.random())
        if retry_after is not None and retry_after > delay:
            delay = min(retry_after, self.max_backoff)
        return delay


def is_retryable(exc: BaseException) -> bool:
    """Whether a (mapped) failure may pass on its own: 429, 502/503/504, a connection error or a timeout."""
    if isinstance(exc, RateLimitedError | PlatformConnectionError | PlatformTimeout):
        return True
    return isinstance(exc, PlatformUnavailable) and exc.status in RETRYABLE_STATUSES


def make_retrying(
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]],
    rng: _random.Random,
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> AsyncRetrying:
    """A tenacity controller for ``policy`` that sleeps with ``sleep`` and re-raises the last failure."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        retry_after = exc.retry_after if isinstance(exc, RateLimitedError | PlatformUnavailable) else None
        return policy.backoff(state.attempt_number, retry_after=retry_after, rng=rng)

    return AsyncRetrying(
        sleep=sleep,
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        retry=retry_if_exception(is_retryable),
        reraise=True,
        before_sleep=before_sleep,
    )
