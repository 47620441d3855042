"""Runs: one agent turn in the platform's task group, with its events, tool calls, bound and kill.

A :class:`Run` is the agent's :class:`~._agent.RunContext`. Its events go to *sinks* (a direct stream's queue,
a dispatch channel, a task's workflow feed) and, when the run belongs to a conversation, to that
conversation's monitor. The engine wraps the agent: ``completeBegin``; the agent's tokens and tool activity;
then ``completeEnd``, the bot ``message``, ``usage`` and ``result`` — or an ``error``. A run is killed at its
bound (the dispatch ceiling or a task's ``maxTime``), by a cancel, or by its client going away; a kill cancels
the agent's scope.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog

from .._clock import Clock, TimerHandle, move_on_after
from ._agent import AgentFailure, AgentReply, AgentRequest, EndTurn, ToolResult
from ._core import MONITOR_TYPES, Core
from ._wire import dumps

__all__ = ["Kill", "Outcome", "Run", "RunEngine", "RunSpec", "Sink", "describe_seconds"]

log = structlog.get_logger(__name__)

Sink = Callable[[str, Any, int], None]
"""Receives ``(type, data, createdAt ms)`` for every event of a run."""


class Kill(enum.Enum):
    """Why a run was stopped before it finished."""

    CEILING = "ceiling"
    MAX_TIME = "max_time"
    CANCEL = "cancel"
    DISCONNECT = "disconnect"


def describe_seconds(seconds: float) -> str:
    """``900`` -> ``"15 minute"``, ``7200`` -> ``"2 hour"``, ``90`` -> ``"90 second"`` (limit messages)."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} second"


@dataclass
class RunSpec:
    """What to run and where its events go."""

    request: AgentRequest
    sinks: list[Sink] = field(default_factory=list)
    conversation_id: str | None = None
    user_text: str | None = None
    bound: float | None = None
    bound_kill: Kill = Kill.CEILING
    bound_error: dict[str, Any] | None = None
    """The ``error`` event of a run killed at its bound; ``None`` kills it silently."""
    result_aliases: tuple[str, ...] = ()
    """Event types emitted with the ``result`` data just before it (``receiveResult`` on receive)."""


@dataclass
class Outcome:
    """How a run ended: ``success`` (``reply``), ``failure`` (``error``) or ``killed`` (``kill``)."""

    status: str
    reply: AgentReply | None = None
    error: dict[str, Any] | None = None
    kill: Kill | None = None
    message_id: str | None = None
    output: str = ""


