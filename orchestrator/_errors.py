"""The exception tree of ``orchestrator``.

Every exception the package raises derives from :class:`OrchestratorError`, so a caller can always write a
single ``except OrchestratorError``. Third-party exceptions (httpx, tenacity, sqlite, asyncpg) are translated at
the boundary and chained (``raise X from exc``); they never reach the user untranslated.

::

    OrchestratorError
    ├── PlatformError                 the platform answered with an error, or could not be reached
    │   ├── AuthenticationError       401/403, or a token that is missing
    │   ├── NotFoundError             404: unknown id
    │   ├── BadRequestError           400/422: the platform refused the body
    │   ├── RateLimitedError          429: ``retry_after`` seconds, when the platform said
    │   ├── PlatformUnavailable       5xx: ``retry_after`` seconds, when a 503 said
    │   ├── PlatformTimeout           the request timed out
    │   ├── PlatformConnectionError   the connection failed
    │   └── StreamProtocolError       a stream line that is not what the wire protocol says
    ├── JobError                      a job ended without a result (``job_id``, ``job_name``)
    │   ├── JobFailed                 the agent run failed (``reason``)
    │   ├── JobCancelled              the job was cancelled
    │   ├── CeilingExceeded           a dispatch was killed at the 15-minute ceiling (``partial_output``)
    │   └── JobTimedOut               a run passed its bound (``timeout=``, ``maxTime``; ``partial_output``)
    ├── StoreError                    the job store failed (``url`` without credentials)
    ├── ResultTimeout                 ``result(timeout=...)`` ran out (also a ``TimeoutError``)
    └── UsageError                    the framework was used in a way it cannot honour (also a ``RuntimeError``)
        ├── RoutingError              a job declaration that no route can hold
        ├── NotCancellable            ``cancel()`` on a route the platform cannot cancel
        ├── PlanRejected              a plan that fails validation, or a reply that holds no plan
        ├── ConfigurationError        missing or invalid configuration (token, store URL, ...)
        └── InvalidArgument           a value the API cannot take (also a ``ValueError`` and a ``TypeError``)

Control flow never uses these: cancellation is not an error and is never caught by ``except Exception``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "CeilingExceeded",
    "ConfigurationError",
    "InvalidArgument",
    "JobCancelled",
    "JobError",
    "JobFailed",
    "JobTimedOut",
    "NotCancellable",
    "NotFoundError",
    "OrchestratorError",
    "PlanRejected",
    "PlatformConnectionError",
    "PlatformError",
    "PlatformTimeout",
    "PlatformUnavailable",
    "RateLimitedError",
    "ResultTimeout",
    "RoutingError",
    "StoreError",
    "StreamProtocolError",
    "UsageError",
]


class OrchestratorError(Exception):
    """The root of every exception raised by ``orchestrator``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class PlatformError(OrchestratorError):
    """The platform answered with an error, or could not be reached.

    Attributes:
        status: the HTTP status, or ``None`` when no response arrived (or the error came inside a stream).
        code: the platform's error code (``NOT_FOUND``, ``LIMITS_REACHED``, ...), or ``ERROR_<status>``.
        message: the platform's message, or a description of what failed.
        url: the request URL (never with credentials).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        url: str | None = None,
        data: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.url = url
        self.data = data

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.append(f"code={self.code}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.url:
            parts.append(f"url={self.url}")
        return " | ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(message={self.message!r}, status={self.status!r}, code={self.code!r})"


class AuthenticationError(PlatformError):
    """The platform refused the credential (401/403), or no token was configured."""


class NotFoundError(PlatformError):
    """The platform has no resource with that id (404)."""


class BadRequestError(PlatformError):
    """The platform refused the request body (400/422)."""


class RateLimitedError(PlatformError):
    """The platform asked us to slow down (429).

    Attributes:
        retry_after: seconds to wait, from the ``Retry-After`` header, or ``None`` when it was not given.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PlatformUnavailable(PlatformError):
    """The platform answered 5xx: it is failing or overloaded; the request may be retried.

    Attributes:
        retry_after: seconds to wait, from the ``Retry-After`` header (sent with 503 as with 429), or ``None``
            when it was not given.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PlatformTimeout(PlatformError):
    """The request to the platform timed out."""


class PlatformConnectionError(PlatformError):
    """The connection to the platform failed (refused, reset, DNS, TLS)."""


class StreamProtocolError(PlatformError):
    """A stream line did not follow the wire protocol (not JSON, or not an object)."""


class JobError(OrchestratorError):
    """A job ended without a result.

    Attributes:
        job_id: the job's id.
        job_name: the job's declared name.
    """

    def __init__(self, message: str, *, job_id: str | None = None, job_name: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.job_name = job_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(message={self.message!r}, job_id={self.job_id!r}, job_name={self.job_name!r})"


class JobFailed(JobError):
    """The agent run failed. ``reason`` is the platform's error message or the task's failure summary."""

    def __init__(self, message: str, *, reason: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason if reason is not None else message


class JobCancelled(JobError):
    """The job was cancelled (by ``handle.cancel()``, the CLI, or on the platform)."""


class CeilingExceeded(JobError):
    """A dispatch ran into the platform's 15-minute ceiling and was killed.

    Attributes:
        partial_output: the text the agent had streamed before it was killed.
        ceiling: the ceiling in seconds.
    """

    def __init__(
        self, message: str, *, partial_output: str = "", ceiling: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.partial_output = partial_output
        self.ceiling = ceiling


class JobTimedOut(JobError):
    """A run passed its hard bound (the declared ``timeout``, a task's ``maxTime``) and was stopped.

    Not a failure of the agent: the work was still going when the bound came.

    Attributes:
        partial_output: what the run had written before it was stopped (empty when nothing is known).
        timeout: the bound in seconds.
    """

    def __init__(
        self, message: str, *, partial_output: str = "", timeout: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.partial_output = partial_output
        self.timeout = timeout


class StoreError(OrchestratorError):
    """The job store failed. The message names the store without its credentials."""


class ResultTimeout(OrchestratorError, TimeoutError):
    """``result(timeout=...)`` ran out before the job finished. The job itself goes on."""


class UsageError(OrchestratorError, RuntimeError):
    """The framework was used in a way it cannot honour. The message says what to do instead."""


class RoutingError(UsageError):
    """A job declaration that no platform surface can hold (raised when the decorator runs)."""


class NotCancellable(UsageError):
    """``cancel()`` on a job whose platform surface cannot be cancelled (a dispatch or a completion)."""


class PlanRejected(UsageError):
    """A plan failed validation, or the planning run's reply held no plan."""


class ConfigurationError(UsageError):
    """Configuration is missing or invalid (a token, a base URL, a store URL)."""


class InvalidArgument(UsageError, ValueError, TypeError):
    """A value the API cannot take: wrong type, out of range, or text that cannot be encoded.

    The message names the argument or field and says what to pass instead. It is also a ``ValueError`` and a
    ``TypeError``, so code written against the builtin errors keeps working.
    """
