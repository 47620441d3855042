"""Channel endpoints (``/channel/{id}/subscribe``, ``/channel/{id}/publish``) and the subscription stream
helper that the conversation monitor, the task workflow feed and the event log also use."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._body import Body, read_body
from ._channels import HISTORY_LIMIT
from ._core import core_of
from ._errors import bad_request
from ._wire import EventStream, Frame, json_response, negotiate

__all__ = ["CHANNEL_ALPHABET", "NOP", "check_channel_id", "history_length", "routes", "subscription"]

NOP = Frame("nop", {})
_MIN_CHANNEL = 16
_MAX_CHANNEL = 256


def history_length(body: Body, maximum: int = 10_000) -> int:
    """``historyLength``: an integer from 0 to ``maximum`` (0 when absent)."""
    value = body.integer("historyLength", minimum=0) or 0
    if value > maximum:
        raise bad_request(f"historyLength must be at most {maximum}, got {value}")
    return value


CHANNEL_ALPHABET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@$-]*\Z")
"""What a channel id is made of: letters, digits and ``_ . : @ $ -`` (a uuid, a cuid, ``name_<hex>``)."""


def check_channel_id(ident: str, *, field: str = "channelId", minimum: int = _MIN_CHANNEL) -> str:
    """Refuse a channel id that is too short or long, or holds spaces, slashes or other characters."""
    if len(ident) < minimum:
        raise bad_request(f"{field} is too short: {len(ident)} characters, at least {minimum}")
    if len(ident) > _MAX_CHANNEL:
        raise bad_request(f"{field} is too long: {len(ident)} characters, at most {_MAX_CHANNEL}")
    if not CHANNEL_ALPHABET.match(ident):
        raise bad_request(
            f"{field} {ident[:40]!r} may hold only letters, digits and _ . : @ $ - (starting with a letter or "
            "digit): use a random id such as uuid4().hex"
        )
    return ident


def channel_id(request: Request) -> str:
    """The ``{channelId}`` path parameter: 16 to 256 characters of :data:`CHANNEL_ALPHABET`."""
    return check_channel_id(str(request.path_params["channel_id"]))


def subscription(
    request: Request,
    key: str,
    *,
    history: int,
    history_limit: int = HISTORY_LIMIT,
    prefix: list[Frame] | None = None,
    nop: bool = True,
) -> Response:
    """Stream a channel: an initial ``nop``, then ``history`` stored frames (or ``prefix``), then live frames.

    The stream stays open until the client goes away or the platform stops.
    """
    core = core_of(request)
    # the prefix is read in the same synchronous step as the subscription: nothing in between is lost
    lead = ([NOP] if nop else []) + (prefix or [])
    subscriber = core.hub.subscribe(
        key, now=core.clock.time(), history_length=history, history_limit=history_limit, lead=lead
    )
    return EventStream(
        subscriber.batches(),
        negotiate(request, stream_only=True),
        on_close=lambda: core.hub.unsubscribe(key, subscriber),
    )


async def subscribe(request: Request) -> Response:
    """``POST /channel/{channelId}/subscribe {historyLength?}``: ``{type:"message", data}`` items."""
    key = channel_id(request)
    body = await read_body(request)
    return subscription(request, key, history=history_length(body))


async def publish(request: Request) -> Response:
    """``POST /channel/{channelId}/publish {message}``: deliver to whoever listens now (no history)."""
    key = channel_id(request)
    body = await read_body(request)
    message = body.mapping("message")
    if message is None:
        raise bad_request('message is required: an object, e.g. {"message": {"data": ...}}')
    core = core_of(request)
    core.hub.publish(key, Frame("message", message), now=core.clock.time(), keep=False)
    return json_response({"id": key})


def routes() -> list[BaseRoute]:
    return [
        Route("/channel/{channel_id:path}/subscribe", subscribe, methods=["POST"]),
        Route("/channel/{channel_id:path}/publish", publish, methods=["POST"]),
    ]
