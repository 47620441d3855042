"""Interactive completions: stream a complete call, put its tokens in the job's log, answer live tools."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from .._errors import OrchestratorError, PlatformError
from ..jobs import PLATFORM_EVENT_TYPES, Tool
from ..store import JobRecord
from ._context import Outcome, SupervisorContext, read_result_event, succeeded
from ._runlog import RunLog
from ._tools import answer_tool_call

__all__ = ["CompletionSupervisor"]


class CompletionSupervisor:
    """Runs one interactive completion (stateless, or stateful with a conversation id) to its outcome."""

    def __init__(self, ctx: SupervisorContext, record: JobRecord, tools: Mapping[str, Tool]) -> None:
        self._ctx = ctx
        self._record = record
        self._tools = tools
        self._state = dict(record.state)

    async def run(self) -> Outcome:
        async with anyio.create_task_group() as writer:
            log = RunLog(
                self._ctx.store,
                self._record.id,
                clock=self._ctx.clock,
                window=self._ctx.token_window,
                spawn=writer.start_soon,
            )
            outcome = await self._stream(log)
            writer.cancel_scope.cancel()  # a writer sleeping out its window
        await log.flush()  # every token is stored before the outcome is
        return outcome

    async def _stream(self, log: RunLog) -> Outcome:
        body = dict(self._record.spec.get("body") or {})
        conversation_id = self._state.get("conversation_id")
        started = float(self._state.get("started_at") or self._ctx.clock.time())
        text: list[str] = []
        position = 0
        async with anyio.create_task_group() as tg:
            # failures are caught inside the task group: outside it they would arrive as an exception group
            # ("supervision failed: unhandled errors in a TaskGroup") instead of failing the run with their message
            try:
                async with self._ctx.client.conversations.stream(
                    body, conversation_id=conversation_id
                ) as events:
                    async for event in events:
                        if event.type in ("ping", "nop"):
                            continue
                        position += 1
                        if event.type == "result":
                            return self._success(event.data, "".join(text), started, conversation_id)
                        if event.type == "error":
                            data = event.data if isinstance(event.data, Mapping) else {}
                            return Outcome.failed(
                                str(data.get("message") or "the completion failed"), code=data.get("code")
                            )
                        payload = event.data if isinstance(event.data, Mapping) else {"value": event.data}
                        if event.type == "token":
                            text.append(str(payload.get("token", "")))
                            await log.token(payload, key=f"c{position}")
                            continue
                        event_type = PLATFORM_EVENT_TYPES.get(event.type, f"platform.{event.type}")
                        await log.append(event_type, payload, key=f"c{position}")
                        if event.type == "waitForChannelMessageBegin":
                            tg.start_soon(self._answer, payload, f"ctool{position}")
            except PlatformError as exc:
                return Outcome.failed(f"the completion call failed: {exc}", code=exc.code)
            except OrchestratorError as exc:
                return Outcome.failed(str(exc))
            tg.cancel_scope.cancel()
        return Outcome.failed("the completion stream ended without a result", code="STREAM_ENDED")

    async def _answer(self, data: Any, key: str) -> None:
        await answer_tool_call(self._ctx, self._record, self._tools, data, key=key)

    def _success(self, data: Any, streamed: str, started: float, conversation_id: str | None) -> Outcome:
        text, end_reason, usage = read_result_event(data, streamed)
        return succeeded(
            self._record,
            text=text,
            finished_at=self._ctx.clock.time(),
            end_reason=end_reason,
            usage=usage,
            conversation_id=conversation_id,
            started_at=started,
            attempt=int(self._state.get("attempt") or 1),
        )
