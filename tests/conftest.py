"""Shared pytest configuration: the fixtures, the hypothesis profiles, and the whole-suite secrets check.

Every fixture-made local platform (``harness``, ``tests/local``'s ``platform``) uses :data:`SUITE_TOKEN`, a
distinctive API token. At the end of the session the suite is searched for it: every test's captured output
(stdout, stderr, log records) and failure text, and every file the suite leaves behind (pytest's temporary
directories, files written in the working tree). A hit fails the session, naming where the token was found.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from orchestrator import VirtualClock
from orchestrator.testing import Harness, local_harness

from ._token import SUITE_TOKEN

pytest_plugins = ["orchestrator.testing.fixtures"]

# The fuzz suites keep CI bounded: few examples per property by default, more with HYPOTHESIS_PROFILE=deep.
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]
settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=_SLOW_OK, derandomize=True
)
settings.register_profile("deep", max_examples=400, deadline=None, suppress_health_check=_SLOW_OK)
# finding failures fast, without shrinking them (HYPOTHESIS_PROFILE=explore)
settings.register_profile(
    "explore", max_examples=40, deadline=None, suppress_health_check=_SLOW_OK, phases=[Phase.generate]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
async def harness(virtual_clock: VirtualClock) -> AsyncIterator[Harness]:
    """A local platform on loopback sharing ``virtual_clock``, with the suite's distinctive token."""
    from orchestrator.testing.fixtures import hosted  # imported late: pytest registers the plugin first

    async for h in hosted(local_harness(clock=virtual_clock, token=SUITE_TOKEN)):
        yield h


class _SecretsCheck:
    """Collects every place :data:`SUITE_TOKEN` was seen during the session."""

    def __init__(self) -> None:
        self.started = time.time()
        self.sections = 0
        self.files = 0
        self.leaks: list[str] = []

    def scan_report(self, report: pytest.TestReport) -> None:
        for title, content in report.sections:
            self.sections += 1
            if SUITE_TOKEN in content:
                at = content.index(SUITE_TOKEN)
                context = content[max(0, at - 160) : at + 60].replace(SUITE_TOKEN, "<the token>")
                self.leaks.append(f"{report.nodeid}: {title}: ...{context!r}...")
        if report.longrepr is not None and SUITE_TOKEN in str(report.longrepr):
            self.leaks.append(f"{report.nodeid}: failure text")

    def scan_files(self, roots: list[Path]) -> None:
        needle = SUITE_TOKEN.encode()
        skip = {".git", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__", ".hypothesis"}
        for root in roots:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = [d for d in dirnames if d not in skip]
                for name in filenames:
                    path = Path(dirpath, name)
                    try:
                        if path.is_symlink() or path.stat().st_mtime < self.started - 1:
                            continue
                        data = path.read_bytes()
                    except OSError:
                        continue
                    self.files += 1
                    if needle in data and path.suffix != ".py":
                        self.leaks.append(f"file {path}")


_check = _SecretsCheck()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _check.scan_report(report)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    roots = [Path.cwd()]
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        roots.append(factory.getbasetemp())
    _check.scan_files(roots)
    if _check.leaks and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_sep("-", "secrets check")
    terminalreporter.write_line(
        f"the suite token was searched for in {_check.sections} captured output sections and "
        f"{_check.files} files left behind: {len(_check.leaks)} found"
    )
    for leak in _check.leaks:
        terminalreporter.write_line(f"  TOKEN FOUND: {leak}", red=True)
