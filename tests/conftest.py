"""Shared pytest configuration."""

pytest_plugins = ["orchestrator.testing.fixtures"]
