"""The demo's terminal view (a rich ``Live`` frame per refresh, then a summary table) and the ``demo`` command."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
import click
from rich import box
from rich.console import Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .._clock import VirtualClock
from .._orchestrator import Orchestrator
from ..dashboard import dashboard_app, serve_dashboard
from ..jobs import format_duration
from ._common import echo_json, fmt_duration, make_console, run_async
from ._demo import DEFAULT_TIME_SCALE, Demo
from ._demo_values import DemoReport, DemoRow
from ._params import FiniteFloatRange
from ._render import excerpt, status_style

__all__ = ["demo", "render_frame", "render_summary"]

_BAR_WIDTH = 20
_NARROW_BAR_WIDTH = 16
_WIDE = 140  # terminal columns from which the live view is one table
_ROUTE_STYLES = {"complete": "bold blue", "dispatch": "bold yellow", "task": "bold green"}


def _status(row: DemoRow) -> Text:
    style = "dim" if row.status in ("waiting", "unavailable") else status_style(row.status)
    return Text(row.status, style=style)


def _route(row: DemoRow) -> Text:
    text = Text(row.route.value, style=_ROUTE_STYLES.get(row.route.value, "bold"))
    text.append("\n" + row.reason, style="dim")
    return text


def _bar(row: DemoRow, now: float, *, width: int = _BAR_WIDTH) -> RenderableType:
    elapsed = row.elapsed(now)
    if row.skipped or elapsed is None:
        return Text("")
    style = status_style(row.status) if row.done else "cyan"
    return ProgressBar(
        total=row.bound,
        completed=min(elapsed, row.bound),
        width=width,
        complete_style=style,
        finished_style="red" if elapsed > row.bound else style,
    )


def _clock_text(row: DemoRow, now: float, *, one_line: bool = False) -> Text:
    elapsed = row.elapsed(now)
    if row.skipped or elapsed is None:
        return Text("-", style="dim")
    text = Text(
        f"{fmt_duration(elapsed)} / {format_duration(row.bound)}", style="red" if elapsed > row.bound else ""
    )
    text.append((" " if one_line else "\n") + row.bound_label, style="dim")
    return text


def _result(row: DemoRow) -> Text:
    running = not row.done and row.text
    shown = (
        "…" + " ".join(row.text.split())[-70:] if running and len(row.text) > 70 else excerpt(row.text, 90)
    )
    text = Text(shown)
    if row.note:
        text.append(("\n" if shown else "") + row.note, style="dim")
    return text


def _notes(demo_notes: list[tuple[float, str]]) -> Text:
    text = Text()
    for at, line in demo_notes:
        minutes, seconds = divmod(int(at), 60)
        text.append(f"+{minutes:02d}:{seconds:02d}  ", style="dim")
        text.append(line + "\n")
    return text


def _header(demo: Demo, now: float) -> Text:
    start = demo.started_at or now
    scale = demo.clock.time_scale
    return Text.assemble(
        ("orchestrator demo", "bold"),
        " · local platform and orchestrator on one virtual clock"
        + (f", {scale:g}x real time" if scale else ", autojump"),
        "\nplatform time ",
        (demo.clock.now().strftime("%a %H:%M:%S UTC"), "bold"),
        f"  (+{format_duration(now - start)})",
    )


def _wide_table(demo: Demo, now: float) -> Table:
    table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False)
    table.add_column("job", no_wrap=True, min_width=18)
    table.add_column("route · why", ratio=3)
    table.add_column("status", no_wrap=True, min_width=16)
    table.add_column("progress", no_wrap=True, width=_BAR_WIDTH)
    table.add_column("elapsed / bound", no_wrap=True, min_width=15)
    table.add_column("result", ratio=3)
    for row in demo.rows:
        table.add_row(
            Text.assemble((row.title, "bold"), "\n", (row.job_name, "dim")),
            _route(row),
            _status(row),
            _bar(row, now),
            _clock_text(row, now),
            _result(row),
        )
    return table


def _cards(demo: Demo, now: float) -> Group:
    """A narrow terminal's layout: a line per job (name, route, status, bar), then why, time and result."""
    cards: list[RenderableType] = []
    for row in demo.rows:
        head = Table.grid(padding=(0, 1))
        for width in (18, 8, 16, _NARROW_BAR_WIDTH):
            head.add_column(no_wrap=True, width=width)
        head.add_row(
            Text(row.title, style="bold"),
            Text(row.route.value, style=_ROUTE_STYLES.get(row.route.value, "bold")),
            _status(row),
            _bar(row, now, width=_NARROW_BAR_WIDTH),
        )
        details = Text("  why: " + row.reason, style="dim")
        clock = _clock_text(row, now, one_line=True)
        if clock.plain != "-":
            details.append("\n  ")
            details.append(clock)
        for line in _result(row).split("\n"):
            if line.plain:
                details.append("\n  ")
                details.append(line)
        cards.append(Group(head, details))
    return Group(*cards)


