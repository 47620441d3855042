"""Finishing a run: its terminal event and status recorded once, its duration observed for routing advice.

``finish_job`` in the store is the compare-and-set that makes the outcome exactly-once across replicas: only the
call that moved the record to a terminal status logs it and feeds the duration statistics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from ..jobs import EventType
from ..store import JobRecord, JobStatus
from ..supervise import Outcome, excerpt

if TYPE_CHECKING:
    from ._state import Shared

__all__ = ["Finisher"]

log = structlog.get_logger("orchestrator")


class Finisher:
    """Records outcomes (``finish``) and the routing advice that observed durations give."""

    def __init__(self, rt: Shared) -> None:
        self._rt = rt

    async def finish(self, record: JobRecord, outcome: Outcome) -> None:
        rt = self._rt
        store = rt.store
        j = rt.jobs.get(record.job_name)
        started = (outcome.result or {}).get("started_at") or record.started_at
        adaptive = j is not None and rt.adaptive.applies(j.definition.decision, j.definition.forced_route)
        async with rt.adaptive.finishing(
            store, record.id, record.job_name, rt.clock, started=started if adaptive else None
        ):
            await store.append_event(record.id, outcome.event_type, dict(outcome.event_data), key="terminal")
            finished = await store.finish_job(
                record.id, outcome.status, result=outcome.result, error=outcome.error
            )
        if not finished:
            return
        state = {**record.state, **(outcome.result or {})}
        bound = log.bind(
            job_id=record.id,
            job=record.job_name,
            route=record.route,
            channel_id=state.get("channel_id"),
            task_id=state.get("task_id"),
        )
        bound.info(
            "job finished",
            status=outcome.status.value,
            reason=excerpt(str((outcome.error or {}).get("reason", ""))),
        )
        if outcome.status is JobStatus.SUCCEEDED and started is not None:
            rt.stats.add(record.job_name, rt.clock.time() - float(started))
        elif outcome.status is JobStatus.CEILING_EXCEEDED:
            rt.stats.add(record.job_name, rt.routing.ceiling.total_seconds())
        if j is not None and j.definition.on_ceiling == "fail":  # "continue" and "task" handle the ceiling
            advice = rt.stats.advice(j.name, j.route, rt.routing)
            if advice:
                bound.warning("routing advice", advice=advice)
                p95 = rt.stats.p95(j.name)
                await store.append_event(
                    record.id,
                    EventType.ROUTING_ADVICE,
                    {"p95": p95, "ceiling": rt.routing.ceiling.total_seconds(), "message": advice},
                    key="advice",
                )
