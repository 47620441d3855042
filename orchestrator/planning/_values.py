"""What a plan reports: its tasks (:class:`PlannedTask`), the proposals it refused, and its fan-in result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from .._errors import JobError
from ..jobs import JobResult

__all__ = ["PlanResult", "PlannedStatus", "PlannedTask", "RefusedProposal"]

PlannedStatus = Literal["held", "scheduled", "rejected", "cancelled"]
"""``held``: created on the platform, waiting for approval (no schedule, not started); ``scheduled``: live;
``rejected``: refused at approval (deleted); ``cancelled``: cancelled with the plan."""


@dataclass(frozen=True, slots=True)
class PlannedTask:
    """One task of a plan.

    Attributes:
        name: its name, unique within the plan (case-insensitively).
        instructions: what each run is told to do.
        schedule: the cron expression or preset of a recurring task; ``None`` for a one-off task.
        timezone: the schedule's IANA timezone.
        runtime: how long one run may take (the task's ``maxTime``).
        start_at: when a one-off task starts; ``None``: at once.
        status: ``held``, ``scheduled``, ``rejected`` or ``cancelled``.
        task_id: the platform task.
        job_id: the job that follows it (``orc.get_handle(job_id)``); ``None`` while held or once rejected.
    """

    name: str
    instructions: str
    schedule: str | None
    timezone: str | None
    runtime: timedelta
    start_at: datetime | None
    status: PlannedStatus
    task_id: str
    job_id: str | None

    @property
    def recurring(self) -> bool:
        return self.schedule is not None


@dataclass(frozen=True, slots=True)
class RefusedProposal:
    """A proposal the policy (or the parser) refused; ``error`` is what the agent was told."""

    name: str | None
    error: str
    attempt: int


@dataclass(frozen=True, slots=True)
class PlanResult:
    """The fan-in of a plan: what its one-off tasks produced, and when its recurring tasks run next.

    Attributes:
        plan_id: the plan.
        reply: the planning run's final text.
        tasks: every task the plan created (scheduled, and rejected or cancelled ones).
        results: the result of each one-off task that succeeded, by task name.
        errors: the error of each one-off task that failed, was cancelled or was killed, by task name.
        next_runs: each scheduled recurring task's next run (``None`` if the platform reports none), by name.
        refused: the proposals that were refused while planning.
        runs: the results of each recurring task's runs so far (the ones that succeeded), oldest first, by name;
            a run that failed is in ``errors`` as ``"<name>@<job id>"``.
    """

    plan_id: str
    reply: str
    tasks: tuple[PlannedTask, ...]
    results: Mapping[str, JobResult] = field(default_factory=dict)
    errors: Mapping[str, JobError] = field(default_factory=dict)
    next_runs: Mapping[str, datetime | None] = field(default_factory=dict)
    refused: tuple[RefusedProposal, ...] = ()
    runs: Mapping[str, tuple[JobResult, ...]] = field(default_factory=dict)
