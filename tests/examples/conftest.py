"""The examples run against the local platform in tests, whatever the environment says."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def local_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real platform credentials, store or admin token leak in from the environment."""
    for name in ("CHATBOTKIT_API_TOKEN", "CHATBOTKIT_BASE_URL", "ORCHESTRATOR_STORE", "ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def quiet_logs(log_events: list[dict[str, object]]) -> list[dict[str, object]]:
    """Log events are captured (not printed), so that stdout holds what the examples print."""
    return log_events
