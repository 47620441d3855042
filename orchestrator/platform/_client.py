"""The platform client: configuration, lifecycle, and the resource groups (``client.conversations``, ...)."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from .._clock import Clock, SystemClock
from .._errors import ConfigurationError, UsageError
from ._bots import Bots
from ._channels import Channels
from ._conversations import Conversations
from ._event_log import Events
from ._failures import Secret
from ._http import HttpCore
from ._retry import RetryPolicy
from ._tasks import Tasks
from ._transport import default_transport

__all__ = ["DEFAULT_BASE_URL", "PlatformClient"]

DEFAULT_BASE_URL = "https://api.chatbotkit.com"
_PUBLIC_HOST = "api.chatbotkit.com"
_ENV_TOKEN = "CHATBOTKIT_API_TOKEN"
_ENV_BASE_URL = "CHATBOTKIT_BASE_URL"


class _State(enum.Enum):
    # a client can be used without `async with`; once closed it stays closed
    OPEN = "open"
    CLOSED = "closed"


def _parse_base_url(base_url: str) -> httpx.URL:
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError(
            f"base_url is not a valid URL ({exc}); expected e.g. {DEFAULT_BASE_URL}"
        ) from exc
    if url.userinfo:
        raise ConfigurationError("base_url must not contain credentials: pass the API token as token=")
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(
            f"base_url must be an absolute http(s) URL such as {DEFAULT_BASE_URL} or http://127.0.0.1:8787, "
            f"got {base_url!r}"
        )
    return url.copy_with(query=None, fragment=None)


def _default_prefix(url: httpx.URL) -> str:
    # reference §1: the SDK's /api/v1 paths lose /api on exactly api.chatbotkit.com
    return "/v1" if url.host == _PUBLIC_HOST else "/api/v1"


class PlatformClient:
    """An async client for the agent platform (ChatBotKit API v1, or the local platform that speaks it).

    Use it as an async context manager, or call :meth:`aclose` when done::

        async with PlatformClient.from_env() as client:
            conversation = await client.conversations.create({"botId": "bot_1"})
            async with client.conversations.stream({"text": "hi"}, conversation_id=conversation.id) as events:
                result = await collect_completion(events)

    Args:
        base_url: the platform's origin. Paths are ``/v1/...`` on ``api.chatbotkit.com``, ``/api/v1/...``
            on any other host.
        token: the API token, sent as ``authorization: Bearer``; never shown in reprs, logs or errors.
        timeout: seconds (or an ``httpx.Timeout``) for plain calls; completions and streams have no read
            timeout.
        retry: how reads, subscribes, cancels and dispatches with a chosen channel id are retried.
        transport: an httpx transport for the client to use (default :func:`default_transport`, aiohttp's
            connection pool; ``httpx.AsyncHTTPTransport()`` for plain httpx; tests pass
            ``httpx.MockTransport`` or ``httpx.ASGITransport``).
        http_client: an httpx client to borrow instead; it is never closed by this client.
        timezone: an IANA timezone sent as ``x-timezone`` on completions and dispatches.
        clock: the clock retries sleep on (default :class:`SystemClock`).
        api_prefix: overrides the path rule, e.g. ``"/v1"`` or ``"/api/v1"``.
        headers: extra headers for every request (e.g. ``x-runas-user-id``).

    Attributes:
        base_url: the base URL, without a trailing slash.
        api_prefix: the prefix in use (``/v1`` or ``/api/v1``).
        clock: the client's clock.
        conversations: conversations, completions, dispatch, messages, the conversation monitor.
        channels: channel subscribe and publish.
        tasks: tasks, executions, workflow events.
        events: the event log.
        bots: bots.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        timezone: str | None = None,
        clock: Clock | None = None,
        api_prefix: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if transport is not None and http_client is not None:
            raise ConfigurationError("pass either transport= or http_client=, not both")
        if token is not None and not isinstance(token, str):
            raise ConfigurationError(f"token must be a string, got {type(token).__name__}")
        url = _parse_base_url(base_url)
        prefix = _default_prefix(url) if api_prefix is None else api_prefix
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ConfigurationError(
                f"api_prefix must start with '/' and not end with one, e.g. '/v1'; got {prefix!r}"
            )
        extra = dict(headers or {})
        if any(key.lower() == "authorization" for key in extra):
            raise ConfigurationError("pass the API token as token=, not as an authorization header")
        self.base_url = str(url).rstrip("/")
        self.api_prefix = prefix
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._token = Secret(token) if token else None
        self._transport = transport
        self._borrowed = http_client
        self._owned: httpx.AsyncClient | None = None
        self._state = _State.OPEN
        self._http = HttpCore(
            base_url=url,
            api_prefix=prefix,
            token=self._token,
            timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
            retry=retry,
            clock=self.clock,
            headers=extra,
            timezone=timezone,
            get_client=self._client,
        )
        self.conversations = Conversations(self._http)
        self.channels = Channels(self._http)
        self.tasks = Tasks(self._http)
        self.events = Events(self._http)
        self.bots = Bots(self._http)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> PlatformClient:
        """A client configured from ``CHATBOTKIT_API_TOKEN`` and ``CHATBOTKIT_BASE_URL``.

        Args:
            environ: where to read the variables (default ``os.environ``).
            **kwargs: further :class:`PlatformClient` arguments; an explicit ``base_url``/``token`` wins.

        Raises:
            ConfigurationError: the base URL is the real API and no token is set.
        """
        env = os.environ if environ is None else environ
        base_url = kwargs.pop("base_url", None) or env.get(_ENV_BASE_URL, "").strip() or DEFAULT_BASE_URL
        token = kwargs.pop("token", None) or env.get(_ENV_TOKEN, "").strip() or None
        if token is None and _parse_base_url(base_url).host == _PUBLIC_HOST:
            raise ConfigurationError(
                f"{_ENV_TOKEN} is not set: export your ChatBotKit API token, or set {_ENV_BASE_URL} "
                "to a local platform (e.g. http://127.0.0.1:8787)"
            )
        return cls(base_url, token, **kwargs)

    def _client(self) -> httpx.AsyncClient:
        if self._state is _State.CLOSED:
            raise UsageError("this PlatformClient is closed; create a new one")
        if self._borrowed is not None:
            return self._borrowed
        if self._owned is None:
            # subscriptions hold a connection each for as long as they run: no cap on connections, so the
            # 101st concurrent stream does not wait for the pool (a borrowed http_client keeps its own limits);
            # the default transport's cost per request does not grow with the number of open streams
            self._owned = httpx.AsyncClient(
                transport=self._transport if self._transport is not None else default_transport(),
                follow_redirects=False,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
            )
        return self._owned

    async def __aenter__(self) -> Self:
        if self._state is _State.CLOSED:
            raise UsageError("a PlatformClient cannot be reopened after it was closed; create a new one")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client's own HTTP connections (a borrowed ``http_client`` stays open). Idempotent."""
        self._state = _State.CLOSED
        owned, self._owned = self._owned, None
        if owned is not None:
            await owned.aclose()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` has run."""
        return self._state is _State.CLOSED

    def __repr__(self) -> str:
        token = "'***'" if self._token is not None else "None"
        return f"PlatformClient(base_url={self.base_url!r}, api_prefix={self.api_prefix!r}, token={token})"
