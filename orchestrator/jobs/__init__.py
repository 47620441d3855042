"""Declaring jobs: decorators, routing, prompts, handles and results."""

from ._adaptive import AdaptiveDecision as AdaptiveDecision
from ._adaptive import AdaptiveRouter as AdaptiveRouter
from ._definition import Job as Job
from ._definition import JobDefinition as JobDefinition
from ._definition import job as job
from ._duration import format_duration as format_duration
from ._duration import parse_duration as parse_duration
from ._events import EventType as EventType
from ._handle import JobHandle as JobHandle
from ._prompt import Prompt as Prompt
from ._prompt import Tool as Tool
from ._report import RoutingReport as RoutingReport
from ._report import RoutingReportRow as RoutingReportRow
from ._result import JobResult as JobResult
from ._routing import Route as Route
from ._routing import RouteDecision as RouteDecision
from ._routing import RoutingPolicy as RoutingPolicy

__all__ = [
    "AdaptiveDecision",
    "AdaptiveRouter",
    "EventType",
    "Job",
    "JobDefinition",
    "JobHandle",
    "JobResult",
    "Prompt",
    "Route",
    "RouteDecision",
    "RoutingPolicy",
    "RoutingReport",
    "RoutingReportRow",
    "Tool",
    "format_duration",
    "job",
    "parse_duration",
]