def render_frame(demo: Demo, width: int = 200) -> RenderableType:
    """One frame of the live view: the platform clock, each job, the operator's log (``width``: the terminal's)."""
    now = demo.clock.time()
    body = _wide_table(demo, now) if width >= _WIDE else _cards(demo, now)
    return Group(_header(demo, now), Text(""), body, Text(""), _notes(demo.notes))


def render_summary(report: DemoReport) -> RenderableType:
    """What is printed when the demo ends: each job's route, status against the expected one, duration, result."""
    table = Table(
        title="orchestrator demo: summary", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    table.add_column("job", no_wrap=True)
    table.add_column("route", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("expected", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    results = Table.grid(padding=(0, 2))
    results.add_column(no_wrap=True, style="bold")
    results.add_column()
    for row in report.rows:
        mark = (
            Text("skipped", style="yellow") if row.skipped else Text("✓" if row.ok else f"✗ {row.expected}")
        )
        if not row.skipped:
            mark.stylize("green" if row.ok else "bold red")
        table.add_row(
            Text(row.title, style="bold"),
            Text(row.route.value, style=_ROUTE_STYLES.get(row.route.value, "bold")),
            _status(row),
            mark,
            fmt_duration(row.duration),
        )
        text = Text(excerpt(row.text, 240))
        if row.note:
            text.append("\n" + row.note, style="dim")
        results.add_row(row.title, text)
    passed = sum(1 for r in report.rows if r.ok and not r.skipped)
    ran = sum(1 for r in report.rows if not r.skipped)
    scale = f", {report.time_scale:g}x" if report.time_scale else ""
    footer = Text(
        f"{passed} of {ran} jobs ended as expected in {format_duration(report.platform_seconds)} of platform time "
        f"({report.real_seconds:.1f} s real{scale}).",
        style="bold green" if report.ok else "bold red",
    )
    return Group(table, results, Text(""), _notes(report.notes), footer)


def demo_dashboard(
    *, port: int = 8788, linger: bool = False, echo: Callable[[str], None] | None = None
) -> Callable[[Orchestrator], AbstractAsyncContextManager[str]]:
    """What ``demo --dashboard`` runs beside the jobs: the dashboard on the demo's orchestrator, on 127.0.0.1.

    The URL (with its generated token) goes to stderr, so that ``--json`` output stays one document. With
    ``linger`` (an interactive terminal) the dashboard stays up after the jobs end, until Enter or Ctrl-C.
    """
    say = echo or (lambda line: click.echo(line, err=True))

    @asynccontextmanager
    async def beside(orc: Orchestrator) -> AsyncIterator[str]:
        app = dashboard_app(orc)
        async with serve_dashboard(app, port=port) as url:
            say(f"Dashboard beside the demo: {url}/?token={app.state.dashboard_token}")
            yield url
            if linger:
                say("The demo's jobs have ended; the dashboard stays up: press Enter (or Ctrl-C) to stop.")
                await anyio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)

    return beside


@click.command("demo")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document of results instead of the live view."
)
@click.option(
    "--time-scale",
    type=FiniteFloatRange(min=0, min_open=True),
    default=DEFAULT_TIME_SCALE,
    show_default=True,
    help="Run the shared virtual clock N times faster than real time (15 platform minutes take 900/N s).",
)
@click.option(
    "--instant",
    is_flag=True,
    help="Do not wait: jump the virtual clock whenever every job is waiting (about a second; for CI).",
)
@click.option("--dashboard", "with_dashboard", is_flag=True, help="Serve the web dashboard beside the demo.")
@click.option(
    "--dashboard-port",
    default=8788,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="The dashboard's port on 127.0.0.1 (0: a free one).",
)
def demo(as_json: bool, time_scale: float, instant: bool, with_dashboard: bool, dashboard_port: int) -> None:
    """Run the guide's worked examples as jobs on the local platform, with a live view (about 40 s)."""
    clock = VirtualClock() if instant else VirtualClock(time_scale=time_scale)
    beside = demo_dashboard(port=dashboard_port, linger=sys.stdin.isatty()) if with_dashboard else None
    scenario = Demo(clock, beside=beside)
    if as_json:
        report = run_async(scenario.run)
        echo_json(report.to_dict())
    else:
        console = make_console()
        with Live(
            console=console,
            get_renderable=lambda: render_frame(scenario, console.width),
            refresh_per_second=8,
            transient=True,
        ):
            report = run_async(scenario.run)
        console.print(render_summary(report))
    if not report.ok:
        raise SystemExit(1)
