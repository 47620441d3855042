"""Planning: a bounded run decides what needs to happen and schedules the tasks that do it.

A dispatch (or an inbound chat message) has minutes, not hours; it can still spend them deciding what work is
needed. ``plan = await orc.plan(request)`` starts a planning dispatch that offers the agent one tool,
``schedule_task``, answered live by the orchestrator: every proposal is parsed and validated against a
:class:`PlanPolicy` before anything is created, and the agent is told the task id, or why the proposal was
refused so that it can correct it. Tasks are keyed by the plan key and their name, so running a plan again, or
recovering it after a crash, creates nothing twice. A model that answers with a JSON plan in its text instead is
read the same way; anything else fails the plan with :class:`~orchestrator.PlanRejected`.

With ``approve=`` or ``require_approval=True`` the tasks are held (created without a live schedule) until
approved. ``await plan.result()`` fans in the one-off tasks' results and reports the recurring tasks' next runs;
``await plan.cancel()`` cancels every task. :class:`ChatIntake` answers chat messages at once and plans their work.
"""

from ._events import PlanEvent as PlanEvent
from ._handle import PlanHandle as PlanHandle
from ._intake import ChatIntake as ChatIntake
from ._intake import IntakeReply as IntakeReply
from ._planner import PLAN_TOOL as PLAN_TOOL
from ._planner import install as install
from ._policy import PlanPolicy as PlanPolicy
from ._proposal import Proposal as Proposal
from ._proposal import parse_proposal as parse_proposal
from ._runs import plan_runs_of as plan_runs_of
from ._start import ApprovalVerdict as ApprovalVerdict
from ._start import Approver as Approver
from ._start import approvers_of as approvers_of
from ._start import load_plan as load_plan
from ._start import start_plan as start_plan
from ._tasks import PLAN_JOB as PLAN_JOB
from ._textplan import extract_plan as extract_plan
from ._values import PlannedStatus as PlannedStatus
from ._values import PlannedTask as PlannedTask
from ._values import PlanResult as PlanResult
from ._values import RefusedProposal as RefusedProposal

__all__ = [
    "PLAN_JOB",
    "PLAN_TOOL",
    "ApprovalVerdict",
    "Approver",
    "ChatIntake",
    "IntakeReply",
    "PlanEvent",
    "PlanHandle",
    "PlanPolicy",
    "PlanResult",
    "PlannedStatus",
    "PlannedTask",
    "Proposal",
    "RefusedProposal",
    "approvers_of",
    "extract_plan",
    "install",
    "load_plan",
    "parse_proposal",
    "plan_runs_of",
    "start_plan",
]
