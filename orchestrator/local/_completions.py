"""Completion endpoints: stateless and stateful ``complete``, ``send`` and ``receive`` (JSON or streamed).

JSON mode (:mod:`._json_runs`) waits for the run, commits ``200`` after 19 s, answers a failure with
``{message, code}`` and stops the run when its client goes away; a retried failing call is answered from
memory. Streams carry every engine event with ``createdAt``, plus a ``ping`` every ``ping_interval``; closing a
stream kills its run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .._clock import TimerHandle
from ._agent import AgentRequest
from ._body import Body, read_body, validate_functions, validate_limits, validate_messages
from ._channels import Subscriber
from ._conversations import conversation
from ._core import Core, core_of
from ._errors import bad_request
from ._json_runs import JsonRun, replayed_failure
from ._runs import Kill, Outcome, RunSpec
from ._scheduler import zone
from ._services import Services, services_of
from ._wire import EventStream, Format, Frame, json_response, negotiate

__all__ = ["agent_request", "build_request", "conversation_bot", "request_timezone", "routes"]

Render = Callable[[Outcome], dict[str, Any]]


def request_timezone(request: Request) -> str | None:
    """The ``x-timezone`` header: an IANA timezone name, or ``None`` when absent (400 when unknown)."""
    name = request.headers.get("x-timezone", "").strip()
    if not name:
        return None
    try:
        zone(name)
    except ValueError as exc:
        raise bad_request(f"x-timezone: {exc}") from exc
    return name


def build_request(
    core: Core,
    body: Body,
    *,
    kind: str,
    stateful_bot: dict[str, Any] | None = None,
    timezone: str | None = None,
) -> AgentRequest:
    """The agent request of a stateless body (``messages`` + bot config) or of a stateful one."""
    functions = validate_functions(body.data.get("functions"))
    limits = validate_limits(body.data.get("limits"))
    body.mapping("extensions")
    if stateful_bot is not None:
        if body.has("messages"):
            raise bad_request("a stateful call takes `text` (the new user message), not `messages`")
        return AgentRequest((), functions, limits, core.resolve_bot(stateful_bot), kind, timezone)
    messages = validate_messages(body.data.get("messages"))
    return AgentRequest(messages, functions, limits, core.resolve_bot(body.bot_config()), kind, timezone)


def agent_request(
    request: Request, body: Body, *, kind: str, record: dict[str, Any] | None = None
) -> AgentRequest:
    """The agent request of a call: stateless, or stateful on the conversation ``record``; with ``x-timezone``."""
    bot = None if record is None else conversation_bot(record)
    return build_request(
        core_of(request), body, kind=kind, stateful_bot=bot, timezone=request_timezone(request)
    )


def conversation_bot(record: dict[str, Any]) -> dict[str, Any]:
    """The bot fields of a conversation record (a stateful run's bot configuration)."""
    keys = ("botId", "backstory", "model", "datasetId", "skillsetId")
    return {k: record[k] for k in keys if record.get(k) is not None}


def _result(outcome: Outcome, *, with_id: bool, with_end: bool = True) -> dict[str, Any]:
    assert outcome.reply is not None
    reply = outcome.reply
    body: dict[str, Any] = {"text": reply.text, "usage": {"token": reply.input_tokens + reply.output_tokens}}
    if with_end:
        body["end"] = {"reason": reply.end_reason}
    if with_id:
        body = {"id": outcome.message_id, **body}
    return body


async def _respond(request: Request, spec: RunSpec, render: Render) -> Response:
    services = services_of(request)
    core = services.core
    fmt = negotiate(request)
    if fmt is not Format.JSON:
        return _stream(services, spec, fmt)
    replay = await replayed_failure(core, request)
    if replay is not None:  # a retry of a call that just failed: the same answer, no second run
        return replay
    return JsonRun(request, core, services.engine.start(spec), render)


def _stream(services: Services, spec: RunSpec, fmt: Format) -> Response:
    core = services.core
    subscriber = Subscriber()
    spec.sinks.append(lambda type, data, at: subscriber.push(Frame(type, data, created_at=at)))
    run = services.engine.start(spec, on_done=lambda _run: subscriber.close())
    clock, interval = core.clock, core.settings.ping_interval
    timer: list[TimerHandle] = []

    def ping() -> None:
        subscriber.push(Frame("ping", {}, created_at=core.now_ms()))
        timer[:] = [clock.call_at(clock.time() + interval, ping)]

    timer.append(clock.call_at(clock.time() + interval, ping))

    def closed() -> None:
        for handle in timer:
            handle.cancel()
        run.kill(Kill.DISCONNECT)

    return EventStream(subscriber.batches(), fmt, on_close=closed)


async def complete(request: Request) -> Response:
    """``POST /conversation/complete`` (stateless)."""
    body = await read_body(request)
    spec = RunSpec(agent_request(request, body, kind="complete"))
    return await _respond(request, spec, lambda o: _result(o, with_id=False))


async def complete_stateful(request: Request) -> Response:
    """``POST /conversation/{id}/complete {text?}``: appends the user message (if any) and the bot reply."""
    record = conversation(request)
    body = await read_body(request)
    text = body.text("text")
    spec = RunSpec(
        agent_request(request, body, kind="complete", record=record),
        conversation_id=record["id"],
        user_text=text,
    )
    return await _respond(request, spec, lambda o: _result(o, with_id=True))


async def receive(request: Request) -> Response:
    """``POST /conversation/{id}/receive``: the bot's reply to the history so far (``{id, text, usage}``)."""
    record = conversation(request)
    body = await read_body(request)
    spec = RunSpec(
        agent_request(request, body, kind="complete", record=record),
        conversation_id=record["id"],
        result_aliases=("receiveResult",),
    )
    return await _respond(request, spec, lambda o: _result(o, with_id=True, with_end=False))


async def send(request: Request) -> Response:
    """``POST /conversation/{id}/send {text}``: appends a user message; ``{id, entities}``."""
    core = core_of(request)
    record = conversation(request)
    body = await read_body(request)
    text = body.text("text", required=True)
    assert text is not None
    entities = body.array("entities") or []
    message = core.add_message(record["id"], "user", text, entities=entities or None)
    if negotiate(request) is Format.JSON:
        return json_response({"id": message["id"], "entities": entities})
    at = core.now_ms()
    usage = {"token": len(text.split())}
    data = {"id": message["id"], "text": text, "entities": entities, "usage": usage}
    frames = [
        Frame("message", {"type": "user", "text": text}, created_at=at),
        Frame("sendResult", data, created_at=at),
        Frame("result", {**data, "end": {"reason": "stop"}}, created_at=at),
    ]
    subscriber = Subscriber()
    subscriber.extend(frames)
    subscriber.close()
    return EventStream(subscriber.batches(), negotiate(request))


def routes() -> list[BaseRoute]:
    base = "/conversation/{conversation_id}"
    return [
        Route("/conversation/complete", complete, methods=["POST"]),
        Route(base + "/complete", complete_stateful, methods=["POST"]),
        Route(base + "/send", send, methods=["POST"]),
        Route(base + "/receive", receive, methods=["POST"]),
    ]
