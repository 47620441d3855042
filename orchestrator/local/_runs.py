"""Runs: one agent turn, with its events, tool calls, bound and kill (started by :mod:`._engine`).

A :class:`Run` is the agent's :class:`~._agent.RunContext`. Its events go to *sinks* (a direct stream's queue, a
dispatch channel, a task's workflow feed) and, when the run belongs to a conversation, to that conversation's
monitor. A run is killed at its bound (the dispatch ceiling or a task's ``maxTime``, counted from the run's start),
by a cancel, or by its client going away; a kill cancels the agent's scope.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from .._clock import Clock, TimerHandle, move_on_after
from ._agent import AgentFailure, AgentReply, AgentRequest, EndTurn, ToolResult
from ._core import MONITOR_TYPES, Core
from ._wire import dumps

__all__ = ["Kill", "Outcome", "Run", "RunSpec", "Sink", "describe_seconds"]

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
    """Seconds of platform time from the run's start (after any runs queued before it) to its kill."""
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
        self.scope = anyio.CancelScope()
        self._tokens: list[str] = []
        self._functions = {str(f["name"]): f for f in spec.request.functions}
        self._calls = 0
        self.timers: list[TimerHandle] = []

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

    def add_message(self, type: str, text: str, meta: dict[str, Any] | None = None) -> str | None:
        """Emit a ``message`` event, and append it to the conversation on stateful runs (its id, else None)."""
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
        self.add_message(
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
        self.add_message("activity", dumps(result).decode(), meta)
        self.emit(
            "operationEnd", {"id": op, "action": {"id": op, "kind": "function", "name": name, "input": args}}
        )
        return ToolResult(name, args, value, error)

    async def _wait(self, channel: str, function: dict[str, Any]) -> tuple[Any, str | None]:
        hub, clock = self._core.hub, self._core.clock
        # subscribe before announcing the wait, so that nothing published in answer is missed
        subscriber = hub.subscribe(channel, now=clock.time())
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
        message = batch[0].data()
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
        self.scope.cancel()

    def kill_at(self, when: float, reason: Kill, *, why: str | None = None) -> None:
        """Kill the run when the platform clock reads ``when`` (at once if that has passed)."""
        clock = self._core.clock
        if when <= clock.time():
            self.kill(reason, why=why)
        else:
            self.timers.append(clock.call_at(when, lambda: self.kill(reason, why=why)))
