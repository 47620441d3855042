"""``orchestrator demo``: the worked examples as jobs, on a virtual clock (autojump: about a second)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import anyio
import pytest
from rich.console import Console

from orchestrator import VirtualClock
from orchestrator.cli import _demo
from orchestrator.cli._demo import Demo
from orchestrator.cli._demo_view import render_frame, render_summary

from .conftest import Invoke

DEFAULT_START = datetime(2026, 3, 23, tzinfo=UTC)  # a Monday, midnight UTC: no schedule fires during the demo


def render(renderable: object, width: int = 180) -> str:
    out = io.StringIO()
    Console(file=out, width=width, highlight=False).print(renderable)
    return out.getvalue()


async def test_every_job_ends_as_the_scenario_expects() -> None:
    """Each job ends as expected: the ceiling one ceiling_exceeded, the cancelled one cancelled, the rest succeeded."""
    report = await Demo(VirtualClock(start=DEFAULT_START)).run()
    statuses = {row.title: row.status for row in report.rows}
    assert statuses == {
        "chat reply": "succeeded",
        "nightly summary": "succeeded",
        "document analysis": "cancelled",
        "triage": "succeeded",
        "research digest": "ceiling_exceeded",
        "research digest, continued": "succeeded",
        "planning": "succeeded",
    }
    assert report.ok
    rows = {row.title: row for row in report.rows}
    assert rows["research digest"].duration == pytest.approx(930, abs=5)  # 15 minutes + 30 s grace
    assert rows["research digest"].text.startswith("partial output: alpha")
    # the same work with on_ceiling="continue": two parts (15m + 30s grace, then 5m), one result
    continued = rows["research digest, continued"]
    assert continued.duration == pytest.approx(1230, abs=5)
    assert continued.text.startswith("alpha bravo") and "Done: Compile a research digest" in continued.text
    assert continued.note == "one result from 2 parts (usage summed)"
    assert (
        "on_ceiling='continue'" in continued.reason and "on_ceiling='fail'" in rows["research digest"].reason
    )
    assert rows["document analysis"].duration == pytest.approx(480, abs=5)  # cancelled 8 minutes in
    assert rows["nightly summary"].duration == pytest.approx(240, abs=5)
    assert rows["chat reply"].text.startswith("alpha bravo")
    assert [row.route.value for row in report.rows] == [
        "complete",
        "task",
        "task",
        "dispatch",
        "dispatch",
        "dispatch",
        "dispatch",
    ]
    assert any("operator cancels document_analysis" in text for _, text in report.notes)
    assert any("continued as part 2" in text for _, text in report.notes)
    assert 1230 <= report.platform_seconds < 1260


async def test_schedule_and_plan_are_reported() -> None:
    """The nightly summary's next run is 07:00 London on the next weekday; the plan schedules three tasks."""
    report = await Demo(VirtualClock(start=DEFAULT_START)).run()
    assert report.next_run is not None
    next_run = datetime.fromisoformat(report.next_run).astimezone(ZoneInfo("Europe/London"))
    assert (next_run.weekday(), next_run.hour, next_run.minute) == (0, 7, 0)  # Monday 2026-03-23, 07:00 GMT
    assert [t["schedule"] for t in report.plan_tasks] == ["0 8 * * 1", "0 18 * * *", "0 9 1 */3 *"]
    assert all(t["status"] == "scheduled" and t["next_run"] for t in report.plan_tasks)
    plan = next(row for row in report.rows if row.title == "planning")
    assert plan.text.startswith("3 of 3 tasks scheduled")
    assert plan.duration == pytest.approx(90, abs=5)  # the planner's [[sleep 90s]]


async def test_json_document_shape() -> None:
    """The JSON report names each job with its route, reasons, status, duration and a result excerpt."""
    report = await Demo(VirtualClock(start=DEFAULT_START)).run()
    data = json.loads(json.dumps(report.to_dict()))
    assert set(data) == {
        "ok",
        "time_scale",
        "platform_seconds",
        "real_seconds",
        "schedule",
        "jobs",
        "plan",
        "notes",
    }
    assert data["ok"] is True and data["time_scale"] is None
    assert data["schedule"]["cron"] == "0 7 * * 1-5"
    assert len(data["jobs"]) == 7
    for job in data["jobs"]:
        assert {"name", "route", "reason", "reasons", "status", "expected_status", "ok", "duration"} <= set(
            job
        )
        assert {"result_excerpt", "job_id", "bound", "bound_label"} <= set(job)
        assert job["reasons"] and job["status"] == job["expected_status"]
        assert len(job["result_excerpt"]) <= 160


async def test_live_frame_mid_run_and_summary() -> None:
    """Mid-run the frame (wide, or narrow) shows each job's time against its bound; the summary ticks every job."""
    clock = VirtualClock(start=DEFAULT_START)
    demo = Demo(clock)
    frames: list[str] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(demo.run)
        await clock.sleep(300)
        frames.append(render(render_frame(demo)))
        frames.append(render(render_frame(demo, 80), width=80))
    frame, narrow = frames
    assert "platform time Mon 00:05:00 UTC" in frame
    assert "running" in frame and "succeeded" in frame
    assert "5m / 15m" in frame  # the research digest against the ceiling
    assert "ceiling" in frame and "runtime" in frame
    assert "it must be cancellable" in frame
    assert "nightly_summary upserted as task" in frame
    assert "  why: it must be cancellable" in narrow and "  5m / 15m ceiling" in narrow
    assert max(len(line) for line in narrow.splitlines()) <= 80
    report_text = render(render_summary(await Demo(VirtualClock(start=DEFAULT_START)).run()))
    assert "7 of 7 jobs ended as expected" in report_text
    assert report_text.count("✓") == 7


def test_command_json(invoke: Invoke) -> None:
    """`orchestrator demo --instant --json` prints one JSON document and exits 0."""
    result = invoke(["demo", "--instant", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True
    assert [job["status"] for job in data["jobs"]] == [
        "succeeded", "succeeded", "cancelled", "succeeded", "ceiling_exceeded", "succeeded", "succeeded",
    ]  # fmt: skip


def test_command_prints_the_summary(invoke: Invoke) -> None:
    """Without --json the demo ends with its summary table."""
    result = invoke(["demo", "--instant"])
    assert result.exit_code == 0, result.output
    assert "orchestrator demo: summary" in result.stdout
    assert "7 of 7 jobs ended as expected" in result.stdout


def test_command_exits_1_when_a_job_ends_unexpectedly(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the operator comes too late to cancel the analysis, it succeeds, which the demo reports as a failure."""
    monkeypatch.setattr(_demo, "CANCEL_AFTER", timedelta(minutes=50))
    result = invoke(["demo", "--instant"])
    assert result.exit_code == 1
    assert "✗ cancelled" in result.stdout
    assert "6 of 7 jobs ended as expected" in result.stdout


def test_time_scale_must_be_positive(invoke: Invoke) -> None:
    """--time-scale 0 is refused by the option's range."""
    result = invoke(["demo", "--time-scale", "0"])
    assert result.exit_code == 2
    assert "time-scale" in result.stderr