class Run:
    """One agent turn; the agent's :class:`~._agent.RunContext`."""

    def __init__(self, core: Core, spec: RunSpec) -> None:
        self._core = core
        self.spec = spec
        self.kill_reason: Kill | None = None
        self.kill_error: dict[str, Any] | None = None
        self.waiting_on: str | None = None
        self.outcome: Outcome | None = None
        self.done = anyio.Event()
        self._scope = anyio.CancelScope()
        self._tokens: list[str] = []
        self._functions = {str(f["name"]): f for f in spec.request.functions}
        self._calls = 0
        self._timers: list[TimerHandle] = []

    # -- RunContext ---------------------------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self._core.clock

    @property
    def output(self) -> str:
        return "".join(self._tokens)

    def emit(self, type: str, data: Any) -> None:
        created_at = self._core.now_ms()
        for sink in self.spec.sinks:
            sink(type, data, created_at)
        if self.spec.conversation_id is not None and type in MONITOR_TYPES:
            self._core.publish_monitor(self.spec.conversation_id, type, data, created_at)

    def token(self, text: str) -> None:
        self._tokens.append(text)
        self.emit("token", {"token": text})

    async def sleep(self, seconds: float) -> None:
        await self._core.clock.sleep(seconds)

    def _message(self, type: str, text: str, meta: dict[str, Any] | None = None) -> str | None:
        data: dict[str, Any] = {"type": type, "text": text}
        if meta is not None:
            data["meta"] = meta
        ident = None
        if self.spec.conversation_id is not None:
            ident = self._core.add_message(self.spec.conversation_id, type, text, meta=meta)["id"]
        self.emit("message", data)
        return ident

    async def call(self, name: str, args: Mapping[str, Any]) -> ToolResult:
        function = self._functions.get(name)
        if function is None:
            declared = ", ".join(sorted(self._functions)) or "none"
            raise AgentFailure(f"function {name!r} is not declared (declared: {declared})")
        self._calls += 1
        budget = self.spec.request.limits.get("calls")
        if budget is not None and self._calls > budget:
            raise AgentFailure(
                f"function call budget of {budget} (limits.calls) is spent", code="LIMITS_REACHED"
            )
        args = dict(args)
        call = {"name": name, "arguments": args}
        self._message(
            "activity", f"{name}({dumps(args).decode()})", {"activity": {"type": "request", "function": call}}
        )
        op = self._core.state.ids()
        self.emit(
            "operationBegin",
            {"id": op, "action": {"id": op, "kind": "function", "name": name, "input": args}},
        )
        spec = function.get("result")
        if spec is None:
            raise EndTurn()
        value: Any = None
        error: str | None = None
        if "data" in spec:
            value = spec["data"]
        else:
            value, error = await self._wait(str(spec["channel"]), {"name": name, "args": args})
        result = value if error is None else {"error": error}
        meta = {"activity": {"type": "response", "function": {**call, "result": result}}}
        self._message("activity", dumps(result).decode(), meta)
        self.emit(
            "operationEnd", {"id": op, "action": {"id": op, "kind": "function", "name": name, "input": args}}
        )
        return ToolResult(name, args, value, error)

    async def _wait(self, channel: str, function: dict[str, Any]) -> tuple[Any, str | None]:
        hub, clock = self._core.hub, self._core.clock
        subscriber = hub.subscribe(
            channel, now=clock.time()
        )  # before announcing: nothing published is missed
        self.waiting_on = channel
        batch = None
        try:
            self.emit("waitForChannelMessageBegin", {"channel": channel, "function": function})
            async with move_on_after(clock, self._core.settings.tool_wait):
                batch = await subscriber.next_batch()
        finally:
            self.waiting_on = None
            hub.unsubscribe(channel, subscriber)
        if not batch:
            limit = describe_seconds(self._core.settings.tool_wait)
            raise AgentFailure(
                f"no message received on channel {channel} within the {limit} tool wait limit",
                code="no_message_received_aborted",
            )
        message = batch[0].item.get("data")
        self.emit("waitForChannelMessageEnd", {"channel": channel, "function": function, "message": message})
        if isinstance(message, dict) and "error" in message:
            return None, str(message["error"])
        if isinstance(message, dict) and "data" in message:
            return message["data"], None
        return message, None

    # -- control ------------------------------------------------------------------------------------------

    def kill(self, reason: Kill, *, why: str | None = None) -> None:
        """Stop the run now. A run waiting on a tool channel reports ``no_message_received_aborted``."""
        if self.kill_reason is not None or self.outcome is not None:
            return
        self.kill_reason = reason
        if self.waiting_on is not None and reason is not Kill.DISCONNECT:
            self.kill_error = {
                "message": f"no message received on channel {self.waiting_on} before the run was aborted"
                + (f" ({why})" if why else ""),
                "code": "no_message_received_aborted",
            }
        self._scope.cancel()

    def kill_at(self, when: float, reason: Kill, *, why: str | None = None) -> None:
        """Kill the run when the platform clock reads ``when`` (at once if that has passed)."""
        clock = self._core.clock
        if when <= clock.time():
            self.kill(reason, why=why)
        else:
            self._timers.append(clock.call_at(when, lambda: self.kill(reason, why=why)))


