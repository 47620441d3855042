"""Reading a streaming response: decoding by content type, with failures mapped at the boundary."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx

from .._errors import PlatformError, StreamProtocolError
from ._decoders import JSONLDecoder
from ._events import StreamEvent
from ._failures import Secret, error_from_body, error_from_transport, is_error_body, scrub_error
from ._sse import SSEDecoder

__all__ = ["content_type", "response_events"]


def content_type(response: httpx.Response) -> str:
    """The media type of a response, lowercased, without parameters."""
    value: str = response.headers.get("content-type", "")
    return value.partition(";")[0].strip().lower()


async def response_events(
    response: httpx.Response, *, channel_items: bool, secret: Secret | None
) -> AsyncGenerator[StreamEvent, None]:
    """The events of a streaming response, decoded by its content type; failures mapped, ``secret`` scrubbed.

    ``text/event-stream`` goes to :class:`SSEDecoder`; ``application/json`` (not a stream) is read whole, an
    error body raises, anything else is decoded as JSON lines; every other type is decoded as JSON lines.
    """
    url = str(response.request.url)
    kind = content_type(response)
    try:
        if kind == "text/event-stream":
            sse = SSEDecoder(channel_items=channel_items)
            async for text in response.aiter_text():
                for event in sse.feed(text):
                    yield event
            for event in sse.flush():
                yield event
            return
        jsonl = JSONLDecoder()
        if kind == "application/json":
            # not a stream: a 200 error body, or one JSON document
            content = await response.aread()
            if is_error_body(_loads_or_none(content), ("type",)):
                raise error_from_body(json.loads(content), status=response.status_code, url=url)
            chunks: AsyncIterator[bytes] = _once(content)
        else:
            chunks = response.aiter_bytes()
        async for chunk in chunks:
            for event in jsonl.feed(chunk):
                yield event
        for event in jsonl.flush():
            yield event
    except httpx.HTTPError as exc:
        error = error_from_transport(exc, url=url, method=response.request.method)
        raise scrub_error(error, secret) from exc
    except PlatformError as exc:
        if isinstance(exc, StreamProtocolError) and exc.url is None:
            exc.url = url
        scrub_error(exc, secret)
        raise


def _loads_or_none(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


async def _once(content: bytes) -> AsyncIterator[bytes]:
    yield content
