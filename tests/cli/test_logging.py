"""Logging: the CLI configures structlog and stdlib logging (console or JSON); the library never does."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from orchestrator import Prompt
from orchestrator.cli._logging import configure_logging
from orchestrator.testing import Harness

from .conftest import Invoke


def test_json_lines_carry_the_bound_keys() -> None:
    """JSON format writes one object per line with event, level, logger, timestamp and the bound keys."""
    out = io.StringIO()
    configure_logging(fmt="json", level="info", stream=out)
    structlog.get_logger("orchestrator").bind(job_id="job_1", route="dispatch").info(
        "job started", channel_id="c1"
    )
    (line,) = out.getvalue().splitlines()
    data = json.loads(line)
    assert data["event"] == "job started"
    assert data["level"] == "info"
    assert data["logger"] == "orchestrator"
    assert (data["job_id"], data["route"], data["channel_id"]) == ("job_1", "dispatch", "c1")
    assert data["timestamp"].endswith("Z")


def test_console_format_and_level_filter() -> None:
    """Console format is one readable line per event; events under the level are dropped."""
    out = io.StringIO()
    configure_logging(fmt="console", level="warning", stream=out)
    log = structlog.get_logger("orchestrator")
    log.info("hidden", job_id="job_0")
    log.warning("routing advice", job_id="job_2", task_id="t9")
    text = out.getvalue()
    assert "hidden" not in text
    assert "routing advice" in text and "job_id=job_2" in text and "task_id=t9" in text
    assert "\x1b[" not in text  # no colours off a terminal


def test_stdlib_records_share_the_format() -> None:
    """Records of stdlib loggers (uvicorn's) come out in the same format, and a second call replaces the first."""
    out = io.StringIO()
    configure_logging(fmt="console", level="info", stream=out)
    configure_logging(fmt="json", level="info", stream=out)
    logging.getLogger("uvicorn.error").warning("port in use: %s", 8787)
    (line,) = out.getvalue().splitlines()
    data = json.loads(line)
    assert data["event"] == "port in use: 8787"
    assert data["logger"] == "uvicorn.error"
    assert sum(1 for h in logging.getLogger().handlers if h.get_name() == "orchestrator-cli") == 1


def test_bad_arguments_are_refused() -> None:
    """An unknown format or level is a ValueError naming the choices."""
    with pytest.raises(ValueError, match="console, json"):
        configure_logging(fmt="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="debug, info, warning, error"):
        configure_logging(level="loud")


def test_cli_options_configure_logging(invoke: Invoke) -> None:
    """--log-format json --log-level info on the command configure structlog through stdlib at INFO."""
    result = invoke(
        ["--log-format", "json", "--log-level", "info", "routes", "tests.cli.routes_app:orc", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert structlog.is_configured()
    assert logging.getLogger().level == logging.INFO
    bad = invoke(["--log-format", "xml", "routes", "x:y"])
    assert bad.exit_code == 2


async def test_library_binds_the_ids_of_each_job(
    harness: Harness, log_events: list[dict[str, object]]
) -> None:
    """Running jobs logs events bound with job_id and route (and the channel_id of a dispatch)."""
    orc = harness.orchestrator()

    @orc.job(runtime="2m")
    def triage() -> str:
        return "hi"

    @orc.job(runtime="1h", cancellable=True)
    def analyse() -> Prompt:
        return Prompt(text="[[sleep 1m]]", backstory="b")

    async with orc:
        await triage.run()
        await analyse.run()
    assert any({"job_id", "route", "channel_id"} <= set(e) and e["channel_id"] for e in log_events)
    assert any(e.get("route") == "task" and e.get("job_id") for e in log_events)


async def test_library_never_configures_structlog(harness: Harness) -> None:
    """Declaring, starting and finishing jobs leaves structlog unconfigured (the application decides)."""
    structlog.reset_defaults()
    orc = harness.orchestrator()

    @orc.job(runtime="2m")
    def triage() -> str:
        return "hi"

    async with orc:
        await triage.run()
    assert not structlog.is_configured()