class RunEngine:
    """Starts runs in the platform's task group and turns agent replies into events and records."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self.active: set[Run] = set()

    def start(self, spec: RunSpec, on_done: Callable[[Run], None] | None = None) -> Run:
        """A new run, started in the background; ``on_done`` is called when it ends, even at shutdown."""
        group = self._core.require_running()
        run = Run(self._core, spec)
        group.start_soon(self._background, run, on_done, name="local-platform-run")
        return run

    async def _background(self, run: Run, on_done: Callable[[Run], None] | None) -> None:
        try:
            await self.execute(run)
        finally:
            # also at shutdown (run.outcome is then None), so that streams waiting on the run end
            if on_done is not None:
                on_done(run)

    async def execute(self, run: Run) -> Outcome:
        """Run to the end (or the kill) and return the outcome."""
        spec = run.spec
        self.active.add(run)
        try:
            if spec.conversation_id is None:
                outcome = await self._turn(run, spec.request)
            else:
                async with self._core.conversation_lock(spec.conversation_id):
                    outcome = await self._stateful_turn(run, spec.conversation_id)
            run.outcome = outcome
            return outcome
        finally:
            self.active.discard(run)
            for timer in run._timers:
                timer.cancel()
            run.done.set()

    async def _stateful_turn(self, run: Run, conversation_id: str) -> Outcome:
        core = self._core
        if run.spec.user_text is not None:
            core.add_message(conversation_id, "user", run.spec.user_text)
        request = run.spec.request
        request = AgentRequest(
            core.history(conversation_id), request.functions, request.limits, request.bot, request.kind
        )
        return await self._turn(run, request)

    async def _turn(self, run: Run, request: AgentRequest) -> Outcome:
        spec = run.spec
        if spec.bound is not None:
            why = None if spec.bound_error is None else str(spec.bound_error.get("message"))
            run.kill_at(spec.bound, spec.bound_kill, why=why)
        reply: AgentReply | None = None
        failure: AgentFailure | None = None
        run.emit("completeBegin", {"iteration": 1})
        with run._scope:
            try:
                reply = await self._core.agent.run(request, run)
            except EndTurn:
                reply = AgentReply(text=run.output, end_reason="activity")
            except AgentFailure as exc:
                failure = exc
            except Exception as exc:
                log.warning("local.agent_crashed", error=repr(exc))
                failure = AgentFailure(f"the agent failed: {exc!r}")
        if run.kill_reason is not None:
            return self._killed(run)
        if failure is not None:
            run.emit("error", failure.event())
            return Outcome("failure", error=failure.event(), output=run.output)
        assert reply is not None
        return self._finish(run, reply)

    def _finish(self, run: Run, reply: AgentReply) -> Outcome:
        run.emit("completeEnd", {"iteration": 1})
        message_id = run._message("bot", reply.text) if reply.end_reason != "activity" or reply.text else None
        model = reply.model or str(run.spec.request.bot.get("model") or "local-simulated")
        run.emit(
            "usage",
            {"model": model, "inputTokensUsed": reply.input_tokens, "outputTokensUsed": reply.output_tokens},
        )
        result: dict[str, Any] = {
            "text": reply.text,
            "usage": {"token": reply.input_tokens + reply.output_tokens},
            "end": {"reason": reply.end_reason},
        }
        if message_id is not None:
            result["id"] = message_id
        for alias in run.spec.result_aliases:
            run.emit(alias, result)
        run.emit("result", result)
        return Outcome("success", reply=reply, message_id=message_id, output=reply.text)

    def _killed(self, run: Run) -> Outcome:
        reason = run.kill_reason
        error = run.kill_error
        if error is None and reason is run.spec.bound_kill:
            error = run.spec.bound_error
        if error is not None:
            run.emit("error", error)
        elif reason is Kill.CANCEL:
            run.emit("abort", {"reason": "canceled"})
        return Outcome("killed", error=error, kill=reason, output=run.output)
