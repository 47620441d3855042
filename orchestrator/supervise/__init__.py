"""Supervisors: dispatches against the ceiling, task executions, interactive completions, live tools."""

from ._align import ReplayAligner as ReplayAligner
from ._context import Outcome as Outcome
from ._dispatch import CEILING_MILESTONES as CEILING_MILESTONES
from ._task import TaskTracker as TaskTracker

__all__ = ["CEILING_MILESTONES", "Outcome", "ReplayAligner", "TaskTracker"]
