"""Starting work on the platform, idempotently.

Every launch can run again for the same record (after a crash, or on another replica) without doing the work
twice: a dispatch carries its client-generated ``channelId`` (the platform dedupes on it); a task is found by its
``meta`` key before one is created, and is triggered only if it has no execution yet; a bot is found by the hash of
its configuration before one is created.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .._errors import PlatformConnectionError, PlatformTimeout, PlatformUnavailable, RateLimitedError
from ..jobs import EventType
from ..store import JobRecord, JobStatus
from ._context import SupervisorContext, log

__all__ = [
    "BOT_META_KEY",
    "JOB_META_KEY",
    "KEY_META_KEY",
    "SCHEDULE_META_KEY",
    "ensure_bot",
    "find_task",
    "launch",
]

KEY_META_KEY = "orchestratorKey"
JOB_META_KEY = "orchestratorJob"
SCHEDULE_META_KEY = "orchestratorSchedule"
BOT_META_KEY = "orchestratorBot"


_TRANSIENT = (RateLimitedError, PlatformUnavailable, PlatformTimeout, PlatformConnectionError)
_CREATE_ATTEMPTS = 6


async def create_reconciled(
    ctx: SupervisorContext,
    what: str,
    create: Callable[[], Awaitable[str]],
    find: Callable[[], Awaitable[str | None]],
) -> str:
    """``create()`` a record the platform has no idempotency key for, through 429s and 5xx.

    After a transient failure the record may exist all the same (a 5xx after the write): wait (``Retry-After``
    or a backoff, on the clock), look it up by its ``meta`` key, and create it again only when it is not there.
    """
    for attempt in range(1, _CREATE_ATTEMPTS + 1):
        try:
            return await create()
        except _TRANSIENT as exc:
            if attempt == _CREATE_ATTEMPTS:
                raise
            retry_after = exc.retry_after if isinstance(exc, RateLimitedError) else None
            delay = retry_after if retry_after is not None else min(2.0**attempt, 30.0)
            log.info(f"{what} failed, reconciling", attempt=attempt, error=str(exc), wait=delay)
            await ctx.clock.sleep(delay)
            found = await find()
            if found is not None:
                return found
    raise AssertionError("unreachable")  # pragma: no cover


def config_hash(config: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:24]


async def ensure_bot(ctx: SupervisorContext, bot_id: str | None, config: Mapping[str, Any]) -> str:
    """The bot a task runs with: the named one, or one made from the prompt's bot configuration (reused)."""
    if bot_id:
        return bot_id
    key = config_hash(config)
    meta_key = f"bot:{key}"
    cached = await ctx.store.get_meta(meta_key)
    if isinstance(cached, str):
        return cached
    async with ctx.store.lock(meta_key):
        cached = await ctx.store.get_meta(meta_key)
        if isinstance(cached, str):
            return cached

        async def find() -> str | None:
            async for bot in ctx.client.bots.list(meta={BOT_META_KEY: key}, take=1):
                return bot.id
            return None

        found = await find()
        if found is None:
            body = {
                "name": f"orchestrator-{key[:8]}",
                "description": "Created by orchestrator for task runs (reused for the same bot configuration).",
                **dict(config),
                "meta": {BOT_META_KEY: key},
            }
            found = await create_reconciled(ctx, "bot create", lambda: ctx.client.bots.create(body), find)
            log.info("bot created for task runs", bot_id=found, config_hash=key)
        await ctx.store.set_meta(meta_key, found)
        return found


async def find_task(ctx: SupervisorContext, meta: Mapping[str, str]) -> str | None:
    async for task in ctx.client.tasks.list(meta=dict(meta), take=1):
        return task.id
    return None


async def launch(ctx: SupervisorContext, record: JobRecord) -> JobRecord:
    """Start the record's work on the platform (idempotent); returns the record, now ``running``."""
    route = "task" if record.state.get("as_task") else record.route  # on_ceiling="task" re-runs it as a task
    spec = record.spec
    now = ctx.clock.time()
    state: dict[str, Any] = {"attempt": int(record.state.get("attempt") or 1)}
    if route == "dispatch":
        channel_id = str(record.state.get("channel_id") or spec["channel_id"])
        conversation_id = spec.get("conversation_id")
        body = record.state.get("body") or spec["body"]  # a continuation part's own body
        await ctx.client.conversations.dispatch(
            dict(body), conversation_id=conversation_id, channel_id=channel_id
        )
        started = float(record.state.get("started_at") or now)
        state.update(channel_id=channel_id, conversation_id=conversation_id, started_at=started)
        deadline = started + ctx.policy.ceiling.total_seconds()
        # a continuation part keeps the job's start: the job's duration is the parts together
        job_started = record.started_at if int(record.state.get("part") or 1) > 1 else None
        record = await ctx.store.update_job(
            record.id,
            status=JobStatus.RUNNING,
            state=state,
            started_at=job_started or started,
            deadline=deadline,
        )
        started_data = {
            "route": route,
            "channel_id": channel_id,
            "conversation_id": conversation_id,
            "deadline": deadline,
            "attempt": state["attempt"],
        }
    elif route == "task":
        task_id = record.state.get("task_id")
        if not task_id:
            as_task = route != record.route
            key = f"{record.idempotency_key}:task" if as_task else record.idempotency_key
            task_spec = spec["fallback_task"] if as_task else spec
            meta = {KEY_META_KEY: key, JOB_META_KEY: record.job_name}
            task_id = await find_task(ctx, {KEY_META_KEY: key})
            if task_id is None:
                bot_id = await ensure_bot(ctx, task_spec.get("bot_id"), task_spec.get("bot_config") or {})
                body = {**dict(task_spec["task"]), "botId": bot_id, "meta": meta}
                task_id = await create_reconciled(
                    ctx,
                    "task create",
                    lambda: ctx.client.tasks.create(body),
                    lambda: find_task(ctx, {KEY_META_KEY: key}),
                )
            record = await ctx.store.update_job(record.id, state={"task_id": task_id})
        if not record.state.get("triggered_at"):
            # triggered already (by a process that stopped before noting it)? Then the newest execution is a
            # new one: not the run a retry replaces
            previous = record.state.get("previous_execution")
            tid = str(task_id)

            async def newest_run() -> str | None:
                async for execution in ctx.client.tasks.executions(tid, take=1):
                    return execution.id if execution.id != previous else None
                return None

            if await newest_run() is None:
                await create_reconciled(
                    ctx, "task trigger", lambda: ctx.client.tasks.trigger(tid), newest_run
                )
            state["triggered_at"] = now
        started = float(record.state.get("started_at") or now)
        state.update(task_id=task_id, started_at=started)
        job_started = record.started_at if route != record.route else None
        record = await ctx.store.update_job(
            record.id, status=JobStatus.RUNNING, state=state, started_at=job_started or started
        )
        started_data = {"route": route, "task_id": task_id, "attempt": state["attempt"]}
    else:
        started = now
        state.update(started_at=started, conversation_id=spec.get("conversation_id"))
        record = await ctx.store.update_job(
            record.id, status=JobStatus.RUNNING, state=state, started_at=started
        )
        started_data = {
            "route": route,
            "conversation_id": spec.get("conversation_id"),
            "attempt": state["attempt"],
        }
    part = int(record.state.get("part") or 1)
    key = f"started:{state['attempt']}"
    if part > 1:
        started_data["part"] = part
        key += f":c{part}"
    if route != record.route:
        key += ":task"
    await ctx.store.append_event(record.id, EventType.STARTED, started_data, key=key)
    return record
