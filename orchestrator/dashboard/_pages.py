"""The pages (GET): jobs, a job, plans, schedules, routing, and the two live streams."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..jobs import Route, format_duration
from ..store import JobCursor, JobRecord, JobStatus
from ._charts import routing_chart
from ._context import Dashboard, dashboard_of
from ._live import since_of, sse, sse_response, timeline
from ._plans import load_plans
from ._schedules import load_schedules
from ._views import CEILING_MARKS, ceiling_of, job_detail, job_row, valid_id

__all__ = ["job_events", "job_page", "jobs_live", "jobs_page", "plans_page", "routing_page", "schedules_page"]

PAGE_SIZE = 25
_DECLARED_HINT = (
    "this dashboard has no declarations. Mount dashboard_app(orc) in the application, or start "
    "`orchestrator dashboard --app MODULE:ATTR` with the application's orchestrator"
)


def encode_cursor(cursor: JobCursor) -> str:
    raw = json.dumps([cursor.created_at, cursor.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> JobCursor:
    """A cursor from the ``cursor`` query parameter, or a 400 saying it is not one."""
    bad = HTTPException(
        400, f"bad cursor {text[:40]!r}: follow the page's Older link, or drop cursor= for the newest"
    )
    if len(text) > 400:
        raise bad
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int | float)
        or isinstance(value[0], bool)
        or not isinstance(value[1], str)
        or not valid_id(value[1])
    ):
        raise bad
    return JobCursor(float(value[0]), value[1])


class JobFilters:
    """The jobs list's filters from the query string (400 for values that are not statuses or routes)."""

    def __init__(self, request: Request) -> None:
        q = request.query_params
        self.statuses = [s for s in q.getlist("status") if s]
        known = {s.value for s in JobStatus}
        for s in self.statuses:
            if s not in known:
                raise HTTPException(400, f"unknown status {s[:40]!r}: use one of {', '.join(sorted(known))}")
        self.job = q.get("job") or None
        if self.job is not None and len(self.job) > 200:
            raise HTTPException(400, "the job name filter is too long (at most 200 characters)")
        self.route = q.get("route") or None
        routes = {r.value for r in Route}
        if self.route is not None and self.route not in routes:
            raise HTTPException(
                400, f"unknown route {self.route[:40]!r}: use one of {', '.join(sorted(routes))}"
            )
        raw = q.get("cursor")
        self.cursor = decode_cursor(raw) if raw else None

    @property
    def filtered(self) -> bool:
        return bool(self.statuses or self.job or self.route)

    def query(self, **extra: str) -> str:
        pairs = [("status", s) for s in self.statuses]
        if self.job:
            pairs.append(("job", self.job))
        if self.route:
            pairs.append(("route", self.route))
        pairs += list(extra.items())
        return urlencode(pairs)

    async def page(self, dashboard: Dashboard) -> tuple[list[JobRecord], dict[JobStatus, int]]:
        store = dashboard.source.store
        statuses = [JobStatus(s) for s in self.statuses] or None
        records = await store.find_jobs(
            statuses=statuses, job_name=self.job, route=self.route, before=self.cursor, limit=PAGE_SIZE
        )
        counts = await store.count_jobs(job_name=self.job, route=self.route)
        return records, counts


def _fragments(
    dashboard: Dashboard,
    request: Request,
    f: JobFilters,
    records: list[JobRecord],
    counts: dict[JobStatus, int],
) -> dict[str, str]:
    """The rows and the counts of a jobs page, as HTML (the page and its live stream send the same)."""
    now = dashboard.source.clock.time()
    rows = dashboard.fragment(
        "_rows.html", request, rows=[job_row(r, now) for r in records], filtered=f.filtered
    )
    others = urlencode([(k, v) for k, v in (("job", f.job), ("route", f.route)) if v])
    count_html = dashboard.fragment(
        "_counts.html",
        request,
        counts=[(s.value, counts[s]) for s in JobStatus],
        chosen=f.statuses,
        keep=f"&{others}" if others else "",
    )
    return {"rows": rows, "counts": count_html}


