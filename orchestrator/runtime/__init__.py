"""The runtime under the ``Orchestrator`` facade: admission, the run loop, leases, retention and schedules.

One :class:`Runtime` per orchestrator holds the shared state and composes the parts; it implements
:class:`orchestrator.jobs.JobRuntime` (what jobs and handles need) and is what ``orchestrator.planning`` builds on.
``orc.runtime`` is the running orchestrator's.
"""

from ._admission import Admission as Admission
from ._adopt import adopt_execution as adopt_execution
from ._adopt import next_check as next_check
from ._core import Runtime as Runtime
from ._core import RuntimeOwner as RuntimeOwner
from ._finish import Finisher as Finisher
from ._leases import Leases as Leases
from ._runloop import RunLoop as RunLoop
from ._schedules import ScheduleManager as ScheduleManager
from ._slots import Slots as Slots
from ._state import RuntimeConfig as RuntimeConfig
from ._state import RuntimeState as RuntimeState
from ._state import Shared as Shared

__all__ = [
    "Admission",
    "Finisher",
    "Leases",
    "RunLoop",
    "Runtime",
    "RuntimeConfig",
    "RuntimeOwner",
    "RuntimeState",
    "ScheduleManager",
    "Shared",
    "Slots",
    "adopt_execution",
    "next_check",
]
