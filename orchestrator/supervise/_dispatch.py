"""Dispatch supervision: follow a dispatch's channel to its end, against the 15-minute ceiling.

One coroutine per in-flight dispatch (no thread, no polling): it subscribes to the channel with ``historyLength``
so that nothing published before the subscription is lost, de-duplicates the replay (:class:`ReplayAligner`),
re-subscribes with backoff when the stream drops, answers live tools, and watches the ceiling: events at 50%, 80% and
95%, and when the run is killed (an error event at the ceiling, or silence past the deadline plus a grace period)
the job ends ``ceiling_exceeded`` with the partial output. A stateful dispatch whose channel was lost is decided by
the conversation's messages.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import anyio

from .._errors import AuthenticationError, NotFoundError, OrchestratorError
from ..jobs import PLATFORM_EVENT_TYPES, EventType, Tool
from ..store import JobRecord
from ._align import HISTORY, ReplayAligner, fingerprint
from ._context import Outcome, SupervisorContext, excerpt, log, read_result_event, succeeded
from ._continue import INCOMPLETE_META, part_prefix
from ._runlog import RunLog, split_token_event
from ._tools import answer_tool_call

__all__ = ["CEILING_MILESTONES", "DispatchSupervisor"]

CEILING_MILESTONES = (0.5, 0.8, 0.95)
_REVERSE_TYPES = {v: k for k, v in PLATFORM_EVENT_TYPES.items()}
_IGNORED = frozenset({"ping", "nop"})
# an error this close to the deadline (or after it) is the platform killing the run at the ceiling
_CEILING_TOLERANCE = 10.0


class DispatchSupervisor:
    """Follows one dispatch to its outcome. ``await run()`` returns the :class:`Outcome`."""

    def __init__(self, ctx: SupervisorContext, record: JobRecord, tools: Mapping[str, Tool]) -> None:
        self._ctx = ctx
        self._record = record
        self._tools = tools
        self._state = dict(record.state)
        self._attempt = int(self._state.get("attempt") or 1)
        self._prefix = part_prefix(self._state)  # a<attempt>, or a<attempt>c<part> for a continuation part
        self._channel = str(self._state["channel_id"])
        self._aligner = ReplayAligner()
        self._events = RunLog(
            ctx.store, record.id, clock=ctx.clock, window=ctx.token_window, spawn=self._spawn
        )
        self._tg: anyio.abc.TaskGroup | None = None
        self._partial: list[str] = []
        self._outcome: Outcome | None = None
        self._helpers = 0  # tool answers and the ceiling watcher running in the run's task group
        started = float(self._state.get("started_at") or record.started_at or ctx.clock.time())
        self._started = started
        self._ceiling = ctx.policy.ceiling.total_seconds()
        self._deadline = started + self._ceiling

    @property
    def _log(self) -> Any:
        # bound when first used: most runs log nothing here, and a bound logger per run is garbage to collect
        return log.bind(
            job_id=self._record.id, job=self._record.job_name, route="dispatch", channel_id=self._channel
        )

    def _key(self, position: int) -> str:
        return f"{self._prefix}p{position}"

    async def _restore(self, tg: anyio.abc.TaskGroup) -> None:
        """Rebuild the replay window and partial output from the job's stored events (after a restart)."""
        prefix = f"{self._prefix}p"
        fps: list[bytes] = []
        seen = 0
        calls: dict[str, Any] = {}
        answered: set[str] = set()
        for event in await self._ctx.store.events(self._record.id):
            key = event.key or ""
            if key.startswith(prefix):
                wire_type = _REVERSE_TYPES.get(event.type, event.type.removeprefix("platform."))
                if event.type == EventType.TOKEN:
                    # one stored event may hold several consecutive deltas (positions), see RunLog
                    for delta in split_token_event(event.data):
                        fps.append(fingerprint(wire_type, delta))
                        seen += 1
                        self._partial.append(str(delta.get("token", "")))
                    continue
                fps.append(fingerprint(wire_type, event.data))
                seen += 1
                if event.type == EventType.TOOL_CALL:
                    calls[key.removeprefix(self._prefix)] = event.data
            elif key.startswith(f"{self._prefix}tool"):
                answered.add(key.removeprefix(f"{self._prefix}tool"))
        self._aligner.restore(fps[-HISTORY:], seen)
        for pos_key, data in calls.items():
            if pos_key not in answered:
                # the process stopped between the tool call and its answer: answer it now
                self._start(tg, self._answer, data, pos_key)

    def _spawn(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run the RunLog's writer (while tokens are pending) in the run's task group."""
        assert self._tg is not None, "tokens are logged only while the run follows its channel"
        self._start(self._tg, work)

    def _start(self, tg: anyio.abc.TaskGroup, work: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run ``work`` in the run's task group, counted until it returns (counted from now: it may not run yet)."""
        self._helpers += 1
        tg.start_soon(self._counted, work, *args)

    async def _counted(self, work: Callable[..., Awaitable[None]], *args: Any) -> None:
        try:
            await work(*args)
        finally:
            self._helpers -= 1

    async def _answer(self, data: Any, pos_key: str) -> None:
        await answer_tool_call(self._ctx, self._record, self._tools, data, key=f"{self._prefix}tool{pos_key}")

    def _finish(self, outcome: Outcome) -> None:
        if self._outcome is None:
            self._outcome = outcome

    async def run(self) -> Outcome:
        # The channel is followed in this task; the ceiling watcher is a task only from the first milestone on
        # (a timer until then). Most runs end long before it: no second task to start and cancel per run, and
        # no cancellation (with its traceback, frames and task in one cycle) for the garbage collector.
        async with anyio.create_task_group() as tg:
            self._tg = tg
            await self._restore(tg)
            first = self._started + CEILING_MILESTONES[0] * self._ceiling
            timer = self._ctx.clock.call_at(first, lambda: self._start(tg, self._watch_ceiling, tg))
            try:
                await self._follow(tg)
            finally:
                timer.cancel()
            if self._helpers:
                tg.cancel_scope.cancel()  # tool answers still running, the watcher if it started
        await self._events.flush()  # every token is stored before the outcome is (the ceiling too)
        assert self._outcome is not None
        return self._outcome

    # -- the channel ----------------------------------------------------------------------------------------

    async def _follow(self, tg: anyio.abc.TaskGroup) -> None:
        failures = 0
        while True:
            reason = "the stream ended"
            try:
                async with self._ctx.client.channels.subscribe(
                    self._channel, history_length=HISTORY
                ) as events:
                    self._aligner.reconnect()
                    async for event in events:
                        inner = event.inner()
                        if inner is None or inner.type in _IGNORED:
                            continue
                        position = self._aligner.feed(inner.type, inner.data)
                        if position is None:
                            continue
                        failures = 0
                        try:
                            await self._on_event(inner.type, inner.data, position, tg)
                        except OrchestratorError:
                            # not recorded (the store failed): the re-subscription's replay brings it back
                            self._aligner.forget_last()
                            raise
                        if self._outcome is not None:
                            return
            except AuthenticationError as exc:
                self._finish(Outcome.failed(f"the platform refused the credential: {exc}", retryable=False))
                return
            except NotFoundError as exc:
                reason = f"channel not found: {exc.message}"
                if await self._decide_from_history():
                    return
            except OrchestratorError as exc:
                reason = str(exc)
            failures += 1
            delay = min(self._ctx.reconnect_max, 0.5 * 2 ** min(failures, 10)) * (0.5 + random.random() / 2)
            self._log.info(
                "channel stream lost; re-subscribing", reason=reason, attempt=failures, delay=delay
            )
            await self._events.append(
                EventType.STREAM_RECONNECTED,
                {"attempt": failures, "reason": reason, "delay": delay},
            )
            await self._ctx.clock.sleep(delay)

    async def _on_event(self, wire_type: str, data: Any, position: int, tg: anyio.abc.TaskGroup) -> None:
        if wire_type == "token" and type(data) is dict:  # the hot path: one call per streamed delta
            self._partial.append(str(data.get("token", "")))
            await self._events.token(data, key=self._key(position))
            return
        if wire_type == "result":
            self._finish(self._success(data))
            return
        if wire_type == "error":
            self._finish(self._classify_error(data))
            return
        event_type = PLATFORM_EVENT_TYPES.get(wire_type, f"platform.{wire_type}")
        payload = data if isinstance(data, Mapping) else {"value": data}
        if wire_type == "token":
            self._partial.append(str(payload.get("token", "")))
            await self._events.token(payload, key=self._key(position))
            return
        await self._events.append(event_type, payload, key=self._key(position))
        if wire_type == "waitForChannelMessageBegin":
            self._start(tg, self._answer, payload, f"p{position}")

    def _success(self, data: Any) -> Outcome:
        text, end_reason, usage = read_result_event(data, "".join(self._partial))
        conversation_id = self._state.get("conversation_id")
        if conversation_id is None and isinstance(data, Mapping):
            conversation_id = data.get("conversationId")
        return self._succeeded(text, end_reason=end_reason, usage=usage, conversation_id=conversation_id)

    def _succeeded(self, text: str, **fields: Any) -> Outcome:
        return succeeded(
            self._record,
            text=text,
            finished_at=self._ctx.clock.time(),
            channel_id=self._channel,
            started_at=self._started,
            attempt=self._attempt,
            **fields,
        )

    def _classify_error(self, data: Any) -> Outcome:
        payload = data if isinstance(data, Mapping) else {"message": str(data)}
        message = str(payload.get("message") or "the run failed")
        code = payload.get("code")
        now = self._ctx.clock.time()
        if code == "TIMEOUT" or now >= self._deadline - _CEILING_TOLERANCE:
            return Outcome.ceiling(
                partial_output="".join(self._partial),
                ceiling=self._ceiling,
                reason=f"the platform killed the run at the ceiling: {message}",
            )
        return Outcome.failed(message, code=str(code) if code else None)

    # -- the ceiling ----------------------------------------------------------------------------------------

    async def _watch_ceiling(self, tg: anyio.abc.TaskGroup) -> None:
        await self._ceiling_outcome()
        if self._outcome is not None:
            tg.cancel_scope.cancel()  # the channel follower too: the run is decided

    async def _ceiling_outcome(self) -> None:
        clock = self._ctx.clock
        for fraction in CEILING_MILESTONES:
            at = self._started + fraction * self._ceiling
            await clock.sleep_until(at)
            elapsed = clock.time() - self._started
            await self._events.append(
                EventType.CEILING_APPROACHING,
                {
                    "fraction": fraction,
                    "elapsed": round(elapsed, 3),
                    "remaining": round(max(0.0, self._deadline - clock.time()), 3),
                    "ceiling": self._ceiling,
                },
                key=f"{self._prefix}ceil{fraction}",
            )
        await clock.sleep_until(self._deadline + self._ctx.grace)
        if self._outcome is not None:
            return
        if await self._decide_from_history():
            return
        self._log.warning("dispatch silent past the ceiling", ceiling=self._ceiling, grace=self._ctx.grace)
        self._finish(
            Outcome.ceiling(
                partial_output="".join(self._partial),
                ceiling=self._ceiling,
                reason=f"no result within the {self._ceiling / 60:g}-minute ceiling plus {self._ctx.grace:g}s grace "
                "(the platform killed the run)",
            )
        )

    async def _decide_from_history(self) -> bool:
        """For a stateful dispatch: did the reply land in the conversation? Finishes the job if it did."""
        conversation_id = self._state.get("conversation_id")
        if not conversation_id:
            return False
        since_ms = self._started * 1000 - 1000
        try:
            async for message in self._ctx.client.conversations.messages(
                str(conversation_id), order="desc", take=5
            ):
                created = message.created_at or 0
                if message.type == "bot" and created >= since_ms and INCOMPLETE_META not in message.meta:
                    self._log.info("reply found in the conversation history", conversation_id=conversation_id)
                    self._finish(self._succeeded(message.text or "", conversation_id=conversation_id))
                    return True
                if message.type == "user":
                    break
        except OrchestratorError as exc:
            self._log.warning("could not read the conversation history", error=excerpt(str(exc)))
        return False
