"""``orchestrator demo``: the guide's worked examples, run as jobs on the local platform on a time-scaled clock.

:class:`Demo` owns the scenario: a local platform and an orchestrator sharing one :class:`VirtualClock` (memory
store), seven jobs (a streamed stateful chat reply, a scheduled nightly summary run on demand, a cancellable
document analysis an operator cancels mid-run, a triage dispatch, a dispatch that runs into the 15-minute ceiling
with ``on_ceiling="fail"`` beside the same work with ``on_ceiling="continue"``, and a planning dispatch), and one :class:`DemoRow` per job that the live view (:mod:`._demo_view`) renders while
the jobs run. On a ``VirtualClock()`` (autojump) the whole demo takes about a second, which is how it is tested.

Longer than 300 lines because it is the demo's script: its jobs and its scenario, meant to be read top to bottom as
the worked example of the guide.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import anyio

from .._clock import SystemClock, VirtualClock, move_on_after
from .._errors import OrchestratorError, UsageError
from .._orchestrator import Orchestrator
from ..jobs import EventType, Job, JobHandle, Prompt, Route, RoutingPolicy, format_duration, job
from ..local import LocalPlatform
from ..store import JobStatus
from ._demo_values import NIGHTLY_SCHEDULE, NIGHTLY_TIMEZONE, TERMINAL, DemoReport, DemoRow

__all__ = ["DEFAULT_TIME_SCALE", "Demo"]

DEFAULT_TIME_SCALE = 25.0
CANCEL_AFTER = timedelta(minutes=8)
GRACE = timedelta(seconds=30)
# platform time: a demo job still running by then is reported as unfinished, not waited for
GIVE_UP_AFTER = timedelta(hours=2)
PLAN_JOB_NAME = "orchestrator.plan"
PLAN_BACKSTORY = "You plan recurring research work for a small team."
PLAN_REQUEST = """Keep the team informed about our three main competitors. [[sleep 90s]]
- Collect competitor pricing every Monday [[schedule "0 8 * * 1"]] [[runtime 30m]]
- Summarise competitor news every evening [[schedule "0 18 * * *"]] [[runtime 20m]]
- Draft the quarterly comparison report [[schedule "0 9 1 */3 *"]] [[runtime 2h]]"""


@dataclass
class _Jobs:
    chat: Job[Any]
    nightly: Job[Any]
    analysis: Job[Any]
    triage: Job[Any]
    digest: Job[Any]
    continued: Job[Any]


def _declare() -> _Jobs:
    @job(interactive=True)
    def chat_reply(conversation_id: str, text: str) -> Prompt:
        return Prompt(
            text=f"{text} [[sleep 20s]] [[tokens 4]] [[sleep 20s]] [[tokens 4]] [[sleep 20s]]",
            conversation_id=conversation_id,
        )

    @job(schedule=NIGHTLY_SCHEDULE, timezone=NIGHTLY_TIMEZONE, runtime="20m")
    def nightly_summary() -> Prompt:
        return Prompt(
            text="Summarise yesterday's support tickets for the team. [[sleep 4m]]",
            backstory="You write short, factual daily summaries.",
        )

    @job(runtime="1h", cancellable=True)
    def document_analysis(document: str) -> Prompt:
        return Prompt(
            text=f"Analyse {document} section by section. [[sleep 45m]]", backstory="You are an analyst."
        )

    @job(runtime="3m")
    def triage(ticket: str) -> Prompt:
        return Prompt(text=f"Triage this ticket: {ticket} [[sleep 2m]]")

    @job(runtime="10m")
    def research_digest(topic: str) -> Prompt:
        # declared at 10 minutes, so routed to a dispatch; it really needs 20 and is killed at the ceiling
        return Prompt(text=f"Compile a research digest on {topic}. [[tokens 16]] [[sleep 20m]]")

    @job(runtime="10m", on_ceiling="continue")
    def research_digest_continued(topic: str) -> Prompt:
        # the same work, declared on_ceiling="continue": killed at the ceiling, continued where it stopped
        return Prompt(text=f"Compile a research digest on {topic}. [[tokens 16]] [[sleep 20m]]")

    return _Jobs(
        chat_reply, nightly_summary, document_analysis, triage, research_digest, research_digest_continued
    )


def _nothing(orc: Orchestrator) -> AbstractAsyncContextManager[object]:
    return nullcontext()


class Demo:
    """The demo scenario on ``clock`` (nothing starts before :meth:`run`).

    Args:
        clock: a ``VirtualClock(time_scale=N)`` for people, ``VirtualClock()`` (autojump) for tests.
        beside: entered with the running orchestrator around the jobs (``demo --dashboard`` serves the
            dashboard in it).
    """

    def __init__(
        self,
        clock: VirtualClock,
        *,
        beside: Callable[[Orchestrator], AbstractAsyncContextManager[object]] | None = None,
    ) -> None:
        self.clock = clock
        self._beside = beside
        self.jobs = _declare()
        policy = RoutingPolicy()
        ceiling = policy.ceiling.total_seconds()
        self._orc: Orchestrator | None = None

        def row(title: str, j: Job[Any], expected: JobStatus, bound: float, label: str) -> DemoRow:
            return DemoRow(title, j.name, j.route, j.explain().reasons, bound, label, expected.value)

        def runtime(j: Job[Any]) -> float:
            return (j.definition.runtime or policy.default_runtime).total_seconds()

        j = self.jobs
        self.chat = row(
            "chat reply", j.chat, JobStatus.SUCCEEDED, policy.completion_bound.total_seconds(), "bound"
        )
        self.nightly = row("nightly summary", j.nightly, JobStatus.SUCCEEDED, runtime(j.nightly), "runtime")
        self.analysis = row(
            "document analysis", j.analysis, JobStatus.CANCELLED, runtime(j.analysis), "runtime"
        )
        self.triage = row("triage", j.triage, JobStatus.SUCCEEDED, ceiling, "ceiling")
        self.digest = row("research digest", j.digest, JobStatus.CEILING_EXCEEDED, ceiling, "ceiling")
        self.digest.why = "on_ceiling='fail' (the default): killed at the 15m ceiling, partial output kept"
        self.continued = row(
            "research digest, continued", j.continued, JobStatus.SUCCEEDED, ceiling, "ceiling"
        )
        self.continued.why = "on_ceiling='continue': killed at the 15m ceiling, continued where it stopped"
        self.plan = DemoRow(
            "planning",
            PLAN_JOB_NAME,
            Route.DISPATCH,
            (),
            ceiling,
            "ceiling",
            JobStatus.SUCCEEDED.value,
            why="a planning dispatch: the agent turns a long request into scheduled tasks (orc.plan)",
        )
        self.rows = [
            self.chat,
            self.nightly,
            self.analysis,
            self.triage,
            self.digest,
            self.continued,
            self.plan,
        ]
        self.notes: list[tuple[float, str]] = []
        self.started_at: float | None = None
        self.next_run: str | None = None
        self.plan_tasks: list[dict[str, Any]] = []

    @property
    def orc(self) -> Orchestrator:
        """The demo's orchestrator (while :meth:`run` runs)."""
        if self._orc is None:
            raise UsageError("the demo's orchestrator exists only while Demo.run() runs")
        return self._orc

    def note(self, text: str) -> None:
        """Add a line to the operator's log, stamped with platform time since the start."""
        self.notes.append((self.clock.time() - (self.started_at or self.clock.time()), text))

    async def run(self) -> DemoReport:
        """Run every job to its end (or give up after two platform hours) and report."""
        real = SystemClock()
        real_start = real.time()
        j = self.jobs
        async with LocalPlatform(clock=self.clock) as platform:
            self._orc = Orchestrator(
                platform=platform.client(),
                store="memory://",
                clock=self.clock,
                grace=GRACE,
                jobs=[j.chat, j.nightly, j.analysis, j.triage, j.digest, j.continued],
                environ={},
            )
            plan_job = self._orc.jobs.get(PLAN_JOB_NAME)
            if plan_job is not None:
                self.plan.route, self.plan.reasons = plan_job.route, plan_job.explain().reasons
            async with self._orc, (self._beside or _nothing)(self._orc):
                self.started_at = self.clock.time()
                await self._show_schedule()
                async with move_on_after(self.clock, GIVE_UP_AFTER), anyio.create_task_group() as tg:
                    await self._start_all(tg)
        for r in self.rows:
            if not r.done:
                r.status, r.note = "unfinished", f"still {r.status} after {format_duration(GIVE_UP_AFTER)}"
        return DemoReport(
            rows=self.rows,
            notes=self.notes,
            time_scale=self.clock.time_scale,
            platform_seconds=self.clock.time() - (self.started_at or 0.0),
            real_seconds=real.time() - real_start,
            next_run=self.next_run,
            plan_tasks=self.plan_tasks,
        )

    async def _show_schedule(self) -> None:
        task_id = self.orc.schedules.task_ids.get(self.jobs.nightly.name)
        if task_id is None:
            return
        task = await self.orc.client.tasks.fetch(task_id)
        if task.next_run_at:
            when = datetime.fromtimestamp(task.next_run_at / 1000, UTC)
            self.next_run = when.isoformat()
            local = when.astimezone(ZoneInfo(NIGHTLY_TIMEZONE)).strftime("%a %d %b %H:%M %Z")
            self.nightly.note = f"next scheduled run {local}"
        self.note(
            f"nightly_summary upserted as task {task_id} ({NIGHTLY_SCHEDULE}, {NIGHTLY_TIMEZONE}); "
            f"next run {self.nightly.note.removeprefix('next scheduled run ') or 'unknown'}"
        )

    async def _start_all(self, tg: anyio.abc.TaskGroup) -> None:
        j = self.jobs
        await self._start(tg, self.digest, lambda: j.digest.start("agent orchestration frameworks"))
        await self._start(tg, self.continued, lambda: j.continued.start("agent orchestration frameworks"))
        await self._start(tg, self.triage, lambda: j.triage.start("T-4711: the export button does nothing"))
        await self._start(tg, self.analysis, lambda: j.analysis.start("the 300-page annual report"))
        conversation = await self.orc.client.conversations.create(
            {"backstory": "You are a helpful assistant."}
        )
        self.chat.note = f"stateful: conversation {conversation.id} keeps the history"
        await self._start(
            tg, self.chat, lambda: j.chat.start(conversation.id, "Hi! What changed in the Q3 report?")
        )
        self.note("nightly_summary triggered on demand (trigger_now)")
        await self._start(tg, self.nightly, j.nightly.trigger_now)
        tg.start_soon(self._plan)
        tg.start_soon(self._operator_cancel)

    async def _start(
        self, tg: anyio.abc.TaskGroup, row: DemoRow, start: Callable[[], Awaitable[JobHandle]]
    ) -> None:
        row.status = "starting"
        try:
            handle = await start()
        except (OrchestratorError, TimeoutError) as exc:  # TimeoutError: a scheduled run that never started
            row.status, row.text = "error", f"start failed: {exc}"
            return
        row.job_id = handle.id
        tg.start_soon(self._follow, row, handle)

    async def _follow(self, row: DemoRow, handle: JobHandle) -> None:
        try:
            # a run adopted from a schedule may have no job.started event: its record knows when it started
            row.started_at = row.started_at or (await handle.record()).started_at
            async for event in handle.events():
                self._apply(row, event.type, event.data, event.created_at)
        except OrchestratorError as exc:
            row.status, row.text = "error", f"lost the job's events: {exc}"

    def _apply(self, row: DemoRow, type_: str, data: Any, at: float) -> None:
        if type_ == EventType.STARTED or (
            type_ == EventType.TASK_EXECUTION and data.get("status") == "running"
        ):
            row.status = JobStatus.RUNNING.value
            row.started_at = row.started_at or at
        elif type_ == EventType.TOKEN:
            row.text += str(data.get("token", ""))
        elif type_ == EventType.CANCEL_REQUESTED:
            row.status = "cancelling"
        elif type_ == EventType.CEILING_APPROACHING:
            row.note = f"{float(data.get('fraction', 0)):.0%} of the ceiling used"
        elif type_ == EventType.CEILING_CONTINUED:
            part = data.get("part")
            row.note = f"killed at the ceiling: continued as part {part}"
            self.note(
                f"{row.job_name}: killed at the ceiling, continued as part {part} on channel {data.get('channel_id')}"
            )
        elif type_ == EventType.ROUTING_ADVICE:
            self.note(f"{row.job_name}: routing advice: {data.get('message', '')}")
        elif type_ in TERMINAL:
            row.status = TERMINAL[EventType(type_)].value
            row.finished_at = at
            if type_ == EventType.SUCCEEDED:
                row.text = str(data.get("text") or data.get("summary") or row.text)
                if int(data.get("parts") or 1) > 1:
                    row.note = f"one result from {data['parts']} parts (usage summed)"
            elif type_ == EventType.CEILING_EXCEEDED:
                row.text = f"partial output: {data.get('partial_output') or '(none)'}"
                row.note = str(data.get("reason") or "")
            else:
                row.text = str(data.get("reason") or "")

    async def _operator_cancel(self) -> None:
        if self.analysis.job_id is None or self.started_at is None:
            return
        await self.clock.sleep_until(self.started_at + CANCEL_AFTER.total_seconds())
        if self.analysis.done:
            return
        self.note(f"operator cancels {self.analysis.job_name} {format_duration(CANCEL_AFTER)} into its run")
        try:
            await self.orc.get_handle(self.analysis.job_id).cancel()
        except OrchestratorError as exc:
            self.note(f"the cancel failed: {exc}")

    async def _plan(self) -> None:
        row = self.plan
        try:
            planning = importlib.import_module("orchestrator.planning")
            planning.start_plan  # noqa: B018 (what orc.plan() needs)
        except (ImportError, AttributeError) as exc:
            row.skipped, row.status = True, "unavailable"
            row.text = f"planning is not available in this build: {exc}"
            return
        row.status = "starting"
        try:
            plan = await self.orc.plan(PLAN_REQUEST, backstory=PLAN_BACKSTORY)
            row.job_id = plan.id
            planned = 0
            async for event in plan.events():
                self._apply(row, event.type, event.data, event.created_at)
                if event.type == "plan.task_scheduled":
                    planned += 1
                    row.note = f"{planned} tasks scheduled so far"
            result = await plan.result()
        except OrchestratorError as exc:
            row.status, row.text = JobStatus.FAILED.value, f"{type(exc).__name__}: {exc}"
            return
        for task in result.tasks:
            when = result.next_runs.get(task.name)
            self.plan_tasks.append(
                {
                    "name": task.name,
                    "schedule": task.schedule,
                    "status": task.status,
                    "task_id": task.task_id,
                    "next_run": None if when is None else when.isoformat(),
                }
            )
        scheduled = [t for t in result.tasks if t.status == "scheduled"]
        row.text = f"{len(scheduled)} of {len(result.tasks)} tasks scheduled: " + ", ".join(
            f"{t.name} ({t.schedule or 'once'})" for t in result.tasks
        )
        row.note = f"{len(result.refused)} proposals refused" if result.refused else ""
        for task in scheduled:
            when = result.next_runs.get(task.name)
            next_run = "-" if when is None else when.strftime("%a %d %b %H:%M UTC")
            self.note(f"plan scheduled task {task.name!r} ({task.schedule}): next run {next_run}")
