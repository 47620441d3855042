"""A chat-integration bot that answers at once and hands long work to a plan, following it up in the thread.

A chat platform (Slack, Discord, Teams, a webhook) wants an answer within seconds, but a message may ask for
hours of work. This bot:

- answers a question right away with an interactive completion (``@orc.job(interactive=True)``);
- hands a request for work (a message with a to-do list: lines starting with ``- ``) to a *plan*:
  :class:`orchestrator.planning.ChatIntake` answers at once and starts ``orc.plan(...)`` keyed by the message
  (its id and text), so a redelivered message (webhooks retry) plans nothing twice; a :class:`PlanPolicy`
  bounds what the planner may schedule (here a five-minute dashboard poll is refused: at most every 12 hours);
- follows the plan from its own task group (it is an async context manager, so nothing it starts outlives it):
  it posts the planned tasks when planning ends, then each task's outcome and each recurring task's next run.

Run it::

    python examples/chat_bot.py

The chat platform is stood in for by the console (``ConsoleChat``: swap in your chat API's post call). Without
``CHATBOTKIT_API_TOKEN`` it runs on the embedded local platform, whose simulated planner turns each ``- `` line
into a task and whose clock runs 600x faster than real time (the hours of work take seconds); with it, on
ChatBotKit with a real model, in real time. Jobs and plans are kept in ``ORCHESTRATOR_STORE`` if set, else in
memory. At the end the demo cancels what it scheduled (a real bot would keep the weekly digest); pass
``keep_schedules=True`` to keep it.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from orchestrator import Clock, Job, Orchestrator, OrchestratorError, Prompt, VirtualClock
from orchestrator.jobs import format_duration
from orchestrator.planning import ChatIntake, PlanHandle, PlannedTask, PlanPolicy, PlanResult
from orchestrator.store import JobStore

if TYPE_CHECKING:
    from orchestrator.local import LocalPlatform
    from orchestrator.platform import PlatformClient

TIME_SCALE = 600.0  # the local platform's clock, times real time
BACKSTORY = "You are the customer-success team's assistant. Be brief, factual and friendly."
POLICY = PlanPolicy(
    max_tasks=5,
    min_interval=timedelta(hours=12),
    max_task_runtime=timedelta(hours=4),
    max_total_runtime=timedelta(hours=8),
    allowed_timezones=frozenset({"Europe/London", "UTC"}),
)


def on_real_platform() -> bool:
    """Whether ``Orchestrator()`` will use ChatBotKit (``CHATBOTKIT_API_TOKEN`` is set) rather than the local one."""
    return bool(os.environ.get("CHATBOTKIT_API_TOKEN"))


def simulate(directives: str) -> str:
    """Directives that steer the local platform's simulated agent; nothing is sent to a real model."""
    return "" if on_real_platform() else f" {directives}"


@dataclass(frozen=True)
class Message:
    """An inbound chat message, as a chat platform's webhook delivers it."""

    id: str
    thread: str
    user: str
    text: str


@dataclass(frozen=True)
class Post:
    """A message the bot posted."""

    thread: str
    text: str


