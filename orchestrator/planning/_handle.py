"""``PlanHandle``: follow a plan, approve or reject its held tasks, await its fan-in, or cancel it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .._clock import move_on_after
from .._errors import JobCancelled, JobError, NotFoundError, PlanRejected, ResultTimeout
from ..jobs import JobHandle, JobResult, Route
from ..store import JobEvent, JobRecord, iterate_events
from ._doc import PlanDoc, load_doc
from ._lifecycle import cancel_plan, decide, finalise, plan_failure
from ._tasks import PLAN_JOB, child_job_name
from ._values import PlannedTask, PlanResult

if TYPE_CHECKING:
    from ..runtime import Runtime

__all__ = ["PlanHandle"]


class PlanHandle:
    """A handle on one plan. Cheap; holds no resources; works from any process sharing the store.

    Attributes:
        id: the plan id (deterministic from the plan key).
        key: the plan key (given to ``orc.plan(key=...)``, else derived from the request and the bot).
    """

    def __init__(self, orc: Runtime, doc: PlanDoc) -> None:
        self._orc = orc
        self.id = doc.id
        self.key = doc.key
        self._doc = doc
        self._runs: list[JobRecord] = []

    def __repr__(self) -> str:
        return f"<PlanHandle {self.id} status={self._doc.status} tasks={len(self._doc.tasks)}>"

    # -- what the plan holds --------------------------------------------------------------------------------

    @property
    def tasks(self) -> list[JobHandle]:
        """Handles of the jobs that follow the plan's tasks, as of the last refresh.

        ``await plan.wait_planned()``, ``result()``, ``approve()``, ``reject()``, ``cancel()`` and ``refresh()``
        refresh it. Held tasks have no job until they are approved. Each run of a recurring task is a child job
        too, listed after the tasks' own jobs, oldest first (see :attr:`runs`).
        """
        own = [
            JobHandle(self._orc, t.job_id, child_job_name(t.proposal.name), Route.TASK)
            for t in self._doc.tasks
            if t.job_id is not None
        ]
        return own + self.runs

    @property
    def runs(self) -> list[JobHandle]:
        """Handles of the jobs that follow each run of the plan's recurring tasks, as of the last refresh."""
        return [JobHandle(self._orc, r.id, r.job_name, Route.TASK) for r in self._runs]

    async def _load_runs(self) -> list[JobRecord]:
        children = await self._orc.store.list_jobs(parent_id=self.id, limit=10_000)
        self._runs = sorted(
            (r for r in children if r.spec.get("plan_run")), key=lambda r: (r.created_at, r.id)
        )
        return self._runs

    @property
    def planned_tasks(self) -> tuple[PlannedTask, ...]:
        """Every task of the plan (held, scheduled, rejected, cancelled), as of the last refresh."""
        return tuple(t.public() for t in self._doc.tasks)

    async def status(self) -> str:
        """``planning``, ``planned``, ``failed``, ``rejected`` or ``cancelled`` (read from the store)."""
        await self.refresh()
        return self._doc.status

    async def refresh(self) -> tuple[PlannedTask, ...]:
        """Read the plan from the store (completing it if its planning run has ended), and its tasks' runs."""
        self._doc = await finalise(self._orc, self.id)
        await self._load_runs()
        return self.planned_tasks

    # -- waiting --------------------------------------------------------------------------------------------

    async def wait_planned(self, timeout: float | timedelta | str | None = None) -> tuple[PlannedTask, ...]:  # noqa: ASYNC109
        """Wait for the planning run to end and the plan to be complete; returns its tasks.

        Raises:
            PlanRejected: the reply held no plan, or every proposal was refused.
            CeilingExceeded, JobFailed, JobCancelled: the planning run did not finish (tasks it scheduled are kept;
                ``orc.plan()`` with the same request or key plans again without duplicating them).
            ResultTimeout: ``timeout`` ran out (the plan goes on).
        """
        async with move_on_after(self._orc.clock, timeout) as scope:
            await self._planned()
        if scope.cancelled_caught:
            raise ResultTimeout(f"plan {self.id} was not planned within {timeout}; it goes on")
        return self.planned_tasks

    async def _planned(self) -> PlanDoc:
        while True:
            doc = self._doc = await finalise(self._orc, self.id)
            if doc.status == "cancelled" or doc.finalised >= len(doc.attempts):
                break
            try:
                await JobHandle(self._orc, doc.latest, PLAN_JOB, Route.DISPATCH).result()
            except JobError:
                pass  # the plan's status says what it means
        if doc.status == "failed":
            raise await plan_failure(self._orc, doc)
        if doc.status == "rejected":
            raise PlanRejected(f"plan {self.id} was rejected: {doc.error}")
        return doc

    async def _approved(self) -> PlanDoc:
        doc = await self._planned()
        async with self._orc.store.watch(doc.latest) as watch:
            while doc.held() and doc.status != "cancelled":
                await watch.wait()
                doc = self._doc = await finalise(self._orc, self.id)
        return doc

    async def result(self, timeout: float | timedelta | str | None = None) -> PlanResult:  # noqa: ASYNC109
        """The fan-in: wait for the plan, its approval if it needs one, and every one-off task's run.

        Recurring tasks are not waited for: they are reported with their next run, and the results of the runs they
        had so far (a run under way is waited for). A one-off task that failed or was cancelled is reported in
        ``errors``, not raised.

        Raises:
            the errors of :meth:`wait_planned` (a plan that was not planned has no result), and
            ResultTimeout: ``timeout`` ran out (the plan and its tasks go on).
        """
        result: PlanResult | None = None
        async with move_on_after(self._orc.clock, timeout):
            result = await self._fan_in()
        if result is None:
            raise ResultTimeout(f"plan {self.id} did not finish within {timeout}; it goes on")
        return result

    async def _fan_in(self) -> PlanResult:
        doc = await self._approved()
        if doc.status == "cancelled":
            raise JobCancelled(f"plan {self.id} was cancelled", job_id=self.id, job_name=PLAN_JOB)
        results: dict[str, JobResult] = {}
        errors: dict[str, JobError] = {}
        next_runs: dict[str, datetime | None] = {}
        for entry in doc.tasks:
            name = entry.proposal.name
            if entry.proposal.recurring:
                if entry.status == "scheduled":
                    next_runs[name] = await self._next_run(entry.task_id)
                continue
            if entry.job_id is None:
                continue
            try:
                results[name] = await JobHandle(
                    self._orc, entry.job_id, child_job_name(name), Route.TASK
                ).result()
            except JobError as exc:
                errors[name] = exc
        runs: dict[str, list[JobResult]] = {}
        for run in await self._load_runs():
            name = str(run.spec.get("plan_task") or run.job_name)
            try:
                runs.setdefault(name, []).append(
                    await JobHandle(self._orc, run.id, run.job_name, Route.TASK).result()
                )
            except JobError as exc:
                errors[f"{name}@{run.id}"] = exc
        self._doc = doc = await finalise(self._orc, self.id)
        return PlanResult(
            plan_id=self.id,
            reply=doc.reply,
            tasks=self.planned_tasks,
            results=results,
            errors=errors,
            next_runs=next_runs,
            refused=tuple(doc.refusals),
            runs={name: tuple(results) for name, results in runs.items()},
        )

    async def _next_run(self, task_id: str) -> datetime | None:
        try:
            task = await self._orc.client.tasks.fetch(task_id)
        except NotFoundError:
            return None
        return None if task.next_run_at is None else datetime.fromtimestamp(task.next_run_at / 1000, UTC)

    async def events(self) -> AsyncIterator[JobEvent]:
        """The planning runs' event logs, in order (the dispatch's events and the plan's ``plan.*`` events).

        Then the event log of each run of its recurring tasks so far (``plan.task_run`` events name them).

        Follows the latest run live until it ends; events added after that (approvals, cancellation, new runs)
        are seen by a later call.
        """
        seen = 0
        while True:
            doc = await load_doc(self._orc.store, self.id)
            if doc is None or seen >= len(doc.attempts):
                break
            async for event in iterate_events(self._orc.store, doc.attempts[seen]):
                yield event
            seen += 1
        for run in await self._load_runs():
            async for event in iterate_events(self._orc.store, run.id):
                yield event

    # -- deciding -------------------------------------------------------------------------------------------

    async def approve(self, names: Iterable[str] | None = None) -> tuple[PlannedTask, ...]:
        """Schedule held tasks (``names`` of them, or every held task): recurring ones get their schedule,
        one-off ones start (at their start time). Returns the tasks approved.

        Raises:
            UsageError: a name that is not a held task of this plan.
        """
        done = await decide(self._orc, self.id, names, approve=True)
        await self.refresh()
        return tuple(done)

    async def reject(self, names: Iterable[str] | None = None) -> tuple[PlannedTask, ...]:
        """Delete held tasks (``names`` of them, or every held task) from the platform. Returns them."""
        done = await decide(self._orc, self.id, names, approve=False)
        await self.refresh()
        return tuple(done)

    async def cancel(self) -> None:
        """Cancel every task of the plan: one-off runs are cancelled, recurring and held tasks deleted.

        A planning run still going on cannot be cancelled (it is a dispatch); every further proposal it makes is
        refused.
        """
        self._doc = await cancel_plan(self._orc, self.id)