async def jobs_page(request: Request) -> Response:
    dashboard = dashboard_of(request)
    f = JobFilters(request)
    records, counts = await f.page(dashboard)
    parts = _fragments(dashboard, request, f, records, counts)
    next_cursor = encode_cursor(JobCursor.after(records[-1])) if len(records) == PAGE_SIZE else None
    extra = {"cursor": request.query_params["cursor"]} if f.cursor else {}
    live = f"{dashboard.base(request)}/live/jobs?{f.query(**extra)}"
    orc = dashboard.source.orc
    return dashboard.page(
        "jobs.html",
        request,
        title="Jobs",
        nav="Jobs",
        rows_html=parts["rows"],
        counts_html=parts["counts"],
        statuses=[s.value for s in JobStatus],
        routes=[r.value for r in Route],
        chosen=f.statuses,
        job=f.job,
        route=f.route,
        job_names=sorted(orc.jobs) if orc is not None else [],
        filtered=f.filtered,
        cursor=f.cursor,
        next_cursor=next_cursor,
        first_query=f.query(),
        next_query=f.query(cursor=next_cursor) if next_cursor else "",
        live_url=live,
    )


async def jobs_live(request: Request) -> Response:
    dashboard = dashboard_of(request)
    f = JobFilters(request)
    dashboard.source.store  # noqa: B018  (503 before the stream starts)

    async def stream() -> AsyncIterator[str]:
        last: dict[str, str] | None = None
        while True:
            records, counts = await f.page(dashboard)
            parts = _fragments(dashboard, request, f, records, counts)
            if parts != last:
                last = parts
                yield sse("jobs", parts)
            await anyio.sleep(dashboard.poll)  # real time: other replicas write on the wall clock

    return sse_response(stream())


async def _record(dashboard: Dashboard, job_id: str) -> JobRecord:
    if not valid_id(job_id):
        raise HTTPException(
            400, f"{job_id[:60]!r} is not a job id: ids are letters, digits and _.:- (job_...)"
        )
    record = await dashboard.source.store.get_job(job_id)
    if record is None:
        raise HTTPException(
            404, f"no job {job_id!r} in this store: it may have been pruned, or it belongs to another store"
        )
    return record


def _status(dashboard: Dashboard, request: Request, record: JobRecord) -> dict[str, Any]:
    detail = job_detail(record, dashboard.source, dashboard.source.clock.time())
    return {
        "status": record.status.value,
        "outcome": dashboard.fragment("_outcome.html", request, outcome=detail.outcome),
    }


async def job_page(request: Request) -> Response:
    dashboard = dashboard_of(request)
    record = await _record(dashboard, request.path_params["job_id"])
    detail = job_detail(record, dashboard.source, dashboard.source.clock.time())
    return dashboard.page(
        "job.html",
        request,
        title=f"{record.job_name} {record.id}",
        nav="Jobs",
        d=detail,
        outcome=detail.outcome,
        marks=CEILING_MARKS,
        live_url=f"{dashboard.base(request)}/live/jobs/{record.id}",
    )


async def job_events(request: Request) -> Response:
    dashboard = dashboard_of(request)
    record = await _record(dashboard, request.path_params["job_id"])
    since = since_of(request)
    stream = timeline(
        dashboard.source,
        record,
        since,
        tick=dashboard.tick,
        render_row=lambda line: dashboard.fragment("_line.html", request, e=line),
        render_status=lambda current: _status(dashboard, request, current),
    )
    return sse_response(stream)


async def plans_page(request: Request) -> Response:
    dashboard = dashboard_of(request)
    plans = await load_plans(dashboard.source.store, dashboard.source.clock.time())
    return dashboard.page("plans.html", request, title="Plans", nav="Plans", plans=plans)


async def schedules_page(request: Request) -> Response:
    dashboard = dashboard_of(request)
    schedules = await load_schedules(dashboard.source, dashboard.source.clock.time())
    return dashboard.page(
        "schedules.html",
        request,
        title="Schedules",
        nav="Schedules",
        schedules=schedules,
        declared=dashboard.source.orc is not None and bool(dashboard.source.orc.jobs),
        declared_hint=_DECLARED_HINT,
    )


def _fmt(value: timedelta | None) -> str:
    return "-" if value is None else format_duration(value)


async def routing_page(request: Request) -> Response:
    dashboard = dashboard_of(request)
    orc = dashboard.source.orc
    report = orc.routing_report() if orc is not None else None
    rows = list(report.rows) if report is not None else []
    return dashboard.page(
        "routing.html",
        request,
        title="Routing",
        nav="Routing",
        chart=routing_chart(report) if report is not None else "",
        rows=rows,
        fmt=_fmt,
        ceiling=format_duration(ceiling_of(dashboard.source)),
        declared=orc is not None,
        declared_hint=_DECLARED_HINT,
    )
