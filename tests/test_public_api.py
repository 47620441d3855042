"""The curated public surface: ``__all__`` lists exactly the public names, sorted, and each one imports."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "orchestrator",
    "orchestrator.platform",
    "orchestrator.store",
    "orchestrator.local",
    "orchestrator.jobs",
    "orchestrator.planning",
    "orchestrator.runtime",
    "orchestrator.supervise",
    "orchestrator.testing",
    "orchestrator.dashboard",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_complete(name: str) -> None:
    """Every public attribute is in ``__all__`` and every ``__all__`` entry exists (ruff RUF022 keeps it sorted)."""
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported))
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and not isinstance(v, type(importlib)) and n not in {"annotations"}
    }
    assert public == set(exported)


def test_design_contract_names() -> None:
    """The names the design promises import from where it says."""
    from orchestrator import (  # noqa: F401
        JobHandle,
        JobResult,
        JobStatus,
        Orchestrator,
        PlanPolicy,
        Prompt,
        Route,
        RoutingPolicy,
        SystemClock,
        VirtualClock,
    )
    from orchestrator.local import LocalPlatform  # noqa: F401
    from orchestrator.platform import PlatformClient  # noqa: F401


def test_error_tree_has_one_root() -> None:
    """Every exception the package exports derives from OrchestratorError."""
    import orchestrator

    for name in orchestrator.__all__:
        value = getattr(orchestrator, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert issubclass(value, orchestrator.OrchestratorError), name
