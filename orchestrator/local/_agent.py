"""The agent interface: what runs inside a completion, dispatch or task execution on the local platform.

An :class:`Agent` is given an :class:`AgentRequest` (the input messages, declared functions, limits and bot
configuration) and a :class:`RunContext` through which it streams tokens, emits events, calls the declared
functions (static ``result.data`` answers, live ``result.channel`` waits, no ``result`` ends the turn), sleeps
on the platform clock, and is cancelled (the run is an anyio task: a kill, a cancel or the platform stopping
cancels it). It returns an :class:`AgentReply`, or raises :class:`AgentFailure` to end the run with an
``error`` event.

The engine around it records the bot message, and emits ``usage`` and ``result``; the agent only produces
text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .._clock import Clock

__all__ = ["Agent", "AgentFailure", "AgentReply", "AgentRequest", "EndTurn", "RunContext", "ToolResult"]


@dataclass(frozen=True, slots=True)
class AgentRequest:
    """What one run is asked to do.

    Attributes:
        messages: the input, oldest first: ``{type, text, meta?}`` (the conversation history on stateful runs,
            the task description as a ``user`` message on task runs).
        functions: the declared functions, as on the wire (``name``, ``description``, ``parameters``,
        ``result?``). limits: ``iterations``, ``continuations``, ``calls`` when given.
        bot: the resolved bot configuration (``backstory``, ``model``, ...).
        kind: ``"complete"``, ``"dispatch"`` or ``"task"``.
        timezone: the caller's IANA timezone (the ``x-timezone`` header), when it sent one.
    """

    messages: Sequence[Mapping[str, Any]]
    functions: Sequence[Mapping[str, Any]] = ()
    limits: Mapping[str, int] = field(default_factory=dict)
    bot: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "complete"
    timezone: str | None = None

    @property
    def prompt(self) -> str:
        """The text that steers the run: the last ``user`` message (empty when there is none)."""
        for message in reversed(self.messages):
            if message.get("type") == "user":
                return str(message.get("text", ""))
        return ""

    @property
    def function_names(self) -> list[str]:
        return [str(f["name"]) for f in self.functions]


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The answer to one function call: ``value`` (the result data) or ``error`` (the tool's error text)."""

    name: str
    args: Mapping[str, Any]
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class AgentReply:
    """A finished turn: the bot's text, token usage and end reason."""

    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    end_reason: str = "stop"
    model: str | None = None


class AgentFailure(Exception):
    """Ends the run with an ``error`` event ``{message, code?}``."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message}
        if self.code is not None:
            data["code"] = self.code
        return data


class EndTurn(Exception):
    """Raised by :meth:`RunContext.call` for a function declared without ``result``: the turn ends.

    The run then finishes with end reason ``activity``. A control signal inside a run, not an error.
    """


@runtime_checkable
class RunContext(Protocol):
    """What an agent can do inside a run."""

    @property
    def clock(self) -> Clock:
        """The platform clock."""
        ...

    @property
    def output(self) -> str:
        """The text streamed so far."""
        ...

    def token(self, text: str) -> None:
        """Stream a ``token`` event (it becomes part of the reply text)."""
        ...

    def emit(self, type: str, data: Mapping[str, Any]) -> None:
        """Emit any other event (``reasoningToken``, ``progressReport``, ...)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Work for ``seconds`` of platform time."""
        ...

    async def call(self, name: str, args: Mapping[str, Any]) -> ToolResult:
        """Call a declared function and wait for its result.

        Raises:
            AgentFailure: the function is not declared, or no result arrived in time
                (``no_message_received_aborted``).
            EndTurn: the function has no ``result``; let it propagate.
        """
        ...


class Agent(Protocol):
    """Produces the reply of one run."""

    async def run(self, request: AgentRequest, ctx: RunContext) -> AgentReply:
        """Do the work; stream through ``ctx``; return the reply or raise :class:`AgentFailure`."""
        ...
