"""The events a plan adds to its planning run's log (besides the dispatch's own events).

======================== =================================================================================
type                     data
======================== =================================================================================
``plan.task_scheduled``  ``{name, key, task_id, job_id, schedule, timezone, runtime, start_at, source}``
``plan.task_held``       the same, for a task waiting for approval (created without a live schedule)
``plan.task_refused``    ``{name, error, source}``: what the agent was told
``plan.task_approved``   ``{name, task_id, job_id}``
``plan.task_rejected``   ``{name, task_id}``: deleted on the platform
``plan.task_cancelled``  ``{name?, task_id}`` (also on a recurring task's own job)
``plan.task_run``        ``{name, task_id, execution_id, job_id}``: a recurring task ran; ``job_id`` follows it
``plan.planned``         ``{tasks, held, source}``: the plan is complete (``source``: ``tool`` or ``text``)
``plan.rejected``        ``{reason}``: the planning run's reply held no usable plan
``plan.failed``          ``{reason, status}``: the planning run failed or was killed at the ceiling
``plan.cancelled``       ``{}``
======================== =================================================================================
"""

from __future__ import annotations

import enum

__all__ = ["PlanEvent"]


class PlanEvent(enum.StrEnum):
    """Event types of a plan (see the module docstring for their data)."""

    TASK_SCHEDULED = "plan.task_scheduled"
    TASK_HELD = "plan.task_held"
    TASK_REFUSED = "plan.task_refused"
    TASK_APPROVED = "plan.task_approved"
    TASK_REJECTED = "plan.task_rejected"
    TASK_CANCELLED = "plan.task_cancelled"
    TASK_RUN = "plan.task_run"
    PLANNED = "plan.planned"
    REJECTED = "plan.rejected"
    FAILED = "plan.failed"
    CANCELLED = "plan.cancelled"
