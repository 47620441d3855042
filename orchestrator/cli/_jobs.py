"""``orchestrator jobs list|show|watch|cancel``: the jobs of any store, read (and cancelled) from outside the app.

Each command is a thin click wrapper over an async function that takes an open :class:`JobStore` and a rich
:class:`Console`, so that tests (and other tools) can run them against the store of a live orchestrator.

Longer than 300 lines because it holds the whole ``jobs`` command group (four commands and their shared options);
each command is a short wrapper, and splitting them would scatter the shared options.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..jobs import EventType
from ..platform import DEFAULT_BASE_URL, PlatformClient
from ..store import JobRecord, JobStatus, JobStore, iterate_events
from ._common import (
    CliError,
    RefusedError,
    echo_json,
    fmt_duration,
    fmt_time,
    make_console,
    opened_store,
    record_duration,
    run_async,
    store_option,
)
from ._params import encodable
from ._render import event_line, record_dict, record_summary, status_style

__all__ = ["cancel_job", "jobs", "list_jobs", "show_job", "watch_job"]

ClientFactory = Callable[[], PlatformClient]


async def _get(store: JobStore, job_id: str) -> JobRecord:
    record = await store.get_job(job_id)
    if record is None:
        raise CliError(
            f"no job {job_id!r} in the store {store.url}: check the id with `orchestrator jobs list`"
        )
    return record


async def list_jobs(
    store: JobStore,
    console: Console,
    *,
    statuses: Sequence[JobStatus] = (),
    job_name: str | None = None,
    limit: int = 50,
    as_json: bool = False,
) -> list[JobRecord]:
    """Print the newest jobs (a table, or a JSON array with ``as_json``); returns them."""
    records = await store.list_jobs(statuses=list(statuses) or None, job_name=job_name, limit=limit)
    if as_json:
        echo_json([record_summary(r) for r in records])
        return records
    if not records:
        console.print(f"No jobs in {store.url}" + (" matching the filters." if statuses or job_name else "."))
        return records
    table = Table(
        title=f"Jobs in {store.url} (newest first)",
        title_justify="left",
        box=None,
        padding=(0, 1, 0, 0),
        header_style="bold underline",
    )
    table.add_column("id", no_wrap=True)
    table.add_column("job", overflow="fold")
    table.add_column("route")
    table.add_column("status")
    table.add_column("created UTC", no_wrap=True)
    table.add_column("duration", justify="right")
    for r in records:
        table.add_row(
            r.id,
            r.job_name,
            r.route,
            Text(r.status.value, style=status_style(r.status)),
            fmt_time(r.created_at)[5:16],
            fmt_duration(record_duration(r)),
        )
    console.print(table)
    return records


async def show_job(store: JobStore, console: Console, job_id: str, *, as_json: bool = False) -> JobRecord:
    """Print one job: its record, its result or error, and how many events its log holds."""
    record = await _get(store, job_id)
    count = len(await store.events(job_id))
    if as_json:
        echo_json({**record_dict(record), "duration": record_duration(record), "event_count": count})
        return record
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("id", record.id)
    grid.add_row("job", record.job_name)
    grid.add_row("route", record.route)
    grid.add_row("status", Text(record.status.value, style=status_style(record.status)))
    grid.add_row("created", fmt_time(record.created_at) + " UTC")
    grid.add_row("started", fmt_time(record.started_at))
    grid.add_row("finished", fmt_time(record.finished_at))
    grid.add_row("duration", fmt_duration(record_duration(record)))
    if record.deadline is not None:
        grid.add_row("ceiling at", fmt_time(record.deadline))
    for key in ("channel_id", "conversation_id", "task_id", "execution_id", "attempt"):
        value = record.state.get(key)
        if value is not None:
            grid.add_row(key.replace("_", " "), str(value))
    if record.state.get("cancel_requested"):
        grid.add_row("cancel", "requested")
    if record.parent_id:
        grid.add_row("parent", record.parent_id)
    result, error = record.result or {}, record.error or {}
    if result:
        grid.add_row("result", Text(str(result.get("text") or result.get("summary") or "")))
    if error:
        grid.add_row("error", Text(str(error.get("reason") or error)))
        if error.get("partial_output"):
            grid.add_row("partial output", Text(str(error["partial_output"])))
    grid.add_row("events", f"{count} (orchestrator jobs watch {record.id})")
    console.print(grid)
    return record


async def watch_job(store: JobStore, console: Console, job_id: str, *, since: int = 0) -> JobStatus:
    """Print a job's event log from ``since``, then follow it live until the job ends; returns its status.

    Token events are written inline, as the text they stream.
    """
    await _get(store, job_id)
    in_tokens = False
    async for event in iterate_events(store, job_id, since=since):
        if event.type == EventType.TOKEN:
            if not in_tokens:
                head = f"#{event.seq:<4} {fmt_time(event.created_at)[11:]}  {'tokens':<22} "
                console.out(head, end="", highlight=False)
                in_tokens = True
            console.out(str(event.data.get("token", "")), end="", highlight=False)
            continue
        if in_tokens:
            console.out("", highlight=False)
            in_tokens = False
        console.out(event_line(event), highlight=False)
    if in_tokens:
        console.out("", highlight=False)
    record = await _get(store, job_id)
    console.print(
        Text.assemble(f"job {record.id} ended ", (record.status.value, status_style(record.status)))
    )
    return record.status


async def cancel_job(store: JobStore, console: Console, job_id: str, *, client: ClientFactory) -> None:
    """Cancel a task job the way ``JobHandle.cancel()`` does: record the request, then cancel the platform run.

    The orchestrator supervising the job sees the cancelled execution and ends the job ``cancelled``.

    Raises:
        CliError: unknown id (exit 1); a dispatch or completion, which the platform cannot cancel (exit 2).
    """
    record = await _get(store, job_id)
    if not record.runs_as_task:
        raise RefusedError(
            f"job {record.job_name!r} ({job_id}) runs as a {record.route}, which the platform cannot cancel once "
            "started. Declare it with cancellable=True (or a runtime over the dispatch budget) so that it runs "
            "as a task"
        )
    if record.status.terminal:
        console.print(f"job {job_id} already ended {record.status.value}: nothing to cancel.")
        return
    await store.update_job(job_id, state={"cancel_requested": True})
    await store.append_event(job_id, EventType.CANCEL_REQUESTED, {}, key="cancel")
    task_id = record.state.get("task_id")
    if not task_id:
        if record.status is JobStatus.PENDING:
            reason = {"reason": "cancelled before it started"}
            await store.append_event(job_id, EventType.CANCELLED, reason, key="terminal")
            await store.finish_job(job_id, JobStatus.CANCELLED, error=reason)
            console.print(f"job {job_id} was cancelled before it started.")
        else:
            console.print(f"cancel requested for job {job_id}; it is stopped as soon as its task exists.")
        return
    execution_id = record.state.get("execution_id")
    async with client() as platform:
        if execution_id:
            await platform.tasks.cancel_execution(str(task_id), str(execution_id))
        else:
            await platform.tasks.cancel(str(task_id))
    console.print(
        f"cancel requested for job {job_id} (task {task_id}): the platform is stopping the run. "
        f"Follow it with `orchestrator jobs watch {job_id}`."
    )


# -- click ---------------------------------------------------------------------------------------------------------


@click.group("jobs")
def jobs() -> None:
    """List, inspect, follow and cancel jobs in a store."""


@jobs.command("list")
@store_option
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in JobStatus]),
    help="Only jobs with this status (repeatable).",
)
@click.option(
    "--job", "job_name", default=None, metavar="NAME", callback=encodable, help="Only runs of this job."
)
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, 10_000), help="At most N jobs."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_command(
    store_url: str, statuses: tuple[str, ...], job_name: str | None, limit: int, as_json: bool
) -> None:
    """The newest jobs: id, job, route, status, created, duration."""

    async def go() -> None:
        async with opened_store(store_url) as store:
            await list_jobs(
                store,
                make_console(wide=True),
                statuses=[JobStatus(s) for s in statuses],
                job_name=job_name,
                limit=limit,
                as_json=as_json,
            )

    run_async(go)


@jobs.command("show")
@click.argument("job_id", metavar="ID", callback=encodable)
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
def show_command(job_id: str, store_url: str, as_json: bool) -> None:
    """One job: its record, result or error, and its event count."""

    async def go() -> None:
        async with opened_store(store_url) as store:
            await show_job(store, make_console(wide=True), job_id, as_json=as_json)

    run_async(go)


@jobs.command("watch")
@click.argument("job_id", metavar="ID", callback=encodable)
@store_option
@click.option(
    "--since", default=0, show_default=True, type=click.IntRange(min=0), help="Start after event N."
)
@click.option("--exit-status", is_flag=True, help="Exit 1 unless the job succeeded.")
def watch_command(job_id: str, store_url: str, since: int, exit_status: bool) -> None:
    """Print a job's event log, then follow it live until the job ends (tokens inline)."""

    async def go() -> JobStatus:
        async with opened_store(store_url) as store:
            return await watch_job(store, make_console(wide=True), job_id, since=since)

    status = run_async(go)
    if exit_status and status is not JobStatus.SUCCEEDED:
        raise SystemExit(1)


@jobs.command("cancel")
@click.argument("job_id", metavar="ID", callback=encodable)
@store_option
@click.option(
    "--platform-url",
    envvar="CHATBOTKIT_BASE_URL",
    default=DEFAULT_BASE_URL,
    show_default=True,
    metavar="URL",
    help="The platform the job runs on (env CHATBOTKIT_BASE_URL).",
)
@click.option(
    "--token",
    envvar="CHATBOTKIT_API_TOKEN",
    default=None,
    metavar="TOKEN",
    help="The platform's API token (env CHATBOTKIT_API_TOKEN).",
)
def cancel_command(job_id: str, store_url: str, platform_url: str, token: str | None) -> None:
    """Cancel a task job on the platform (dispatches and completions cannot be cancelled: exit 2)."""

    def client() -> PlatformClient:
        if not token:
            raise CliError(
                "cancelling a task needs the platform's API token: pass --token or set CHATBOTKIT_API_TOKEN "
                "(and --platform-url / CHATBOTKIT_BASE_URL for a local platform)"
            )
        return PlatformClient(platform_url, token)

    async def go() -> None:
        async with opened_store(store_url) as store:
            await cancel_job(store, make_console(wide=True), job_id, client=client)

    run_async(go)
