"""Dispatch: ``POST /conversation/dispatch`` and ``/conversation/{id}/dispatch`` -> ``{channelId}`` at once.

The run's every event ``{type, data}`` is published to the channel as ``{type:"message", data:<event>}`` and
kept there (last 1000, one hour). The ``channelId`` is the dedup key: a second dispatch with an id already
used within the dedup window (the run, then one hour) returns that id and starts nothing. Runs are killed at
the ceiling (``Settings.ceiling`` from the run's start), silently or with a ``TIMEOUT`` error event.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._body import Body, read_body
from ._completions import build_request, conversation_bot
from ._conversations import conversation
from ._core import Core, core_of
from ._runs import Kill, Run, RunSpec, describe_seconds
from ._wire import Frame, json_response

__all__ = ["Dispatches", "routes"]

_MIN_CHANNEL = 24
_DEDUP_WINDOW = 3600.0


class Dispatches:
    """Dispatched channel ids (the dedup keys) and their runs."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self._seen: dict[str, float] = {}  # channelId -> end of its dedup window (inf while running)
        self.runs: dict[str, Run] = {}

    def _purge(self, now: float) -> None:
        expired = [cid for cid, until in self._seen.items() if until < now]
        for cid in expired:
            del self._seen[cid]

    def start(self, channel_id: str | None, spec: RunSpec) -> str:
        core = self._core
        now = core.clock.time()
        if channel_id is not None and self._seen.get(channel_id, -1.0) >= now:
            return channel_id
        if len(self._seen) >= 1000 and len(self._seen) % 1000 == 0:
            self._purge(now)
        channel = channel_id or core.state.ids()
        hub, clock = core.hub, core.clock

        def publish(type: str, data: Any, at: int) -> None:
            hub.publish(
                channel,
                Frame("message", {"type": type, "data": data}),
                now=clock.time(),
                keep=True,
            )

        settings = core.settings
        spec.sinks.append(publish)
        spec.bound = settings.ceiling
        spec.bound_kill = Kill.CEILING
        if settings.ceiling_kill == "error":
            limit = describe_seconds(settings.ceiling)
            spec.bound_error = {
                "message": f"The run exceeded the {limit} limit and was killed",
                "code": "TIMEOUT",
            }
        self._seen[channel] = float("inf")
        self.runs[channel] = core.engine.start(spec, on_done=lambda run: self._finished(channel))
        return channel

    def _finished(self, channel: str) -> None:
        self.runs.pop(channel, None)
        self._seen[channel] = self._core.clock.time() + _DEDUP_WINDOW


def _channel_id(body: Body) -> str | None:
    return body.text("channelId", min_len=_MIN_CHANNEL, max_len=256)


async def dispatch(request: Request) -> Response:
    """``POST /conversation/dispatch``: a stateless run whose events go to the channel."""
    core = core_of(request)
    body = await read_body(request)
    channel_id = _channel_id(body)
    spec = RunSpec(build_request(core, body, kind="dispatch"))
    core.require_running()
    return json_response({"channelId": core.dispatches.start(channel_id, spec)})


async def dispatch_stateful(request: Request) -> Response:
    """``POST /conversation/{id}/dispatch {text?}``: appends the user message, then the bot reply."""
    core = core_of(request)
    record = conversation(request)
    body = await read_body(request)
    channel_id = _channel_id(body)
    spec = RunSpec(
        build_request(core, body, kind="dispatch", stateful_bot=conversation_bot(record)),
        conversation_id=record["id"],
        user_text=body.text("text"),
    )
    core.require_running()
    return json_response({"channelId": core.dispatches.start(channel_id, spec)})


def routes() -> list[BaseRoute]:
    return [
        Route("/conversation/dispatch", dispatch, methods=["POST"]),
        Route("/conversation/{conversation_id}/dispatch", dispatch_stateful, methods=["POST"]),
    ]
