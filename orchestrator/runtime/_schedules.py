"""Scheduled jobs: one platform task per scheduled job, upserted on start, each execution a job run.

On entering ``async with orc`` every scheduled job's task is found by its ``meta`` key (under a store lock shared by
every replica), created if missing, and updated when the declaration changed; it is never duplicated across restarts
or replicas. Each execution the platform starts (by schedule, or by ``job.trigger_now()``) becomes a job record keyed
by the execution id, so every replica that notices it adopts the same record, and it is visible through handles.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import structlog

from .._clock import fail_after
from .._errors import OrchestratorError, UsageError
from ..jobs import Job, task_max_time
from ..platform import TaskExecution
from ..store import JobRecord
from ..supervise import SCHEDULE_META_KEY, ensure_bot, find_task
from ._adopt import adopt_execution, next_check

if TYPE_CHECKING:
    from ._runloop import RunLoop
    from ._state import Shared

__all__ = ["ScheduleManager"]

log = structlog.get_logger("orchestrator.schedules")
FINGERPRINT_META_KEY = "orchestratorFingerprint"


class ScheduleManager:
    """Keeps the platform tasks of scheduled jobs in line with their declarations, and adopts their runs."""

    def __init__(self, orc: Shared, runs: RunLoop) -> None:
        self._orc = orc
        self._runs = runs
        self.task_ids: dict[str, str] = {}  # job name -> task id
        self._jobs_by_task: dict[str, Job[Any]] = {}
        self._since: dict[str, float] = {}

    async def open(self, tg: anyio.abc.TaskGroup) -> None:
        scheduled = [j for j in self._orc.jobs.values() if j.definition.schedule is not None]
        for j in scheduled:
            await self._upsert(j)
        if scheduled:
            self._orc.context.tracker.add_listener(self._on_event_log_item)
            tg.start_soon(self._watch_next_runs)

    async def _upsert(self, j: Job[Any]) -> None:
        orc = self._orc
        ctx = orc.context
        d = j.definition
        prompt = await j.prompt()
        max_time = task_max_time(d.runtime, d.timeout, orc.routing)
        body: dict[str, Any] = {
            "name": j.name,
            "description": prompt.instruction,
            "schedule": d.schedule,
            "maxTime": int(max_time.total_seconds() * 1000),
        }
        if d.timezone:
            body["timezone"] = d.timezone
        bot_config = prompt.bot_config()
        fingerprint = hashlib.sha256(
            json.dumps([body, prompt.bot_id, bot_config], sort_keys=True).encode()
        ).hexdigest()[:24]
        async with orc.store.lock(f"schedule:{j.name}"):
            task_id = await find_task(ctx, {SCHEDULE_META_KEY: j.name})
            meta = {SCHEDULE_META_KEY: j.name, FINGERPRINT_META_KEY: fingerprint}
            if task_id is None:
                bot_id = await ensure_bot(ctx, prompt.bot_id, bot_config)
                task_id = await orc.client.tasks.create({**body, "botId": bot_id, "meta": meta})
                log.info("scheduled task created", job=j.name, task_id=task_id, schedule=d.schedule)
            else:
                task = await orc.client.tasks.fetch(task_id)
                if (task.meta or {}).get(FINGERPRINT_META_KEY) != fingerprint:
                    bot_id = await ensure_bot(ctx, prompt.bot_id, bot_config)
                    await orc.client.tasks.update(task_id, {**body, "botId": bot_id, "meta": meta})
                    log.info("scheduled task updated", job=j.name, task_id=task_id, schedule=d.schedule)
            since_key = f"schedule-since:{j.name}"
            since = await orc.store.get_meta(since_key)
            if not isinstance(since, int | float):
                since = orc.clock.time()
                await orc.store.set_meta(since_key, since)
        self.task_ids[j.name] = task_id
        self._jobs_by_task[task_id] = j
        self._since[task_id] = float(since)

    async def _on_event_log_item(self, data: Any) -> None:
        task_id = str(data.get("taskId") or "")
        if task_id in self._jobs_by_task:
            await self.reconcile(task_id)

    async def _watch_next_runs(self) -> None:
        """Fallback when the event log is quiet or down: look for new executions after each ``nextRunAt``."""
        while True:
            wake_at = await next_check(self._orc, self._jobs_by_task, self.reconcile)
            await self._orc.clock.sleep_until(wake_at)

    async def _newest(self, task_id: str) -> list[TaskExecution]:
        out = []
        async for execution in self._orc.client.tasks.executions(task_id, order="desc", take=10):
            out.append(execution)
            if len(out) >= 10:
                break
        return out

    async def reconcile(self, task_id: str) -> list[JobRecord]:
        """Adopt every recent execution of a scheduled task that has no job record yet."""
        try:
            executions = await self._newest(task_id)
        except OrchestratorError as exc:
            log.info("could not list executions", task_id=task_id, error=str(exc))
            return []
        since_ms = self._since.get(task_id, 0.0) * 1000 - 1000
        return [
            await self._adopt(task_id, e) for e in reversed(executions) if (e.created_at or 0) >= since_ms
        ]

    async def _adopt(self, task_id: str, execution: TaskExecution) -> JobRecord:
        j = self._jobs_by_task[task_id]
        record, _ = await adopt_execution(self._orc, self._runs, task_id, execution, job_name=j.name)
        return record

    async def trigger_now(self, j: Job[Any]) -> JobRecord:
        orc = self._orc
        task_id = self.task_ids.get(j.name)
        if task_id is None:
            raise UsageError(f"job {j.name!r} has no schedule: use job.start() to run it")
        before = await self._newest(task_id)
        newest = before[0] if before else None
        if newest is None or newest.status != "running":
            await orc.client.tasks.trigger(task_id)
            # bounded: a platform that never starts the run
            async with orc.context.tracker.track(task_id) as waiter, fail_after(orc.clock, 3600):
                while True:
                    current = await self._newest(task_id)
                    if current and (newest is None or current[0].id != newest.id):
                        newest = current[0]
                        break
                    await waiter.wait()
        assert newest is not None
        return await self._adopt(task_id, newest)
