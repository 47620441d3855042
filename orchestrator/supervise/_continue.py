"""Beyond the ceiling: continue a dispatch killed at the 15-minute ceiling, or re-run it as a task.

``on_ceiling="continue"``: the killed part is noted in the job's state (its channel id, partial text), a
``ceiling.continued`` event is logged, and the next part is *recorded* (its own channel id: the platform's
idempotency key) before :func:`~._launch.launch` sends it, so a crash between parts resumes the recorded part: a
part is never sent twice (the platform dedupes on the channel id) nor skipped (the record says which part is next).

The continuation picks up where the run stopped: on a stateful job the conversation history holds the partial reply
(written with ``message/create`` when the platform did not keep it) and the continuation asks the agent to go on; on
a stateless job the partial reply and that request are appended to the prompt's messages. One job id, one event log,
one result: :func:`join_parts` joins the parts' text and sums their usage.

``on_ceiling="task"``: the job's state switches to a task run (``as_task``) with its own idempotency key; the task
supervisor follows it and its events go to the same job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import OrchestratorError
from ..jobs import EventType
from ..store import JobRecord, JobStatus
from ._context import Outcome, SupervisorContext, log

__all__ = ["CONTINUE_TEXT", "INCOMPLETE_META", "after_ceiling", "join_parts", "part_prefix"]

CONTINUE_TEXT = (
    "Your previous reply was cut off by the platform's time limit. Continue exactly where it stopped; "
    "do not repeat what you already wrote."
)
INCOMPLETE_META = "incomplete"
"""The ``meta`` key of a partial reply: ``{reason, elapsed, part}``."""
_EMPTY_PART = "[cut off at the time limit before any output]"


def part_prefix(state: Mapping[str, Any]) -> str:
    """The event-key prefix of the current attempt and part (part 1 keeps the plain ``a<attempt>`` form)."""
    attempt = int(state.get("attempt") or 1)
    part = int(state.get("part") or 1)
    return f"a{attempt}" if part <= 1 else f"a{attempt}c{part}"


def _parts(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(p) for p in state.get("parts") or ()]


def _joined(parts: list[dict[str, Any]]) -> str:
    return "".join(str(p.get("text") or "") for p in parts)


async def after_ceiling(ctx: SupervisorContext, record: JobRecord, outcome: Outcome) -> JobRecord | Outcome:
    """What follows a run's outcome: the recorded next part (continue the loop), or the outcome to finish with."""
    if outcome.status is not JobStatus.CEILING_EXCEEDED or record.route != "dispatch":
        return outcome
    policy = record.spec.get("on_ceiling") or "fail"
    state = dict((await ctx.store.get_job(record.id) or record).state)
    if state.get("as_task"):
        return outcome
    partial = str((outcome.error or {}).get("partial_output") or "")
    now = ctx.clock.time()
    part = int(state.get("part") or 1)
    started = float(state.get("started_at") or record.started_at or now)
    parts = [
        *_parts(state),
        {"channel_id": state.get("channel_id"), "text": partial, "started_at": started, "ended_at": now},
    ]
    if policy == "task":
        return await _as_task(ctx, record, state, partial)
    if policy != "continue":
        return outcome
    text = _joined(parts)
    first = float(parts[0].get("started_at") or started)
    timeout = record.spec.get("timeout")
    if isinstance(timeout, int | float) and now - first >= float(timeout):
        return Outcome.timed_out(
            partial_output=text,
            timeout=float(timeout),
            reason=f"the parts together ran past the {float(timeout):g}s timeout after {part} part(s)",
        )
    limit = int(record.spec.get("max_continuations") or 0)
    if part > limit:
        return Outcome.ceiling(
            partial_output=text,
            ceiling=ctx.policy.ceiling.total_seconds(),
            reason=f"killed at the ceiling in each of {part} parts (max_continuations={limit}); "
            "declare a larger max_continuations, or on_ceiling='task'",
        )
    base = str(parts[0].get("channel_id") or record.spec["channel_id"])
    channel_id = f"{base}-c{part + 1}"
    # the platform kills a part at the ceiling; a silent kill is only noticed a grace period later
    elapsed = min(now - started, ctx.policy.ceiling.total_seconds())
    body = await _continuation_body(ctx, record, state, parts, partial, elapsed, part)
    attempt = int(state.get("attempt") or 1)
    await ctx.store.append_event(
        record.id,
        EventType.CEILING_CONTINUED,
        {
            "part": part + 1,
            "channel_id": channel_id,
            "previous_channel_id": state.get("channel_id"),
            "partial_chars": len(partial),
            "reason": str((outcome.error or {}).get("reason") or ""),
        },
        key=f"a{attempt}cont{part + 1}",
    )
    log.info(
        "dispatch killed at the ceiling; continuing",
        job_id=record.id,
        job=record.job_name,
        part=part + 1,
        channel_id=channel_id,
    )
    # recorded before it is sent: a restart launches this part (once: the platform dedupes on channel_id)
    return await ctx.store.update_job(
        record.id,
        status=JobStatus.PENDING,
        state={"part": part + 1, "parts": parts, "channel_id": channel_id, "body": body, "started_at": None},
    )


