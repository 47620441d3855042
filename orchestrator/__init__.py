"""orchestrator: background agent work on the ChatBotKit platform (or the local platform it ships), supervised.

Declare jobs with ``@orc.job(...)``; each is routed to the platform surface that fits its shape (a dispatch, a task
or an interactive completion), recorded in a durable store before the platform call, supervised, and awaited,
streamed or cancelled through a :class:`JobHandle` from any process sharing the store.
"""

from ._clock import Clock as Clock
from ._clock import SystemClock as SystemClock
from ._clock import VirtualClock as VirtualClock
from ._errors import AuthenticationError as AuthenticationError
from ._errors import BadRequestError as BadRequestError
from ._errors import CeilingExceeded as CeilingExceeded
from ._errors import ConfigurationError as ConfigurationError
from ._errors import InvalidArgument as InvalidArgument
from ._errors import JobCancelled as JobCancelled
from ._errors import JobError as JobError
from ._errors import JobFailed as JobFailed
from ._errors import JobTimedOut as JobTimedOut
from ._errors import NotCancellable as NotCancellable
from ._errors import NotFoundError as NotFoundError
from ._errors import OrchestratorError as OrchestratorError
from ._errors import PlanRejected as PlanRejected
from ._errors import PlatformConnectionError as PlatformConnectionError
from ._errors import PlatformError as PlatformError
from ._errors import PlatformTimeout as PlatformTimeout
from ._errors import PlatformUnavailable as PlatformUnavailable
from ._errors import RateLimitedError as RateLimitedError
from ._errors import ResultTimeout as ResultTimeout
from ._errors import RoutingError as RoutingError
from ._errors import StoreError as StoreError
from ._errors import StreamProtocolError as StreamProtocolError
from ._errors import UsageError as UsageError
from ._orchestrator import Orchestrator as Orchestrator
from .jobs import EventType as EventType
from .jobs import Job as Job
from .jobs import JobHandle as JobHandle
from .jobs import JobResult as JobResult
from .jobs import Prompt as Prompt
from .jobs import Route as Route
from .jobs import RouteDecision as RouteDecision
from .jobs import RoutingPolicy as RoutingPolicy
from .jobs import RoutingReport as RoutingReport
from .jobs import Tool as Tool
from .jobs import job as job
from .planning import ChatIntake as ChatIntake
from .planning import PlanHandle as PlanHandle
from .planning import PlannedTask as PlannedTask
from .planning import PlanPolicy as PlanPolicy
from .planning import PlanResult as PlanResult
from .store import JobEvent as JobEvent
from .store import JobStatus as JobStatus

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "CeilingExceeded",
    "ChatIntake",
    "Clock",
    "ConfigurationError",
    "EventType",
    "InvalidArgument",
    "Job",
    "JobCancelled",
    "JobError",
    "JobEvent",
    "JobFailed",
    "JobHandle",
    "JobResult",
    "JobStatus",
    "JobTimedOut",
    "NotCancellable",
    "NotFoundError",
    "Orchestrator",
    "OrchestratorError",
    "PlanHandle",
    "PlanPolicy",
    "PlanRejected",
    "PlanResult",
    "PlannedTask",
    "PlatformConnectionError",
    "PlatformError",
    "PlatformTimeout",
    "PlatformUnavailable",
    "Prompt",
    "RateLimitedError",
    "ResultTimeout",
    "Route",
    "RouteDecision",
    "RoutingError",
    "RoutingPolicy",
    "RoutingReport",
    "StoreError",
    "StreamProtocolError",
    "SystemClock",
    "Tool",
    "UsageError",
    "VirtualClock",
    "job",
]
