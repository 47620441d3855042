"""The official Node SDK (``@chatbotkit/sdk`` 1.36.0, tests/node) drives the local platform over loopback.

Each test serves a :class:`LocalPlatform` on a virtual clock and runs one scenario of tests/node/sdk_check.mjs
with ``node``, which prints a JSON report of what the SDK got back: bots, conversations (complete, stream, send,
receive, messages), dispatch and channel subscribe, tasks and executions, the workflow stream, the event log
and the exports, a failing stateful complete under both failure statuses, and ``x-timezone``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator import VirtualClock
from orchestrator.local import LocalPlatform

from .conftest import hosted

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SCRIPT = NODE_DIR / "sdk_check.mjs"


async def _run(platform: LocalPlatform, scenario: str, **env: str) -> Any:
    return await _run_at(platform.base_url, platform.token, scenario, **env)


async def _run_at(base_url: str, token: str, scenario: str, **env: str) -> Any:
    node = shutil.which("node")
    assert node is not None, "node (>= 20) is needed for the Node SDK tests"
    assert (NODE_DIR / "node_modules" / "@chatbotkit" / "sdk").is_dir(), (
        "run `make test` (npm ci in tests/node)"
    )
    process = await asyncio.create_subprocess_exec(
        node,
        str(SCRIPT),
        scenario,
        cwd=NODE_DIR,
        env={"SECRET": token, "BASE_URL": base_url, "PATH": "/usr/bin:/bin", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    answer = json.loads(stdout)
    assert answer["ok"], answer
    return answer["report"]


async def _scenario(scenario: str, **platform_kwargs: Any) -> Any:
    async with hosted(LocalPlatform(clock=VirtualClock(), **platform_kwargs)) as platform:
        return await _run(platform, scenario)


async def test_bots_crud_through_the_node_sdk() -> None:
    """bot.create/fetch/update/list (JSON and stream)/delete work, and fetching a deleted bot is NOT_FOUND."""
    report = await _scenario("bots")
    assert report["fetched"]["id"] == report["id"]
    assert report["fetched"]["meta"] == {"from": "sdk"}
    assert [b["name"] for b in report["listed"]["items"]] == ["renamed"]
    assert [(i["type"], i["data"]["id"]) for i in report["streamed"]] == [("item", report["id"])]
    assert report["deleted"] == {"id": report["id"]}
    assert report["gone"]["error"]["code"] == "NOT_FOUND"


async def test_conversations_through_the_node_sdk() -> None:
    """Stateless and stateful complete, a completion stream, send, receive and message.list as the SDK reads them."""
    report = await _scenario("conversations")
    assert report["stateless"]["text"] == "alpha bravo Done: hello"
    assert report["stateless"]["end"] == {"reason": "stop"}
    types = [item["type"] for item in report["stream"]]
    assert types[0] == "completeBegin" and types[-1] == "result"
    assert all(isinstance(item["createdAt"], int) for item in report["stream"])
    assert report["stateful"]["text"] == "Done: first"
    assert {"id", "entities"} <= report["sent"].keys()
    assert report["received"]["text"] == "Done: second"
    texts = [(m["type"], m["text"]) for m in report["messages"]["items"]]
    assert texts == [("user", "first"), ("bot", "Done: first"), ("user", "second"), ("bot", "Done: second")]


async def test_dispatch_and_channel_subscribe_through_the_node_sdk() -> None:
    """A dispatch with a channelId dedupes a second one; channel.subscribe replays nop, then message items."""
    report = await _scenario("dispatch")
    assert report["first"] == report["again"]
    items = report["items"]
    assert items[0] == {"type": "nop", "data": {}}
    assert {i["type"] for i in items[1:]} == {"message"}
    assert items[-1]["data"]["type"] == "result"
    assert items[-1]["data"]["data"]["text"] == "alpha bravo Done: dispatched"


async def test_tasks_executions_event_log_and_exports_through_the_node_sdk() -> None:
    """Task create/trigger/fetch, execution.list, task.export, event.log list/export/subscribe as the SDK sees them."""
    report = await _scenario("tasks")
    assert report["triggered"] == {"id": report["id"]}
    (execution,) = report["executions"]["items"]
    assert (execution["status"], execution["outcome"], execution["summary"]) == (
        "idle",
        "success",
        "Done: sum up",
    )
    assert report["task"]["outcome"] == "success"
    (exported,) = report["exported"]
    assert exported["type"] == "item" and exported["data"]["id"] == report["id"]
    assert "status" not in exported["data"]
    for items in (
        report["events"]["items"],
        report["exportedEvents"]["items"],
        [i["data"] for i in report["pushed"]],
    ):
        assert [e["type"] for e in items] == ["task.interact", "task.interact.completed"]
        assert all({"id", "type", "createdAt", "updatedAt"} <= e.keys() for e in items)
    assert [i["type"] for i in report["pushed"]] == ["item", "item"]


async def test_task_subscribe_through_the_node_sdk_has_no_leading_nop() -> None:
    """task.subscribe's first item is the run's workflow error (with createdAt), not a nop."""
    report = await _scenario("workflow")
    (first,) = report["items"]
    assert first["type"] == "error"
    assert isinstance(first["createdAt"], int)


@pytest.mark.parametrize("status", [200, 500])
async def test_a_failing_stateful_complete_is_harmless_under_node_sdk_retries(status: int) -> None:
    """A failing stateful complete appends its user message once, whether the SDK retries it (500) or not (200)."""
    report = await _scenario("failing", failure_status=status)
    outcome = report["outcome"]
    if status == 200:
        assert outcome["value"] == {"message": "tool broke", "code": "INTERNAL_SERVER_ERROR"}
    else:
        assert outcome["error"] == {"message": "tool broke", "code": "INTERNAL_SERVER_ERROR"}
    assert [m["type"] for m in report["messages"]["items"]] == ["user"]


async def _served(state: Path, **env: str) -> Any:
    """One ``orchestrator platform serve --state FILE`` process (stopped with SIGINT) and one SDK scenario."""
    token = "node-sdk-token-" + "x" * 16
    command = [sys.executable, "-m", "orchestrator.cli", "platform", "serve", "--port", "0", "--token", token]
    server = await asyncio.create_subprocess_exec(
        *command,
        "--state",
        str(state),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        first = (await server.stdout.readline()).decode()
        url = first.split(" at ")[1].split(" ")[0]
        report = await _run_at(url, token, "redispatch", **env)
        server.send_signal(signal.SIGINT)
        rest = (await server.stdout.read()).decode()
        assert await server.wait() == 0
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
    assert "Local platform stopped." in rest
    return report


@pytest.mark.slow
async def test_a_dispatch_retried_by_the_node_sdk_across_a_serve_restart_runs_once(tmp_path: Path) -> None:
    """With --state, a dispatch retried with its channelId after `platform serve` restarts (a new process) is not
    run again, and the SDK's subscribe with historyLength replays the run it would have got."""
    state = tmp_path / "platform.sqlite3"
    channel = "node-sdk-restart-" + "0" * 16
    before = await _served(state, CHANNEL=channel, TEXT="first [[tokens 2]]")
    after = await _served(state, CHANNEL=channel, TEXT="second")
    assert before["first"] == after["first"] == {"channelId": channel}
    assert after["items"] == before["items"]
    assert before["items"][-1]["data"]["data"]["text"] == "alpha bravo Done: first"


async def test_the_node_sdk_timezone_option_reaches_the_agent() -> None:
    """The SDK's timezone option (x-timezone) makes the planner plan in that timezone."""
    async with hosted(LocalPlatform(clock=VirtualClock())) as platform:
        report = await _run(platform, "timezone", TIMEZONE="America/New_York")
    (task,) = json.loads(report["text"])["tasks"]
    assert (task["schedule"], task["timezone"]) == ("daily", "America/New_York")
