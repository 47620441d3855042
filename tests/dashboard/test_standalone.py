"""`orchestrator dashboard` on a store (read-only, or acting through the platform) and `demo --dashboard`."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from click.testing import CliRunner

from orchestrator import JobStatus, Orchestrator, VirtualClock
from orchestrator.cli import main
from orchestrator.cli._dashboard import run_dashboard
from orchestrator.cli._demo import Demo
from orchestrator.cli._demo_view import demo_dashboard

from ._support import csrf_of
from .conftest import TOKEN, Env, analyse, running, triage

BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def _until(env: Env, job_id: str, status: JobStatus) -> None:
    handle = env.orc.get_handle(job_id)
    while await handle.status() is not status:
        await env.orc.clock.sleep(1)


async def test_read_only_dashboard_serves_a_store_and_refuses_actions(tmp_path: Path) -> None:
    """Without a platform token the dashboard shows the store's jobs and answers actions 409 saying why."""
    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    lines: list[str] = []
    seen: dict[str, httpx.Response] = {}
    async with running(store=url) as e:
        handle = await analyse.start("Analyse [[sleep 1h]]")
        done = await triage.start("Triage [[sleep 1m]]")
        await e.drive(_until(e, done.id, JobStatus.SUCCEEDED))

        async def ready(base: str) -> None:
            async with httpx.AsyncClient(base_url=base, headers=BEARER) as client:
                seen["list"] = await client.get("/")
                seen["job"] = await client.get(f"/jobs/{handle.id}")
                csrf = await csrf_of(client, f"/jobs/{handle.id}")
                seen["cancel"] = await client.post(f"/jobs/{handle.id}/cancel", data={"csrf": csrf})
                seen["schedules"] = await client.get("/schedules")

        await run_dashboard(store_url=url, port=0, token=TOKEN, echo=lines.append, ready=ready)
        assert await handle.status() is JobStatus.RUNNING
    assert handle.id in seen["list"].text and done.id in seen["list"].text
    assert "Read-only" in seen["list"].text
    assert seen["job"].status_code == 200 and 'id="cancel"' not in seen["job"].text
    assert seen["cancel"].status_code == 409 and "CHATBOTKIT_API_TOKEN" in seen["cancel"].text
    assert "Schedules are declarations of the application" in seen["schedules"].text
    assert re.match(r"Dashboard at http://127\.0\.0\.1:\d+/ on the store sqlite:///.*\(read-only", lines[0])
    assert lines[1].startswith("Open http://127.0.0.1:") and lines[1].endswith("/?token=<the --token value>")


async def test_standalone_dashboard_with_the_platform_cancels_a_task(tmp_path: Path) -> None:
    """With the platform token the standalone dashboard opens an orchestrator on the store and its Cancel works."""
    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    lines: list[str] = []
    async with running(store=url) as e:
        handle = await analyse.start("Analyse [[sleep 1h]]")
        await e.clock.advance(60)

        async def ready(base: str) -> None:
            async with httpx.AsyncClient(base_url=base) as client:
                login = await client.get(f"/jobs/{handle.id}?token={TOKEN}")
                assert login.status_code == 303 and login.headers["location"] == f"/jobs/{handle.id}"
                assert TOKEN not in str(client.cookies.get("orc_dash"))
                page = await client.get(f"/jobs/{handle.id}")
                assert 'id="cancel"' in page.text and "Read-only" not in page.text
                csrf = await csrf_of(client, f"/jobs/{handle.id}")
                cancelled = await client.post(f"/jobs/{handle.id}/cancel", data={"csrf": csrf})
                assert cancelled.status_code == 303
            await e.drive(_until(e, handle.id, JobStatus.CANCELLED))

        await run_dashboard(
            store_url=url,
            port=0,
            token=TOKEN,
            platform_url=e.platform.base_url,
            platform_token=e.platform.token,
            clock=e.clock,
            echo=lines.append,
            ready=ready,
        )
        assert await handle.status() is JobStatus.CANCELLED
    assert "acting through the platform at http://127.0.0.1:" in lines[0]
    assert all(e.platform.token not in line for line in lines)


def test_dashboard_command_needs_an_existing_store_and_a_long_token(tmp_path: Path) -> None:
    """`orchestrator dashboard` on a missing SQLite file, or with a short token, exits 1 saying what is wrong."""
    missing = CliRunner().invoke(main, ["dashboard", "--store", f"sqlite:///{tmp_path / 'nope.sqlite3'}"])
    short = CliRunner().invoke(main, ["dashboard", "--store", "memory://", "--token", "abc"])
    assert missing.exit_code == 1 and "no job store at" in missing.output
    assert short.exit_code == 1 and "at least 8 characters" in short.output


async def test_demo_serves_the_dashboard_beside_its_jobs() -> None:
    """`demo --dashboard` serves the dashboard on the demo's orchestrator while its jobs run."""
    lines: list[str] = []
    pages: dict[str, httpx.Response] = {}

    @asynccontextmanager
    async def beside(orc: Orchestrator) -> AsyncIterator[str]:
        async with demo_dashboard(port=0, echo=lines.append)(orc) as url:
            yield url
            token = lines[0].rsplit("?token=", 1)[1]
            async with httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {token}"}
            ) as client:
                pages["jobs"] = await client.get("/")
                pages["plans"] = await client.get("/plans")
                pages["schedules"] = await client.get("/schedules")

    report = await Demo(VirtualClock(start=datetime(2026, 3, 23, tzinfo=UTC)), beside=beside).run()
    assert report.ok
    assert lines[0].startswith("Dashboard beside the demo: http://127.0.0.1:")
    assert "ceiling_exceeded" in pages["jobs"].text and "cancelled" in pages["jobs"].text
    assert pages["plans"].status_code == 200 and "<h1>Plans</h1>" in pages["plans"].text
    assert "nightly" in pages["schedules"].text


def test_demo_dashboard_flag_prints_the_url_on_stderr() -> None:
    """`orchestrator demo --instant --json --dashboard --dashboard-port 0` keeps stdout one JSON document."""
    result = CliRunner().invoke(main, ["demo", "--instant", "--json", "--dashboard", "--dashboard-port", "0"])
    assert result.exit_code == 0, result.output
    assert "Dashboard beside the demo: http://127.0.0.1:" in result.stderr
    assert json.loads(result.stdout)["ok"] is True
