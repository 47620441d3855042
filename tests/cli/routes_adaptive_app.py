"""An application with adaptive routing and ceiling policies, for ``orchestrator routes --store`` tests."""

from __future__ import annotations

from orchestrator import Orchestrator, RoutingPolicy

orc = Orchestrator(store="memory://", environ={}, routing=RoutingPolicy(adaptive=True, adaptive_window=3))


@orc.job(runtime="5m")
def research(topic: str) -> str:
    """A dispatch that adaptive routing may move."""
    return f"Research {topic}"


@orc.job(runtime="10m", on_ceiling="continue", max_continuations=2)
def digest() -> str:
    """Continued past the ceiling."""
    return "Write the digest"
