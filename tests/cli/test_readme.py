"""The README's commands and code run as written, so that it cannot rot."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from orchestrator.testing import Harness

from .conftest import Invoke

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def code_block(after_heading: str, language: str = "python") -> str:
    """The first ``language`` code block after the heading ``after_heading``."""
    start = README.index(after_heading)
    match = re.search(rf"```{language}\n(.*?)```", README[start:], re.S)
    assert match is not None, f"no {language} block after {after_heading!r}"
    return match.group(1)


def test_starts_with_the_two_commands() -> None:
    """The first code block is `make demo` and `make test`, and the Makefile has both targets."""
    first = re.search(r"```(\w*)\n(.*?)```", README, re.S)
    assert first is not None
    commands = [line.split("#")[0].strip() for line in first.group(2).splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "\ndemo: " in makefile and "$(BIN)/orchestrator demo" in makefile
    assert "\ntest: " in makefile


def test_quickstart_runs_as_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], invoke: Invoke
) -> None:
    """The quickstart (at most 15 lines) runs on the embedded local platform, and `jobs list` then shows its job."""
    code = code_block("## Quickstart")
    assert len(code.strip().splitlines()) <= 15
    monkeypatch.delenv("CHATBOTKIT_API_TOKEN", raising=False)
    monkeypatch.delenv("ORCHESTRATOR_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md#quickstart", "exec"), {"__name__": "__main__"})
    printed = capsys.readouterr().out.splitlines()  # with structlog unconfigured, its events are printed too
    assert "dispatch Done: Triage this ticket: T-1: the export button does nothing" in printed
    listed = invoke(["jobs", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [(j["job_name"], j["route"], j["status"]) for j in json.loads(listed.stdout)] == [
        ("triage", "dispatch", "succeeded")
    ]


async def test_testing_example_passes(harness: Harness) -> None:
    """The example test in "Testing your own jobs" passes on the harness."""
    namespace: dict[str, Any] = {"__name__": "readme_testing"}
    exec(compile(code_block("## Testing your own jobs"), "README.md#testing", "exec"), namespace)
    test: Callable[[Harness], Coroutine[Any, Any, None]] = namespace[
        "test_digest_finishes_before_the_ceiling"
    ]
    await test(harness)


def test_every_example_is_linked() -> None:
    """Each example in examples/ is linked from the README."""
    for path in sorted((ROOT / "examples").glob("*.py")):
        assert f"](examples/{path.name})" in README, f"examples/{path.name} is not linked from the README"


def test_cli_section_lists_every_command(invoke: Invoke) -> None:
    """Every command of `orchestrator --help` appears in the README's command-line section."""
    section = README[README.index("## The command line") : README.index("## Examples")]
    listed = invoke(["--help"]).stdout
    commands = re.findall(r"^  (\w+)\s", listed[listed.index("Commands:") :], re.M)
    assert sorted(commands) == ["dashboard", "demo", "jobs", "platform", "routes"]
    for command in commands:
        assert f"orchestrator {command}" in section
