"""The runs of a plan's recurring tasks, as child jobs of the plan.

A recurring task's own job only records its scheduling; the platform then runs it on its schedule. Each run is
adopted as a job (``parent_id`` = the plan, id and key from the execution, so every replica records it once) and
supervised like a scheduled job's run, so that ``plan.tasks``, ``plan.result()`` and ``plan.events()`` see every
run. The plan's log gets a ``plan.task_run`` event per run.

The recurring tasks to follow are kept in the store's metadata (``plan-recurring``), so a restarted orchestrator,
or another replica, follows them too. Runs are noticed through the event log (the task tracker's listener) and, as
a fallback, after each task's ``nextRunAt``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import structlog

from .._clock import move_on_after
from .._errors import OrchestratorError
from ..runtime import adopt_execution, next_check
from ._doc import load_doc
from ._events import PlanEvent

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["REGISTRY_KEY", "PlanRuns", "plan_runs_of"]

REGISTRY_KEY = "plan-recurring"
log = structlog.get_logger("orchestrator.planning")


class PlanRuns:
    """Follows the recurring tasks of every plan in the store, and adopts their runs."""

    def __init__(self, orc: Runtime) -> None:
        self._orc = orc
        self._tasks: dict[str, dict[str, Any]] = {}  # task id -> {plan_id, name, since}
        self._wake = anyio.Event()
        self._tg: anyio.abc.TaskGroup | None = None
        self._watching = False

    async def open(self, tg: anyio.abc.TaskGroup) -> None:
        """Load the recurring tasks from the store and start following them."""
        registry = await self._orc.store.get_meta(REGISTRY_KEY)
        if isinstance(registry, dict):
            self._tasks.update({str(k): dict(v) for k, v in registry.items() if isinstance(v, dict)})
        self._orc.context.tracker.add_listener(self._on_item)
        self._tg = tg
        self._start_watching()

    def _start_watching(self) -> None:
        # only with a task to follow: an idle orchestrator keeps no fallback timer
        if self._tasks and self._tg is not None and not self._watching:
            self._watching = True
            self._tg.start_soon(self._watch)

    async def track(self, task_id: str, *, plan_id: str, name: str, job_name: str) -> None:
        """Follow a recurring task of a plan from now on (idempotent; kept in the store for every replica)."""
        store = self._orc.store
        entry = {"plan_id": plan_id, "name": name, "job_name": job_name, "since": self._orc.clock.time()}
        async with store.lock(REGISTRY_KEY):
            registry = await store.get_meta(REGISTRY_KEY)
            registry = dict(registry) if isinstance(registry, dict) else {}
            if task_id not in registry:
                registry[task_id] = entry
                await store.set_meta(REGISTRY_KEY, registry)
            self._tasks[task_id] = dict(registry[task_id])
        self._start_watching()
        self._wake.set()

    async def _on_item(self, data: Any) -> None:
        task_id = str(data.get("taskId") or "")
        if task_id in self._tasks:
            await self.reconcile(task_id)

    async def _watch(self) -> None:
        """Fallback when the event log is quiet or down: look for new runs after each task's ``nextRunAt``."""
        orc = self._orc
        while True:
            gone: list[str] = []
            wake_at = await next_check(orc, self._tasks, self.reconcile, gone=gone.append)
            if gone:
                await self._forget(gone)  # deleted (their plan was cancelled): nothing more to follow
            self._wake = anyio.Event()
            async with move_on_after(orc.clock, wake_at - orc.clock.time()):
                await self._wake.wait()  # or a task newly followed

    async def _forget(self, task_ids: list[str]) -> None:
        store = self._orc.store
        async with store.lock(REGISTRY_KEY):
            registry = await store.get_meta(REGISTRY_KEY)
            registry = dict(registry) if isinstance(registry, dict) else {}
            for task_id in task_ids:
                registry.pop(task_id, None)
                self._tasks.pop(task_id, None)
            await store.set_meta(REGISTRY_KEY, registry)

    async def reconcile(self, task_id: str) -> None:
        """Adopt every run of the task since it was first followed that has no job yet."""
        info = self._tasks.get(task_id)
        if info is None:
            return
        orc = self._orc
        executions = []
        try:
            async for execution in orc.client.tasks.executions(task_id, order="desc", take=10):
                executions.append(execution)
                if len(executions) >= 10:
                    break
        except OrchestratorError as exc:
            log.info("could not list a plan task's runs", task_id=task_id, error=str(exc))
            return
        since_ms = float(info["since"]) * 1000 - 1000
        plan_id, name = str(info["plan_id"]), str(info["name"])
        job_name = str(info.get("job_name") or name)
        for execution in reversed(executions):
            if (execution.created_at or 0) < since_ms:
                continue
            record, created = await adopt_execution(
                orc,
                orc.runs,
                task_id,
                execution,
                job_name=job_name,
                parent_id=plan_id,
                spec={"plan_id": plan_id, "plan_run": True, "plan_task": name},
            )
            if created:
                doc = await load_doc(orc.store, plan_id)
                if doc is not None and doc.attempts:
                    data = {
                        "name": name,
                        "task_id": task_id,
                        "execution_id": execution.id,
                        "job_id": record.id,
                    }
                    await orc.store.append_event(
                        doc.latest, PlanEvent.TASK_RUN, data, key=f"run:{execution.id}"
                    )
                log.info("plan task run adopted", plan_id=plan_id, task=name, job_id=record.id)


def plan_runs_of(rt: Runtime) -> PlanRuns:
    """The runtime's follower of recurring plan tasks (made, and opened with the runtime, on first use)."""
    runs = rt.addons.get("plan_runs")
    if not isinstance(runs, PlanRuns):
        runs = PlanRuns(rt)
        rt.addons["plan_runs"] = runs
        rt.on_open.append(runs.open)
    return runs