async def _continuation_body(
    ctx: SupervisorContext,
    record: JobRecord,
    state: Mapping[str, Any],
    parts: list[dict[str, Any]],
    partial: str,
    elapsed: float,
    part: int,
) -> dict[str, Any]:
    meta = {INCOMPLETE_META: {"reason": "ceiling", "elapsed": round(elapsed, 3), "part": part}}
    current = dict(state.get("body") or record.spec["body"])
    conversation_id = record.spec.get("conversation_id")
    if conversation_id:
        await _keep_partial(ctx, str(conversation_id), partial, meta, str(state.get("channel_id")))
        body = {k: v for k, v in current.items() if k != "text"}
        body["text"] = CONTINUE_TEXT
        return body
    messages = [dict(m) for m in current.get("messages") or ()]
    messages.append({"type": "bot", "text": partial or _EMPTY_PART, "meta": meta})
    messages.append({"type": "user", "text": CONTINUE_TEXT})
    return {**current, "messages": messages}


async def _keep_partial(
    ctx: SupervisorContext, conversation_id: str, partial: str, meta: Mapping[str, Any], channel_id: str
) -> None:
    """Make sure the conversation's history holds the killed part's reply (once, even across a crash)."""
    marked = {**meta, INCOMPLETE_META: {**meta[INCOMPLETE_META], "channel_id": channel_id}}
    try:
        async for message in ctx.client.conversations.messages(conversation_id, order="desc", take=10):
            info = message.meta.get(INCOMPLETE_META)
            if isinstance(info, Mapping) and info.get("channel_id") == channel_id:
                return
            if message.type == "user":
                break
        body = {"type": "bot", "text": partial or _EMPTY_PART, "meta": marked}
        await ctx.client.conversations.create_message(conversation_id, body)
    except OrchestratorError as exc:
        # the continuation still runs: the agent is asked to go on from its own history
        log.warning("could not record the partial reply", conversation_id=conversation_id, error=str(exc))


async def _as_task(
    ctx: SupervisorContext, record: JobRecord, state: Mapping[str, Any], partial: str
) -> JobRecord | Outcome:
    attempt = int(state.get("attempt") or 1)
    await ctx.store.append_event(
        record.id,
        EventType.CEILING_AS_TASK,
        {
            "reason": "killed at the dispatch ceiling: re-run as a task (no ceiling)",
            "partial_chars": len(partial),
        },
        key=f"a{attempt}astask",
    )
    log.info("dispatch killed at the ceiling; re-running as a task", job_id=record.id, job=record.job_name)
    return await ctx.store.update_job(
        record.id,
        status=JobStatus.PENDING,
        state={
            "as_task": True,
            "dispatch_channel_id": state.get("channel_id"),
            "task_id": None,
            "triggered_at": None,
            "execution_id": None,
            "started_at": None,
        },
    )


def join_parts(record: JobRecord, outcome: Outcome) -> Outcome:
    """The final outcome of a continued job: one result whose text is the parts joined, with the usage summed."""
    parts = _parts(record.state)
    if not parts or outcome.status is not JobStatus.SUCCEEDED or outcome.result is None:
        return outcome
    result = dict(outcome.result)
    result["text"] = _joined(parts) + str(result.get("text") or "")
    usage: dict[str, Any] = {}
    for source in [*(p.get("usage") or {} for p in parts), result.get("usage") or {}]:
        for key, value in source.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                usage[key] = usage.get(key, 0) + value
            else:
                usage.setdefault(key, value)
    result["usage"] = usage
    result["channel_ids"] = [str(p.get("channel_id")) for p in parts] + [str(result.get("channel_id"))]
    result["parts"] = len(parts) + 1
    result["started_at"] = parts[0].get("started_at") or result.get("started_at")
    return Outcome.succeeded(result)
