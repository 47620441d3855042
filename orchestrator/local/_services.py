"""The platform's engines, composed once over one :class:`~._core.Core` (the top of the engine layer).

Layers, each importing only those below it: the core (state, clock, channels) -> the run model and the run
engine -> the engines built on it (dispatches, event log, scheduler, task runner), which receive each other here
at construction -> :class:`Services`, which routes reach through :func:`services_of` -> the app and the
platform. The scheduler and the task runner need each other: the scheduler is bound to the runner after both
exist (:meth:`~._scheduler.Scheduler.bind`), so neither module imports the other's back.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ._core import Core
from ._dispatches import Dispatches
from ._engine import RunEngine
from ._eventlog import EventLog
from ._scheduler import Scheduler
from ._taskruns import TaskRunner

__all__ = ["Services", "services_of"]


@dataclass(frozen=True, slots=True)
class Services:
    """The core and every engine over it, reachable as ``request.app.state.services``."""

    core: Core
    engine: RunEngine
    dispatches: Dispatches
    tasks: TaskRunner
    eventlog: EventLog
    scheduler: Scheduler

    @classmethod
    def compose(cls, core: Core) -> Services:
        """Build the engines over ``core`` and hand each the others it works with."""
        engine = RunEngine(core)
        eventlog = EventLog(core)
        scheduler = Scheduler(core)
        tasks = TaskRunner(core, engine=engine, eventlog=eventlog, scheduler=scheduler)
        scheduler.bind(tasks)
        dispatches = Dispatches(core, engine)
        return cls(core, engine, dispatches, tasks, eventlog, scheduler)


def services_of(request: Request) -> Services:
    services = request.app.state.services
    assert isinstance(services, Services)
    return services
