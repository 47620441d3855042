"""examples/plan_research.py runs end to end on the embedded local platform, on a virtual clock."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from orchestrator import VirtualClock

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plan_research.py"


def load_example() -> ModuleType:
    """Import the example script by path (examples/ is a folder of scripts, not a package)."""
    name = "examples_plan_research"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


async def test_plan_research_example(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], log_events: list[dict[str, object]]
) -> None:
    """The example plans three tasks (one refused), approves them, fans in two results and one next run."""
    for variable in ("CHATBOTKIT_API_TOKEN", "CHATBOTKIT_BASE_URL", "ORCHESTRATOR_STORE"):
        monkeypatch.delenv(variable, raising=False)
    example = load_example()
    result = await example.main(clock=VirtualClock())
    out = capsys.readouterr().out
    assert len(result.tasks) == 3 and {t.status for t in result.tasks} == {"scheduled"}
    assert len(result.results) == 2 and all(r.text for r in result.results.values())
    assert len(result.next_runs) == 1 and all(result.next_runs.values())
    assert [r.name for r in result.refused] == ["poll-the-eu-press-release-feed-for-new-recycling"]
    assert "review: 3 task(s) proposed" in out
    assert "runs as often as every 5m" in out
    assert "same request again: the same plan" in out and "3 tasks, none new" in out
