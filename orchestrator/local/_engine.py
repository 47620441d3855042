"""The run engine: starts runs in the platform's task group and turns agent replies into events and records.

Around the agent it emits ``completeBegin``; after it ``completeEnd``, the bot ``message``, ``usage`` and
``result`` (recording the bot message on stateful runs) — or an ``error``. Runs on one conversation are
serialised; the user message of a stateful run is appended when the run starts, after the runs before it.
A stateful run stopped at its ``maxTime`` keeps what it had written as a bot message marked ``meta.incomplete``
(a dispatch killed at the ceiling keeps nothing: the orchestrator records the cut-off reply itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import structlog

from ._agent import AgentFailure, AgentReply, AgentRequest, EndTurn
from ._core import Core
from ._runs import Kill, Outcome, Run, RunSpec

__all__ = ["RunEngine"]

log = structlog.get_logger(__name__)


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
            for timer in run.timers:
                timer.cancel()
            run.done.set()

    async def _stateful_turn(self, run: Run, conversation_id: str) -> Outcome:
        core = self._core
        if run.spec.user_text is not None:
            core.add_message(conversation_id, "user", run.spec.user_text)
        request = run.spec.request
        request = replace(request, messages=core.history(conversation_id))
        return await self._turn(run, request)

    async def _turn(self, run: Run, request: AgentRequest) -> Outcome:
        spec = run.spec
        if spec.bound is not None:
            why = None if spec.bound_error is None else str(spec.bound_error.get("message"))
            run.kill_at(self._core.clock.time() + spec.bound, spec.bound_kill, why=why)
        reply: AgentReply | None = None
        failure: AgentFailure | None = None
        run.emit("completeBegin", {"iteration": 1})
        with run.scope:
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
        message_id = (
            run.add_message("bot", reply.text) if reply.end_reason != "activity" or reply.text else None
        )
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
        if reason is Kill.MAX_TIME and run.spec.conversation_id is not None and run.output:
            # a task run stopped at its maxTime keeps what it wrote, marked incomplete, in its conversation
            run.add_message("bot", run.output, {"incomplete": {"reason": "max_time"}})
        if error is None and reason is run.spec.bound_kill:
            error = run.spec.bound_error
        if error is not None:
            run.emit("error", error)
        elif reason is Kill.CANCEL:
            run.emit("abort", {"reason": "canceled"})
        return Outcome("killed", error=error, kill=reason, output=run.output)
