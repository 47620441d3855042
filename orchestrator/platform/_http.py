"""The HTTP layer under :class:`PlatformClient`: URLs, headers, retries and error mapping.

Everything that leaves the package through here is an :class:`~orchestrator.OrchestratorError`: httpx failures
and error answers are mapped at this boundary, retries re-raise the last mapped error, and the token is
scrubbed from whatever the platform might have echoed.

Longer than 300 lines because it is one boundary: building a request, retrying it and mapping every failure of it
belong together, so that no path out of the package skips the mapping.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeVar

import httpx
import structlog
from tenacity import RetryCallState

from .._clock import Clock
from .._errors import NotFoundError, PlatformError, UsageError
from ._events import StreamEvent
from ._failures import (
    Secret,
    error_from_body,
    error_from_response,
    error_from_transport,
    is_error_body,
    scrub_error,
)
from ._retry import RetryPolicy, is_retryable, make_retrying
from ._streams import response_events
from ._wire import StreamFormat, encode_body, encode_query

__all__ = ["HttpCore"]

_log = structlog.get_logger(__name__)

_ACCEPT: dict[str, str] = {"jsonl": "application/jsonl", "sse": "text/event-stream"}
_T = TypeVar("_T")
_READ = httpx.ByteStream(b"")


def _unlink(response: httpx.Response) -> None:
    """Drop a read and closed response's link to its body stream.

    httpx's client wraps the body in a stream that refers back to the response: a cycle per response that only
    the cyclic garbage collector frees (and at thousands of streams it ran for a third of the CPU time).
    Nothing reads the body stream once the response is closed.
    """
    response.stream = _READ


class HttpCore:
    """Sends requests for the resource groups of one :class:`PlatformClient`."""

    def __init__(
        self,
        *,
        base_url: httpx.URL,
        api_prefix: str,
        token: Secret | None,
        timeout: httpx.Timeout,
        retry: RetryPolicy,
        clock: Clock,
        headers: Mapping[str, str],
        timezone: str | None,
        get_client: Callable[[], httpx.AsyncClient],
    ) -> None:
        self._base = base_url
        self._prefix = api_prefix
        self._token = token
        self._timeout = timeout
        # completions and streams run for minutes: no read timeout on them
        self._long_timeout = httpx.Timeout(timeout.connect, read=None, write=timeout.write, pool=timeout.pool)
        self._policy = retry
        self._rng: random.Random = retry.make_random()
        self._clock = clock
        self._headers = dict(headers)
        self._timezone = timezone
        self._get_client = get_client

    # -- requests ------------------------------------------------------------------------------------------

    def path(self, endpoint: str) -> str:
        """The request path for an endpoint written ``/conversation/...`` (prefix and base path applied)."""
        return self._base.path.rstrip("/") + self._prefix + endpoint

    def _request(
        self,
        method: str,
        endpoint: str,
        *,
        body: bytes | None,
        query: Mapping[str, Any] | None,
        accept: str,
        timezone: bool,
        timeout: httpx.Timeout,
    ) -> httpx.Request:
        headers = {"accept": accept, **self._headers}
        if self._token is not None:
            headers["authorization"] = f"Bearer {self._token.reveal()}"
        if body is not None:
            headers["content-type"] = "application/json"
        if timezone and self._timezone:
            headers["x-timezone"] = self._timezone
        url = self._base.copy_with(path=self.path(endpoint), query=None, fragment=None)
        return self._get_client().build_request(
            method,
            url,
            content=body,
            params=httpx.QueryParams(encode_query(query)) if query else None,
            headers=headers,
            timeout=timeout,
        )

    async def _send_once(self, request: httpx.Request, *, stream: bool, attempt: int) -> httpx.Response:
        url = str(request.url)
        path = request.url.path
        client = self._get_client()
        try:
            response = await client.send(request, stream=stream)
        except httpx.HTTPError as exc:
            error = error_from_transport(exc, url=url, method=request.method)
            _log.debug(
                "platform request failed",
                method=request.method,
                path=path,
                attempt=attempt,
                error=type(error).__name__,
            )
            raise error from exc
        except RuntimeError as exc:  # a borrowed httpx client that its owner has closed
            raise UsageError(f"cannot send {request.method} {url}: {exc}") from exc
        _log.debug(
            "platform request", method=request.method, path=path, status=response.status_code, attempt=attempt
        )
        if response.is_success:
            return response
        try:
            content = await response.aread() if stream else response.content
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, url=url, method=request.method) from exc
        finally:
            if stream:
                await response.aclose()
            _unlink(response)
        raise error_from_response(response, content, url=url, now=self._clock.time())

    async def _attempts(self, send: Callable[[int], Awaitable[_T]], *, retry: bool, what: str) -> _T:
        try:
            # the first attempt runs without tenacity: building its controller (closures and state that refer
            # to each other) for every request made garbage only the cyclic collector could free
            try:
                return await send(1)
            except PlatformError as exc:
                if not retry or self._policy.attempts == 1 or not is_retryable(exc):
                    raise
                first = exc
            return await self._retry(send, first, what=what)
        except PlatformError as exc:
            scrub_error(exc, self._token)
            raise

    async def _retry(self, send: Callable[[int], Awaitable[_T]], first: PlatformError, *, what: str) -> _T:
        """Attempts 2.. under tenacity, attempt 1 having failed with ``first`` (replayed as its outcome)."""

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            _log.debug(
                "platform request retrying",
                request=what,
                attempt=state.attempt_number,
                delay=round(state.upcoming_sleep, 3),
                error=type(exc).__name__,
            )

        retrying = make_retrying(
            self._policy, sleep=self._clock.sleep, rng=self._rng, before_sleep=before_sleep
        )
        async for attempt in retrying:
            with attempt:
                number = attempt.retry_state.attempt_number
                if number == 1:
                    raise first
                return await send(number)
        raise AssertionError("tenacity stopped without an outcome")  # pragma: no cover

    async def call(
        self,
        method: Literal["GET", "POST"],
        endpoint: str,
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        expect: Collection[str] = ("id",),
        retry: bool = False,
        timezone: bool = False,
        long: bool = False,
        done_if_missing: bool = False,
    ) -> Any:
        """Send a JSON request; return the decoded JSON body.

        Args:
            method: ``GET`` (reads, with ``query``) or ``POST`` (mutations; ``{}`` when ``body`` is ``None``).
            endpoint: the path after the API prefix, e.g. ``/task/list``.
            body: the JSON body of a ``POST``.
            query: query parameters, encoded by :func:`encode_query`.
            expect: fields a successful body has; a 200 ``{message|error}`` without any of them is an error.
            retry: whether the request is safe to repeat on 429/502/503/504, connection errors and timeouts.
            timezone: send the client's ``x-timezone``.
            long: a completion: no read timeout.
            done_if_missing: a delete: a 404 on a retry means an earlier attempt did it (answers ``None``).
        """
        content = encode_body(body) if method == "POST" else None
        request = self._request(
            method,
            endpoint,
            body=content,
            query=query,
            accept="application/json",
            timezone=timezone,
            timeout=self._long_timeout if long else self._timeout,
        )

        async def send(attempt: int) -> Any:
            try:
                response = await self._send_once(request, stream=False, attempt=attempt)
            except NotFoundError:
                if done_if_missing and attempt > 1:
                    return None
                raise
            try:
                return self._json_body(response, expect)
            finally:
                _unlink(response)

        return await self._attempts(send, retry=retry, what=f"{method} {request.url.path}")

    def _json_body(self, response: httpx.Response, expect: Collection[str]) -> Any:
        url = str(response.request.url)
        content = response.content
        if not content.strip():
            return None
        try:
            body = json.loads(content)
        except (ValueError, RecursionError) as exc:
            raise PlatformError(
                f"the platform answered {response.status_code} with a body that is not JSON: "
                f"{content[:200].decode('utf-8', 'replace')!r}",
                status=response.status_code,
                url=url,
            ) from exc
        if is_error_body(body, expect):
            raise error_from_body(body, status=response.status_code, url=url)
        return body

    # -- streams -------------------------------------------------------------------------------------------

    @asynccontextmanager
    async def stream(
        self,
        endpoint: str,
        body: Mapping[str, Any] | None,
        *,
        format: StreamFormat,
        retry: bool = False,
        timezone: bool = False,
        channel_items: bool = False,
    ) -> AsyncIterator[AsyncIterator[StreamEvent]]:
        """Open a streaming ``POST``; yield its events, decoded by the response's content type.

        Opening (up to the response headers) is retried when ``retry`` is set; an error status is read and
        mapped before anything is yielded. The response is closed when the context exits.
        """
        accept = _ACCEPT.get(format)
        if accept is None:
            raise UsageError(f"stream format must be 'jsonl' or 'sse', got {format!r}")
        request = self._request(
            "POST",
            endpoint,
            body=encode_body(body),
            query=None,
            accept=accept,
            timezone=timezone,
            timeout=self._long_timeout,
        )

        async def send(attempt: int) -> httpx.Response:
            return await self._send_once(request, stream=True, attempt=attempt)

        response = await self._attempts(send, retry=retry, what=f"POST {request.url.path}")
        events = response_events(response, channel_items=channel_items, secret=self._token)
        try:
            yield events
        finally:
            try:
                await events.aclose()
            finally:
                await response.aclose()
                _unlink(response)
