"""``ChatIntake``: answer an inbound chat message at once and hand the long work to a plan.

A chat integration (a Slack or Discord bot, a webhook) must answer within seconds, but the work a message asks
for may take hours. The intake answers right away, starts a plan for the message (keyed by the message id, so a
redelivered message starts nothing new), and posts follow-ups through ``notify`` when the plan is made and when
its one-off tasks are done::

    intake = ChatIntake(orc, policy=PlanPolicy(max_tasks=5))

    @app.post("/slack/events")
    async def on_message(event: dict) -> dict:
        async def notify(text: str) -> None:
            await slack.chat_postMessage(channel=event["channel"], thread_ts=event["ts"], text=text)

        reply = await intake.receive(event["text"], message_id=event["client_msg_id"], notify=notify)
        return {"text": reply.text}
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import structlog

from .._errors import OrchestratorError, PlatformError
from ..jobs import format_duration
from ._handle import PlanHandle
from ._policy import PlanPolicy
from ._values import PlannedTask, PlanResult

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["ChatIntake", "IntakeReply", "Notify", "PlanStarter", "describe_result", "describe_tasks"]

log = structlog.get_logger("orchestrator.planning")


class PlanStarter(Protocol):
    """What the intake needs of an orchestrator: to start a plan, and a runtime to follow it up in."""

    @property
    def runtime(self) -> Runtime: ...

    async def plan(
        self,
        request: str,
        *,
        bot_id: str | None = ...,
        backstory: str | None = ...,
        policy: PlanPolicy | None = ...,
        key: str | None = ...,
        require_approval: bool = ...,
    ) -> PlanHandle: ...


Notify = Callable[[str], Awaitable[None]]
"""Posts a follow-up message (e.g. to the thread of the message being answered)."""


@dataclass(frozen=True, slots=True)
class IntakeReply:
    """The immediate answer to a message: ``text`` to post now, and the ``plan`` doing the work (``None`` when
    the message was not planned)."""

    text: str
    plan: PlanHandle | None


def describe_tasks(tasks: Sequence[PlannedTask]) -> str:
    """A short chat message listing a plan's tasks."""
    lines = []
    for t in tasks:
        when = (
            f"{t.schedule} ({t.timezone or 'UTC'})"
            if t.schedule
            else (f"at {t.start_at.isoformat()}" if t.start_at else "now")
        )
        lines.append(f"• {t.name}: {when}, up to {format_duration(t.runtime)} [{t.status}]")
    return f"Planned {len(tasks)} task(s):\n" + "\n".join(lines) if lines else "Nothing was planned."


def describe_result(result: PlanResult) -> str:
    """A short chat message with a plan's fan-in: each one-off task's outcome, each recurring task's next run."""
    lines = [f"• {name}: done — {' '.join(r.text.split())[:300]}" for name, r in result.results.items()]
    lines += [f"• {name}: failed — {e.message[:300]}" for name, e in result.errors.items()]
    lines += [
        f"• {name}: recurring, next run {at.isoformat() if at else 'not scheduled'}"
        for name, at in result.next_runs.items()
    ]
    return "Plan finished:\n" + "\n".join(lines) if lines else "Plan finished with nothing to report."


class ChatIntake:
    """Turns inbound chat messages into plans, answering each message at once (see the module docstring).

    Args:
        orc: a running orchestrator.
        policy: the bounds of every plan (a chat message is untrusted input too).
        bot_id: the bot that plans and runs the tasks; or ``backstory`` to configure one.
        require_approval: hold every plan's tasks until ``plan.approve()``.
        max_message_length: longer messages are answered with a refusal, not planned.
        acknowledgement: the immediate answer; ``{plan_id}`` is replaced by the plan's id.
    """

    def __init__(
        self,
        orc: PlanStarter,
        *,
        policy: PlanPolicy | None = None,
        bot_id: str | None = None,
        backstory: str | None = None,
        require_approval: bool = False,
        max_message_length: int = 8000,
        acknowledgement: str = "On it: I'm planning this as background work (plan {plan_id}) and will post here.",
    ) -> None:
        if max_message_length < 1:
            raise ValueError("max_message_length must be at least 1")
        self._orc = orc
        self._policy = policy
        self._bot_id = bot_id
        self._backstory = backstory
        self._require_approval = require_approval
        self._max = max_message_length
        self._ack = acknowledgement
        self._following: set[str] = set()

    async def receive(self, text: str, *, message_id: str, notify: Notify | None = None) -> IntakeReply:
        """Answer one message now, and plan its work.

        Args:
            text: the message.
            message_id: the chat platform's id of the message; with the text it keys the plan, so a redelivered
                message plans nothing new (an edited one is planned anew).
            notify: posts follow-ups (the tasks once planned, then the outcome); ``None`` posts none.
        """
        if not isinstance(text, str) or not text.strip():
            return IntakeReply("Tell me what needs doing, and I'll plan it as background work.", None)
        if len(text) > self._max:
            return IntakeReply(
                f"That message is {len(text)} characters long; I can plan at most {self._max}. Please shorten it.",
                None,
            )
        try:
            plan = await self._orc.plan(
                text,
                key=f"chat:{message_id}:{hashlib.sha256(text.encode()).hexdigest()[:16]}",
                bot_id=self._bot_id,
                backstory=self._backstory,
                policy=self._policy,
                require_approval=self._require_approval,
            )
        except PlatformError as exc:
            log.warning("chat intake could not start a plan", message_id=message_id, error=str(exc))
            return IntakeReply(f"I couldn't start on that: {exc.message}. Please try again later.", None)
        tg = self._orc.runtime.task_group
        if notify is not None and plan.id not in self._following and tg is not None:
            self._following.add(plan.id)
            tg.start_soon(self._follow, plan, notify)
        return IntakeReply(self._ack.replace("{plan_id}", plan.id), plan)

    async def _follow(self, plan: PlanHandle, notify: Notify) -> None:
        try:
            try:
                tasks = await plan.wait_planned()
                await notify(describe_tasks(tasks))
                if any(t.status == "held" for t in tasks):
                    await notify("These tasks wait for approval before they run.")
                await notify(describe_result(await plan.result()))
            except OrchestratorError as exc:
                await notify(f"I couldn't finish that: {exc.message}")
        except Exception as exc:  # notify is user code; a failure must not stop the orchestrator
            log.exception("chat follow-up failed", plan_id=plan.id, error=repr(exc))
        finally:
            self._following.discard(plan.id)
