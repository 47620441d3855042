"""The platform's shared core: settings, clock, records, channels, and the helpers every endpoint uses.

The bottom of ``local/``: the core owns the state and the clock and imports no engine or route. The engines
(run engine, dispatches, task runner, scheduler, event log) are built on top of it and receive each other at
construction (see :mod:`._services`); routes reach them through :func:`._services.services_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import anyio
from starlette.requests import Request

from .._clock import Clock
from ._agent import Agent
from ._channels import ChannelHub
from ._errors import ApiError
from ._faults import Faults
from ._state import State
from ._wire import Frame

__all__ = ["MONITOR_TYPES", "Core", "Settings", "core_of"]

# engine events that the conversation monitor carries (no tokens, no pings)
MONITOR_TYPES = frozenset(
    {"completeBegin", "completeEnd", "message", "operationBegin", "operationEnd", "error", "abort"}
)
_MONITOR_HISTORY = 100
_WORKFLOW_HISTORY = 1000


@dataclass(frozen=True, slots=True)
class Settings:
    """Behaviour knobs of the local platform (seconds of platform time).

    Attributes:
        ceiling: dispatch runs are killed this long after they start.
        ceiling_kill: ``"silent"`` (the channel stops receiving) or ``"error"`` (an ``error`` event, code
        ``TIMEOUT``). tool_wait: how long a live tool call waits for its channel message (never past the run's
        bound). cancel_check: task cancels take effect at the next multiple of this since the run started
        (real: ~5 s). default_max_time: the ``maxTime`` of a task that sets none.
        json_commit_after: a non-stream call still running after this commits ``200`` and writes its body
        later. ping_interval: ``ping`` events on completion streams. failure_status: the status of a JSON
        completion whose run failed (200 or 4xx/5xx; the body is ``{message, code}``). failure_replay: how
        long the same failed JSON completion request is answered from memory instead of running again.
        subscribe_nop: which subscribes lead with a ``nop`` item: ``"channels"`` (channel and conversation
        monitor, per the reference) or ``"all"`` (task and event-log subscribes too).
    """

    ceiling: float = 900.0
    ceiling_kill: Literal["silent", "error"] = "silent"
    tool_wait: float = 600.0
    cancel_check: float = 5.0
    default_max_time: float = 86400.0
    json_commit_after: float = 19.0
    ping_interval: float = 10.0
    failure_status: int = 200
    failure_replay: float = 10.0
    subscribe_nop: Literal["channels", "all"] = "channels"


class Core:
    """The platform's state, clock and channels, reachable as ``request.app.state.core``."""

    def __init__(
        self, *, clock: Clock, settings: Settings, agent: Agent, state: State, faults: Faults
    ) -> None:
        self.clock = clock
        self.settings = settings
        self.agent = agent
        self.state = state
        self.faults = faults
        self.hub = ChannelHub()
        self.task_group: anyio.abc.TaskGroup | None = None
        self.closing = False
        self._locks: dict[str, anyio.Lock] = {}
        # failed JSON completions by request key: (until, status, body), see ._json_runs
        self.failures: dict[str, tuple[float, int, bytes]] = {}

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    def require_running(self) -> anyio.abc.TaskGroup:
        """The task group runs live in, or 503 when the platform is not (or no longer) running."""
        if self.task_group is None or self.closing:
            raise ApiError(503, "The local platform is not running: use `async with LocalPlatform() as p`")
        return self.task_group

    def conversation_lock(self, conversation_id: str) -> anyio.Lock:
        """Runs on one conversation are serialised."""
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = anyio.Lock()
        return lock

    def forget_conversation(self, conversation_id: str) -> None:
        self._locks.pop(conversation_id, None)
        self.state.drop_messages(conversation_id)

    def add_message(
        self, conversation_id: str, type: str, text: str, *, meta: dict[str, Any] | None = None, **extra: Any
    ) -> dict[str, Any]:
        """Append a message to a conversation's history (and bump the conversation's ``updatedAt``)."""
        now = self.now_ms()
        record: dict[str, Any] = {
            "id": self.state.ids(),
            "createdAt": now,
            "updatedAt": now,
            "type": type,
            "text": text,
        }
        record.update({k: v for k, v in extra.items() if v is not None})
        if meta is not None:
            record["meta"] = meta
        self.state.messages(conversation_id).put(record)
        conversation = self.state.conversations.get(conversation_id)
        if conversation is not None:
            conversation["updatedAt"] = now
            self.state.conversations.touch(conversation)
        return record

    def history(self, conversation_id: str) -> list[dict[str, Any]]:
        return [
            {k: m[k] for k in ("type", "text", "meta") if k in m}
            for m in self.state.messages(conversation_id)
        ]

    def resolve_bot(self, config: dict[str, Any]) -> dict[str, Any]:
        """A bot's configuration with inline fields overriding it; 404 for an unknown ``botId``."""
        bot_id = config.get("botId")
        merged: dict[str, Any] = {}
        if bot_id is not None:
            bot = self.state.bots.require(bot_id)
            merged = {
                k: bot[k] for k in ("backstory", "model", "datasetId", "skillsetId") if bot.get(k) is not None
            }
        merged.update({k: v for k, v in config.items() if v is not None})
        return merged

    # -- monitor and workflow feeds ---------------------------------------------------------------------

    def publish_monitor(self, conversation_id: str, type: str, data: Any, created_at: int) -> None:
        frame = Frame("message", {"type": type, "data": data, "createdAt": created_at})
        self.hub.publish(
            monitor_channel(conversation_id),
            frame,
            now=self.clock.time(),
            keep=True,
            history_limit=_MONITOR_HISTORY,
        )

    def publish_workflow(self, task_id: str, type: str, data: Any, created_at: int) -> None:
        frame = Frame(type, data, created_at=created_at)
        self.hub.publish(
            workflow_channel(task_id),
            frame,
            now=self.clock.time(),
            keep=True,
            history_limit=_WORKFLOW_HISTORY,
        )


def monitor_channel(conversation_id: str) -> str:
    # channel ids from URLs must be printable (see _channel_api.channel_id): these never collide with them
    return "\0monitor:" + conversation_id


def workflow_channel(task_id: str) -> str:
    return "\0workflow:" + task_id


def core_of(request: Request) -> Core:
    core = request.app.state.core
    assert isinstance(core, Core)
    return core