class ConsoleChat:
    """Stands in for the chat platform's API: prints every message and records what the bot posts."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.posts: list[Post] = []

    def _print(self, thread: str, who: str, text: str) -> None:
        prefix = f"[{self._clock.now():%a %H:%M}] #{thread} {who}: "
        print(prefix + ("\n" + " " * len(prefix)).join(text.splitlines()))

    def show(self, message: Message) -> None:
        self._print(message.thread, message.user, message.text)

    async def post(self, thread: str, text: str) -> None:
        self.posts.append(Post(thread, text))
        self._print(thread, "bot", text)


def asks_for_work(text: str) -> bool:
    """A message with a to-do list (lines starting with ``- ``) asks for work; anything else is a question."""
    return any(line.lstrip().startswith("- ") for line in text.splitlines())


def describe_task(task: PlannedTask) -> str:
    when = f"{task.schedule} ({task.timezone or 'UTC'})" if task.recurring else "now"
    return f"• {task.name}: {when}, up to {format_duration(task.runtime)}"


def describe_outcome(result: PlanResult) -> str:
    lines = [f"✓ {name}: {' '.join(job.text.split())[:160]}" for name, job in result.results.items()]
    lines += [f"✗ {name}: {error.message[:160]}" for name, error in result.errors.items()]
    lines += [
        f"↻ {name}: next run {at:%a %d %b %H:%M} UTC" if at else f"↻ {name}: not scheduled"
        for name, at in result.next_runs.items()
    ]
    lines += [f"refused {r.name or 'a proposal'}: {r.error}" for r in result.refused]
    return "Done:\n" + "\n".join(lines)


class ChatBot:
    """Answers chat messages: questions at once, work through a plan followed up in the message's thread.

    Use ``async with ChatBot(...) as bot``; leaving the block waits for the follow-ups in progress.

    Args:
        chat: where posts go.
        intake: starts a plan per work message (keyed by the message, so redeliveries share it).
        answer: the interactive job that answers questions.
    """

    def __init__(self, chat: ConsoleChat, *, intake: ChatIntake, answer: Job[Any]) -> None:
        self._chat = chat
        self._intake = intake
        self._answer = answer
        self._tg: anyio.abc.TaskGroup | None = None
        self.plans: dict[str, PlanHandle] = {}

    async def __aenter__(self) -> ChatBot:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        tg, self._tg = self._tg, None
        assert tg is not None
        return await tg.__aexit__(exc_type, exc, tb)

    async def on_message(self, message: Message) -> None:
        """Answer one inbound message (what a webhook handler calls)."""
        if self._tg is None:
            raise RuntimeError("use the bot inside `async with ChatBot(...) as bot:`")
        if not asks_for_work(message.text):
            result = await self._answer.run(message.text)
            await self._chat.post(message.thread, result.text)
            return
        reply = await self._intake.receive(message.text, message_id=message.id)
        await self._chat.post(message.thread, reply.text)
        plan = reply.plan
        if plan is not None and plan.id not in self.plans:  # a redelivery is already followed
            self.plans[plan.id] = plan
            self._tg.start_soon(self._follow, message.thread, plan)

    async def _follow(self, thread: str, plan: PlanHandle) -> None:
        try:
            tasks = await plan.wait_planned()
            await self._chat.post(
                thread, f"Planned {len(tasks)} task(s):\n" + "\n".join(map(describe_task, tasks))
            )
            await self._chat.post(thread, describe_outcome(await plan.result()))
        except OrchestratorError as exc:
            await self._chat.post(thread, f"I couldn't finish that: {exc}")


def inbound(run: str) -> list[Message]:
    """The conversation the demo plays: a question, a request for work, and that request delivered again."""
    work = Message(
        id=f"{run}-2",
        thread="churn-review",
        user="ben",
        text=(
            "Can you dig into last quarter's churn?\n"
            "- Group last quarter's cancellations by reason" + simulate("[[runtime 1h]] [[sleep 40m]]") + "\n"
            "- Compare our pricing with our three main competitors"
            + simulate("[[runtime 3h]] [[sleep 1h30m]]")
            + "\n"
            "- Every Monday morning, post a churn digest in this channel"
            + simulate('[[schedule "0 8 * * 1"]] [[timezone "Europe/London"]] [[runtime 20m]]')
            + "\n"
            "- Check the cancellations dashboard every five minutes"
            + simulate('[[schedule "*/5 * * * *"]] [[timezone "UTC"]] [[runtime 5m]]')
        ),
    )
    return [
        Message(f"{run}-1", "support", "ana", "What does our refund policy say about annual plans?"),
        work,
        work,  # the chat platform did not see our 200 in time and delivers it again
    ]


async def main(
    *,
    clock: Clock | None = None,
    platform: PlatformClient | LocalPlatform | None = None,
    store: str | JobStore | None = None,
    keep_schedules: bool = False,
) -> list[Post]:
    """Play the conversation, wait for the follow-ups, and return what the bot posted.

    Args:
        clock: the clock (tests pass a ``VirtualClock``); by default see the module docstring.
        platform: a platform client or local platform; ``None`` lets ``Orchestrator`` choose from the environment.
        store: a store URL or object; ``ORCHESTRATOR_STORE`` or ``memory://`` by default.
        keep_schedules: keep the plans' tasks at the end (by default the demo cancels them).
    """
    if clock is None and platform is None and not on_real_platform():
        clock = VirtualClock(time_scale=TIME_SCALE)
    orc = Orchestrator(
        platform=platform,
        store=store or os.environ.get("ORCHESTRATOR_STORE") or "memory://",
        clock=clock,
    )

    @orc.job(interactive=True)
    def answer(question: str) -> Prompt:
        return Prompt(text=question, backstory=BACKSTORY)

    async with orc:
        chat = ConsoleChat(orc.clock)
        intake = ChatIntake(orc, policy=POLICY, backstory=BACKSTORY)
        async with ChatBot(chat, intake=intake, answer=answer) as bot:
            for message in inbound(secrets.token_hex(3)):
                chat.show(message)
                await bot.on_message(message)
        if not keep_schedules:
            for plan in bot.plans.values():
                await plan.cancel()
                print(f"(demo cleanup: plan {plan.id} cancelled, its recurring task deleted)")
    return chat.posts


if __name__ == "__main__":
    import logging

    import structlog

    # an application decides what it logs: keep the console for the chat
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    anyio.run(main)
