"""The transport a :class:`PlatformClient` uses by default: aiohttp's connection pool under the httpx API.

httpcore's pool (plain httpx) scans every connection it holds on each request and on each response close, so
with N subscriptions open every request costs O(N): at a few thousand concurrent dispatches the client spends
most of its CPU there. aiohttp's connector keeps idle connections in a per-host queue and hands one out in O(1),
whatever the number of streams in flight. ``httpx-aiohttp`` (the transport the OpenAI SDK ships for high
concurrency) adapts it to ``httpx.AsyncBaseTransport``, so everything above the transport -- request building,
retries, ``Retry-After``, error mapping, streaming decode -- is the same code on either transport.

What this module adds to ``httpx-aiohttp``:

- a session without a connection cap (aiohttp's default is 100: the 101st subscription would wait for the
  pool), without a cookie jar (httpx keeps cookies, as it does over httpcore) and without decompression
  (httpx decodes ``content-encoding`` itself);
- exceptions mapped the way httpcore maps its own: a refused connection is an ``httpx.ConnectError``, a server
  that hangs up is an ``httpx.RemoteProtocolError``, a reset is an ``httpx.ReadError``, a timeout says which
  one it was. (``httpx-aiohttp`` 0.2 turns every connection failure into ``ConnectTimeout`` and lets some
  aiohttp errors through unmapped.) The aiohttp exception stays the cause, with the authorization header
  taken out of the ``request_info`` that some of them carry (their repr shows it).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import NoReturn, cast

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["default_transport", "map_aiohttp_error"]

# most specific first: the first row whose class matches wins
_MAP: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.ClientOSError, httpx.ReadError),
    (aiohttp.ClientConnectionError, httpx.ReadError),
    (aiohttp.ClientError, httpx.TransportError),
    (TimeoutError, httpx.ReadTimeout),
)


def map_aiohttp_error(exc: BaseException, request: httpx.Request) -> httpx.TransportError | None:
    """The httpx exception an aiohttp failure stands for (``None`` if ``exc`` is not one).

    ``exc`` may be the raw aiohttp exception or the one ``httpx-aiohttp`` raised from it.
    """
    raw = exc.__cause__ if isinstance(exc, httpx.TransportError) and exc.__cause__ is not None else exc
    for source, target in _MAP:
        if isinstance(raw, source):
            if isinstance(raw, aiohttp.ClientResponseError):
                # str() of it is "status, message='...', url='...'": no headers
                detail = f"{type(raw).__name__}: {raw}"
            else:
                detail = str(raw) or type(raw).__name__
            return target(detail, request=request)
    return None


_FAILURES = (aiohttp.ClientError, httpx.TransportError, TimeoutError)


def _reraise(exc: BaseException, request: httpx.Request) -> NoReturn:
    mapped = map_aiohttp_error(exc, request)
    if mapped is None:
        raise exc
    raw = exc.__cause__ if isinstance(exc, httpx.TransportError) and exc.__cause__ is not None else exc
    if isinstance(raw, aiohttp.ClientResponseError):
        _drop_credentials(raw)
    raise mapped from raw


def _drop_credentials(exc: aiohttp.ClientResponseError) -> None:
    # its request_info (shown by repr) holds the request's headers, the authorization header among them
    info = exc.request_info
    kept = CIMultiDict((k, v) for k, v in info.headers.items() if k.lower() != "authorization")
    exc.request_info = info._replace(headers=CIMultiDictProxy(kept))


class _MappedStream(httpx.AsyncByteStream):
    """A response body whose read and close failures are mapped like the request's."""

    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request) -> None:
        self._inner = inner
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except _FAILURES as exc:
            _reraise(exc, self._request)

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        except _FAILURES as exc:
            _reraise(exc, self._request)


_LARGE_BODY = 1024 * 1024  # aiohttp warns (an error under -W error) when it is handed more bytes at once
_CHUNK = 64 * 1024


def _streamed(request: httpx.Request) -> httpx.Request:
    """``request`` with its body sent in chunks (a large prompt must not reach aiohttp as one bytes object)."""
    body = request.content

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), _CHUNK):
            yield body[start : start + _CHUNK]

    headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"content-length"]
    return httpx.Request(
        request.method, request.url, headers=headers, content=chunks(), extensions=request.extensions
    )


class _Transport(httpx.AsyncBaseTransport):
    def __init__(self, *, verify: ssl.SSLContext | bool, keepalive_expiry: float) -> None:
        self._ssl = httpx.create_ssl_context(verify=verify, trust_env=True)
        self._keepalive = keepalive_expiry
        self._inner = AiohttpTransport(client=self._session)

    def _session(self) -> aiohttp.ClientSession:
        # called on the first request, inside the running event loop
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=self._keepalive, ssl=self._ssl)
        return aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if len(request.content) > _LARGE_BODY:
            request = _streamed(request)
        # (try/except rather than a context manager: this runs for every request and every body read)
        try:
            response = await self._inner.handle_async_request(request)
        except _FAILURES as exc:
            _reraise(exc, request)
        response.stream = _MappedStream(cast(httpx.AsyncByteStream, response.stream), request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __repr__(self) -> str:
        return "<aiohttp transport>"


def default_transport(
    *, verify: ssl.SSLContext | bool = True, keepalive_expiry: float = 5.0
) -> httpx.AsyncBaseTransport:
    """The transport :class:`PlatformClient` uses when given neither ``transport=`` nor ``http_client=``.

    An aiohttp connection pool with no cap on connections, behind the httpx transport API: per-request work
    does not grow with the number of open streams. Wrap it (e.g. to count requests) and pass the wrapper as
    ``transport=``; pass ``httpx.AsyncHTTPTransport()`` instead for plain httpx.

    Args:
        verify: TLS verification: ``True`` (the system's CA bundle), ``False``, or an ``ssl.SSLContext``.
        keepalive_expiry: seconds an idle connection is kept open for reuse (httpx's default, 5).
    """
    return _Transport(verify=verify, keepalive_expiry=keepalive_expiry)
