"""``orchestrator platform serve``: the runner function in-process, and the command as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.local import LocalPlatform
from orchestrator.local._serve import serve, token_hint

from ._util import ask


async def _serve_once(**kwargs: Any) -> tuple[list[str], str]:
    lines: list[str] = []
    answer = ""
    ready = anyio.Event()
    platforms: list[LocalPlatform] = []

    def started(platform: LocalPlatform) -> None:
        platforms.append(platform)
        ready.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(
            partial(serve, port=0, echo=lines.append, started=started, handle_signals=False, **kwargs)
        )
        await ready.wait()
        platform = platforms[0]
        async with platform.client() as client:
            answer = (await client.conversations.complete(ask("served"))).text
        tg.cancel_scope.cancel()
    return lines, answer


async def test_serve_prints_url_and_generated_token() -> None:
    """With no token, serve generates one and prints it once, with the base URL."""
    lines, answer = await _serve_once()
    assert answer == "Done: served"
    assert lines[0].startswith("Local platform serving at http://127.0.0.1:")
    assert lines[1].startswith("Token (generated, shown once): ")


async def test_serve_never_prints_a_given_token(tmp_path: Path) -> None:
    """A token given by the user appears only as a hint; time scale and state file are reported."""
    token = "my-secret-token-123456"
    lines, _ = await _serve_once(token=token, time_scale=60.0, state_path=tmp_path / "s.db")
    output = "\n".join(lines)
    assert token not in output
    assert token_hint(token) in output
    assert "Clock: virtual, 60x real time" in output
    assert (tmp_path / "s.db").exists()


async def test_serve_again_after_a_cancelled_serve_answers_requests() -> None:
    """A second serve() in the event loop of a cancelled first one answers requests (the listener is released)."""
    for attempt in ("first", "second", "third"):
        with anyio.fail_after(10):  # the bug: a later server's requests hang forever
            _, answer = await _serve_once(time_scale=60.0)
        assert answer == "Done: served", attempt


def test_cli_group_lists_platform_serve() -> None:
    """``orchestrator platform serve --help`` documents the options."""
    result = CliRunner().invoke(main, ["platform", "serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--token", "--time-scale", "--state", "--ceiling-kill"):
        assert option in result.output


@pytest.mark.slow
def test_cli_serves_until_interrupted(tmp_path: Path) -> None:
    """The command serves on the printed URL with the given token and stops cleanly on SIGINT."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-m",
        "orchestrator.cli",
        "platform",
        "serve",
        "--port",
        "0",
        "--token",
        "t" * 24,
    ]
    process = subprocess.Popen(
        [*command, "--state", str(tmp_path / "state.db")], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.split(" at ")[1].split(" ")[0]
        response = httpx.post(
            url + "/api/v1/conversation/complete",
            json=ask("cli"),
            headers={"authorization": "Bearer " + "t" * 24},
        )
        assert response.json()["text"] == "Done: cli"
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=10)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert "t" * 24 not in first + rest
    assert "Local platform stopped." in rest
