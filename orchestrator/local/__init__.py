"""The local platform: the ChatBotKit wire protocol served on loopback, with a simulated agent.

``async with LocalPlatform(clock=VirtualClock()) as p:`` serves on a free 127.0.0.1 port; ``p.client()`` is a
``PlatformClient`` bound to it. Runs, schedules and limits use the platform clock, so hours of agent work pass
in milliseconds under a ``VirtualClock``. The simulated agent is steered by directives in its input
(``[[sleep 20m]]``, ``[[tokens 200]]``, ``[[fail "why"]]``, ``[[call NAME {json}]]``, planner directives);
:class:`OpenAIChatAgent` runs a real model through any OpenAI-compatible endpoint instead. :class:`Faults`
injects errors, rate limits, latency and dropped streams.
"""

from ._agent import Agent as Agent
from ._agent import AgentFailure as AgentFailure
from ._agent import AgentReply as AgentReply
from ._agent import AgentRequest as AgentRequest
from ._agent import EndTurn as EndTurn
from ._agent import RunContext as RunContext
from ._agent import ToolResult as ToolResult
from ._directives import parse_directives as parse_directives
from ._directives import parse_duration as parse_duration
from ._directives import strip_directives as strip_directives
from ._faults import FaultRule as FaultRule
from ._faults import Faults as Faults
from ._faults import drop_stream as drop_stream
from ._faults import http_error as http_error
from ._faults import latency as latency
from ._faults import rate_limit as rate_limit
from ._openai import OpenAIChatAgent as OpenAIChatAgent
from ._platform import LocalPlatform as LocalPlatform
from ._serve import serve as serve
from ._simulated import SimulatedAgent as SimulatedAgent

__all__ = [
    "Agent",
    "AgentFailure",
    "AgentReply",
    "AgentRequest",
    "EndTurn",
    "FaultRule",
    "Faults",
    "LocalPlatform",
    "OpenAIChatAgent",
    "RunContext",
    "SimulatedAgent",
    "ToolResult",
    "drop_stream",
    "http_error",
    "latency",
    "parse_directives",
    "parse_duration",
    "rate_limit",
    "serve",
    "strip_directives",
]
