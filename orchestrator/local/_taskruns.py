"""Task executions: trigger (a no-op while running), the run in its own conversation, ``maxTime``, cancel.

Lifecycle, as on the real platform: trigger -> if the task is ``running`` the trigger is skipped
(``task.interact.skipped``) -> else the task goes ``running``/``pending`` and an execution
``running``/``pending`` is created (summary "Task execution started") with a conversation holding the task
description as the user message -> success: execution ``idle``/``success`` with a short summary of the reply;
failure (agent error, no bot, ``maxTime``): ``idle``/``failure`` with the reason; cancel: ``canceled``.
Cancels take effect at the next 5-second check of the run. The task returns to ``idle`` with the run's outcome
and a recomputed ``nextRunAt``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from ._agent import AgentRequest
from ._core import Core
from ._engine import RunEngine
from ._errors import not_found
from ._eventlog import EventLog
from ._runs import Kill, Run, RunSpec, describe_seconds
from ._scheduler import Scheduler

__all__ = ["TaskRunner", "summarize"]

_SUMMARY_LIMIT = 500
_WORKFLOW_TYPES = frozenset({"operationBegin", "operationEnd", "error"})


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def summarize(text: str) -> str:
    """A short deterministic summary of a reply: the text itself, cut at 500 characters."""
    text = text.strip()
    return text if len(text) <= _SUMMARY_LIMIT else text[: _SUMMARY_LIMIT - 3].rstrip() + "..."


class TaskRunner:
    """Starts, tracks and stops task executions."""

    def __init__(self, core: Core, *, engine: RunEngine, eventlog: EventLog, scheduler: Scheduler) -> None:
        self._core = core
        self._engine = engine
        self._eventlog = eventlog
        self._scheduler = scheduler
        self.running: dict[str, tuple[str, Run]] = {}  # taskId -> (executionId, run)

    def trigger(self, task_id: str) -> None:
        core = self._core
        task = core.state.tasks.require(task_id)
        if task["status"] == "running":
            self._eventlog.append("task.interact.skipped", task_id=task_id, bot_id=task.get("botId"))
            return
        core.require_running()
        now = core.now_ms()
        conversation_id = self._conversation(task, now)
        execution: dict[str, Any] = {
            "id": core.state.ids(),
            "taskId": task_id,
            "createdAt": now,
            "updatedAt": now,
            "conversationId": conversation_id,
            "status": "running",
            "outcome": "pending",
            "summary": "Task execution started",
        }  # completedAt once it ends; resumeAt never (no pauses here), absent rather than null (reference §9)
        for key in ("name", "description", "meta"):
            if task.get(key) is not None:
                execution[key] = task[key]
        core.state.executions.put(execution)
        task.update(status="running", outcome="pending", lastRunAt=now, updatedAt=now)
        core.state.tasks.touch(task)
        self._eventlog.append(
            "task.interact",
            task_id=task_id,
            execution_id=execution["id"],
            conversation_id=conversation_id,
            bot_id=task.get("botId"),
        )
        bot_id = task.get("botId")
        problem = None
        if not bot_id:
            problem = f"Task has no bot: set botId (POST /task/{task_id}/update) so that it can run"
        elif bot_id not in core.state.bots:
            problem = f"Task bot {bot_id!r} no longer exists: set botId to an existing bot"
        if problem is not None:
            core.publish_workflow(task_id, "error", {"code": "NO_BOT", "message": problem}, now)
            self._close(task_id, execution["id"], "idle", "failure", problem, "task.interact.aborted")
            return
        max_time = float(task.get("maxTime") or core.settings.default_max_time * 1000) / 1000
        limit = f"{int(max_time * 1000)} ms ({describe_seconds(max_time)})"

        def workflow(type: str, data: Any, at: int) -> None:
            if type in _WORKFLOW_TYPES:
                core.publish_workflow(task_id, type, data, at)

        spec = RunSpec(
            AgentRequest((), limits=self._limits(task), bot=core.resolve_bot({"botId": bot_id}), kind="task"),
            sinks=[workflow],
            conversation_id=conversation_id,
            user_text=str(task.get("description") or task.get("name") or ""),
            bound=max_time,
            bound_kill=Kill.MAX_TIME,
            bound_error={"message": f"The run exceeded maxTime of {limit}", "code": "TIMEOUT"},
        )
        run = self._engine.start(spec, on_done=lambda run: self._done(task_id, execution["id"], run))
        self.running[task_id] = (execution["id"], run)

    @staticmethod
    def _limits(task: dict[str, Any]) -> dict[str, int]:
        limits = {}
        if task.get("maxIterations"):
            limits["iterations"] = int(task["maxIterations"])
        if task.get("maxCalls"):
            limits["calls"] = int(task["maxCalls"])
        return limits

    def recover(self) -> None:
        """After a restart: executions that were running when the platform stopped have failed."""
        core = self._core
        now = core.now_ms()
        for execution in core.state.executions:
            if execution.get("status") == "running":
                execution.update(
                    status="idle",
                    outcome="failure",
                    summary="The local platform stopped during this execution",
                    updatedAt=now,
                    completedAt=_iso(now),
                )
                core.state.executions.touch(execution)
        for task in core.state.tasks:
            if task.get("status") == "running":
                task.update(status="idle", outcome="failure", updatedAt=now)
                core.state.tasks.touch(task)

    def _conversation(self, task: dict[str, Any], now: int) -> str:
        core = self._core
        session = task.get("sessionDuration") or 0
        if session > 0:
            for execution in reversed(core.state.executions.items.values()):
                if execution["taskId"] != task["id"]:
                    continue
                previous = core.state.conversations.get(execution.get("conversationId") or "")
                if previous is not None and previous["createdAt"] + session > now:
                    return str(previous["id"])
                break
        record: dict[str, Any] = {
            "id": core.state.ids(),
            "createdAt": now,
            "updatedAt": now,
            "taskId": task["id"],
        }
        for key, source in (("name", "name"), ("botId", "botId")):
            if task.get(source) is not None:
                record[key] = task[source]
        core.state.conversations.put(record)
        return str(record["id"])

    def _done(self, task_id: str, execution_id: str, run: Run) -> None:
        outcome = run.outcome
        if outcome is None:  # the platform is stopping: the record stays as it was
            return
        if outcome.status == "success":
            assert outcome.reply is not None
            args = ("idle", "success", summarize(outcome.reply.text), "task.interact.completed")
        elif outcome.kill is Kill.CANCEL:
            args = ("canceled", "failure", "Task execution canceled", "task.interact.aborted")
        else:
            message = str((outcome.error or {}).get("message") or "The run was stopped")
            event = "task.interact.aborted" if outcome.kill is not None else "task.interact.completed"
            args = ("idle", "failure", message, event)
        self._close(task_id, execution_id, *args)

    def _close(
        self, task_id: str, execution_id: str, status: str, result: str, summary: str, event: str
    ) -> None:
        core = self._core
        if self.running.get(task_id, ("",))[0] == execution_id:
            del self.running[task_id]
        now = core.now_ms()
        execution = core.state.executions.get(execution_id)
        if execution is not None:
            execution.update(
                status=status, outcome=result, summary=summary, updatedAt=now, completedAt=_iso(now)
            )
            core.state.executions.touch(execution)
        task = core.state.tasks.get(task_id)
        if task is None:
            return
        task.update(status="idle", outcome=result, updatedAt=now)
        self._scheduler.plan(task)
        self._eventlog.append(
            event,
            task_id=task_id,
            execution_id=execution_id,
            conversation_id=execution.get("conversationId") if execution else None,
            bot_id=task.get("botId"),
        )

    def cancel(self, task_id: str, execution_id: str | None = None) -> None:
        """Stop the task's running execution (or only ``execution_id``) at the run's next 5-second check."""
        current = self.running.get(task_id)
        if current is None:
            return
        running_id, run = current
        if execution_id is not None and execution_id != running_id:
            return
        core = self._core
        execution = core.state.executions.require(running_id)
        started = execution["createdAt"] / 1000
        period = core.settings.cancel_check
        now = core.clock.time()
        check = started + math.ceil(max(0.0, now - started) / period) * period if period > 0 else now
        run.kill_at(check, Kill.CANCEL, why="the execution was canceled")

    def require_execution(self, task_id: str, execution_id: str) -> dict[str, Any]:
        execution = self._core.state.executions.require(execution_id)
        if execution["taskId"] != task_id:
            raise not_found("Task execution", execution_id)
        return execution

    def delete(self, task_id: str) -> None:
        """Delete a task (and its executions), stopping its run at once."""
        core = self._core
        current = self.running.pop(task_id, None)
        if current is not None:
            current[1].kill(Kill.CANCEL, why="the task was deleted")
        core.state.tasks.delete(task_id)
        for execution in [e for e in core.state.executions if e["taskId"] == task_id]:
            core.state.executions.delete(execution["id"])
