"""Supervisors: dispatches against the ceiling, task executions, interactive completions, live tools.

Each supervisor receives what it needs (a :class:`SupervisorContext`: the store, the platform client, the clock,
the routing policy and the shared :class:`TaskTracker`) and the job's live tools, and returns an :class:`Outcome`;
recording it, and retrying, is the run loop's work (``orchestrator.runtime``).
"""

from ._align import ReplayAligner as ReplayAligner
from ._complete import CompletionSupervisor as CompletionSupervisor
from ._context import Outcome as Outcome
from ._context import SupervisorContext as SupervisorContext
from ._continue import CONTINUE_TEXT as CONTINUE_TEXT
from ._continue import INCOMPLETE_META as INCOMPLETE_META
from ._continue import after_ceiling as after_ceiling
from ._continue import join_parts as join_parts
from ._dispatch import CEILING_MILESTONES as CEILING_MILESTONES
from ._dispatch import DispatchSupervisor as DispatchSupervisor
from ._launch import BOT_META_KEY as BOT_META_KEY
from ._launch import JOB_META_KEY as JOB_META_KEY
from ._launch import KEY_META_KEY as KEY_META_KEY
from ._launch import SCHEDULE_META_KEY as SCHEDULE_META_KEY
from ._launch import ensure_bot as ensure_bot
from ._launch import find_task as find_task
from ._launch import launch as launch
from ._log import excerpt as excerpt
from ._task import TaskSupervisor as TaskSupervisor
from ._tracker import TaskTracker as TaskTracker

__all__ = [
    "BOT_META_KEY",
    "CEILING_MILESTONES",
    "CONTINUE_TEXT",
    "INCOMPLETE_META",
    "JOB_META_KEY",
    "KEY_META_KEY",
    "SCHEDULE_META_KEY",
    "CompletionSupervisor",
    "DispatchSupervisor",
    "Outcome",
    "ReplayAligner",
    "SupervisorContext",
    "TaskSupervisor",
    "TaskTracker",
    "after_ceiling",
    "ensure_bot",
    "excerpt",
    "find_task",
    "join_parts",
    "launch",
]
