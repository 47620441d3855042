"""Declaring jobs: decorators, routing, prompts, handles and results."""

from .._duration import format_duration as format_duration
from .._duration import parse_duration as parse_duration
from ._adaptive import AdaptiveDecision as AdaptiveDecision
from ._adaptive import AdaptiveRouter as AdaptiveRouter
from ._adaptive import meta_key as adaptive_meta_key
from ._bounds import CeilingPolicy as CeilingPolicy
from ._bounds import task_max_time as task_max_time
from ._definition import SCHEDULE_PRESETS as SCHEDULE_PRESETS
from ._definition import Job as Job
from ._definition import JobArgs as JobArgs
from ._definition import JobDefinition as JobDefinition
from ._definition import JobFunction as JobFunction
from ._definition import JobOptions as JobOptions
from ._definition import JobRuntime as JobRuntime
from ._definition import decorate as decorate
from ._definition import job as job
from ._definition import rebind_policy as rebind_policy
from ._definition import validate_schedule as validate_schedule
from ._definition import validate_timezone as validate_timezone
from ._events import PLATFORM_EVENT_TYPES as PLATFORM_EVENT_TYPES
from ._events import EventType as EventType
from ._handle import JobHandle as JobHandle
from ._prompt import Prompt as Prompt
from ._prompt import Tool as Tool
from ._report import DurationStats as DurationStats
from ._report import RoutingReport as RoutingReport
from ._report import RoutingReportRow as RoutingReportRow
from ._request import build_spec as build_spec
from ._result import JobResult as JobResult
from ._routing import Route as Route
from ._routing import RouteDecision as RouteDecision
from ._routing import RoutingPolicy as RoutingPolicy
from ._runtime import HandleRuntime as HandleRuntime

__all__ = [
    "PLATFORM_EVENT_TYPES",
    "SCHEDULE_PRESETS",
    "AdaptiveDecision",
    "AdaptiveRouter",
    "CeilingPolicy",
    "DurationStats",
    "EventType",
    "HandleRuntime",
    "Job",
    "JobArgs",
    "JobDefinition",
    "JobFunction",
    "JobHandle",
    "JobOptions",
    "JobResult",
    "JobRuntime",
    "Prompt",
    "Route",
    "RouteDecision",
    "RoutingPolicy",
    "RoutingReport",
    "RoutingReportRow",
    "Tool",
    "adaptive_meta_key",
    "build_spec",
    "decorate",
    "format_duration",
    "job",
    "parse_duration",
    "rebind_policy",
    "task_max_time",
    "validate_schedule",
    "validate_timezone",
]
