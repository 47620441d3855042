"""The ``orchestrator`` CLI fuzzed with click's CliRunner: every command and option, hostile values, unknown
options, missing values. A bad argument is a clean usage error (exit 2, the option named) or a clear error
(exit 1); never a traceback, and never a store password in the output.

No long-running server starts: where valid arguments would serve (``platform serve``, ``dashboard``, ``demo``),
the serving step is replaced by a marker exception, so every check before it runs for real. No network leaves
loopback: PostgreSQL store URLs point at a closed loopback port, and no platform token is ever set.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.cli import main

from . import _hostile as hostile
from ._tally import broken, tried

PASSWORD = "pw-Cli9-hunter2"


class Served(Exception):
    """Raised where the command would start serving: its arguments were all accepted."""


async def _no_serve(**kwargs: Any) -> None:
    raise Served


class _NoDashboard:
    """Stands for ``serve_dashboard(app, host=, port=)``: entering it is where the dashboard would serve."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        self.app = app

    async def __aenter__(self) -> str:
        raise Served

    async def __aexit__(self, *exc: object) -> None:
        return None


def _no_demo(fn: Any) -> Any:
    raise Served


@contextlib.contextmanager
def _no_servers() -> Iterator[None]:
    with (
        mock.patch("orchestrator.cli._platform.serve", _no_serve),
        mock.patch("orchestrator.cli._dashboard.serve_dashboard", _NoDashboard),
        mock.patch("orchestrator.cli._demo_view.run_async", _no_demo),
    ):
        yield


_bad_text = st.one_of(
    hostile.hostile_text.filter(lambda t: len(t) < 200), st.sampled_from(["", " ", "-", "--"])
)
_numbers = st.sampled_from(
    ["-1", "0", "1", "65535", "65536", "1e400", "nan", "inf", "-inf", "0.5", "1_000", "0x10"]
)
_any_value = st.one_of(_numbers, _bad_text)
_stores = st.one_of(
    st.sampled_from(
        [
            "memory://",
            "memory://x",
            "sqlite:///missing.sqlite3",
            "sqlite:///empty.sqlite3",
            "sqlite://host/x.db",
            f"postgresql://u:{PASSWORD}@127.0.0.1:1/db",
            f"postgresql://u:{PASSWORD}@127.0.0.1:1/db?schema=1bad",
            f"sqlite://u:{PASSWORD}@h/x",
            f"mysql://u:{PASSWORD}@127.0.0.1/db",
            "nope",
        ]
    ),
    _bad_text,
)
_ids = st.one_of(st.sampled_from(["job_0123456789abcdef01234567", "job_x", ""]), _bad_text)

# each command: its words, positional argument values, and options (None: a flag) with their value strategies
_STORE = {"--store": _stores}
COMMANDS: dict[
    str, tuple[list[str], list[st.SearchStrategy[str]], dict[str, st.SearchStrategy[str] | None]]
] = {
    "jobs list": (
        ["jobs", "list"],
        [],
        {
            **_STORE,
            "--status": st.one_of(st.sampled_from(["pending", "succeeded", "PENDING", "done"]), _bad_text),
            "--job": _bad_text,
            "--limit": _numbers,
            "--json": None,
        },
    ),
    "jobs show": (["jobs", "show"], [_ids], {**_STORE, "--json": None}),
    "jobs watch": (["jobs", "watch"], [_ids], {**_STORE, "--since": _numbers, "--exit-status": None}),
    "jobs cancel": (
        ["jobs", "cancel"],
        [_ids],
        {
            **_STORE,
            "--platform-url": st.sampled_from(["http://127.0.0.1:1", "nope", ""]),
            "--token": _bad_text,
        },
    ),
    "routes": (
        ["routes"],
        [
            st.one_of(
                st.sampled_from(
                    ["", ":", "a:b:c", "tests.cli.routes_app:nothing", "tests.cli.routes_broken:app"]
                ),
                # never a module that exists: importing a random name could run anything
                st.builds(lambda m, a: f"zz_fuzz_{m}:{a}", _bad_text, _bad_text),
            )
        ],
        {"--json": None, "--store": _stores},
    ),
    "platform serve": (
        ["platform", "serve"],
        [],
        {
            "--host": st.one_of(
                st.sampled_from(["127.0.0.1", "localhost", "::1"]), st.sampled_from(["", " "])
            ),
            "--port": st.one_of(st.just("0"), _numbers),
            "--token": st.one_of(st.just("tok-12345678"), st.sampled_from(["", " "])),
            "--time-scale": _numbers,
            "--state": st.sampled_from(["/", ".", "state.sqlite3", "/proc/none/x", ""]),
            "--ceiling-kill": st.one_of(st.sampled_from(["silent", "error", "loud"]), _bad_text),
            "--ceiling": _numbers,
        },
    ),
    "dashboard": (
        ["dashboard"],
        [],
        {
            **_STORE,
            "--host": st.one_of(st.sampled_from(["127.0.0.1", "localhost"]), st.sampled_from(["", " "])),
            "--port": st.one_of(st.just("0"), _numbers),
            "--token": st.one_of(st.sampled_from(["short", "long-enough-token"]), _bad_text),
            "--platform-url": st.sampled_from(["http://127.0.0.1:1", "nope"]),
        },
    ),
    "demo": (
        ["demo"],
        [],
        {
            "--json": None,
            "--time-scale": _numbers,
            "--instant": None,
            "--dashboard": None,
            "--dashboard-port": _numbers,
        },
    ),
}
_GLOBAL: dict[str, st.SearchStrategy[str]] = {
    "--log-format": st.sampled_from(["console", "json", "xml", ""]),
    "--log-level": st.sampled_from(["debug", "warning", "loud", ""]),
}


@st.composite
def invocations(draw: st.DrawFn, name: str) -> list[str]:
    words, positionals, options = COMMANDS[name]
    args: list[str] = []
    for option in draw(st.lists(st.sampled_from(sorted(_GLOBAL)), max_size=2)):
        args += [option, draw(_GLOBAL[option])]
    args += words
    for strategy in positionals:
        if draw(st.integers(0, 9)):  # sometimes missing
            args.append(draw(strategy))
    for option in draw(st.lists(st.sampled_from(sorted(options)), max_size=4)):
        values = options[option]
        args.append(option)
        if values is not None:
            args.append(draw(values))
    extra = draw(st.sampled_from([[], [], [], ["--nope"], ["extra"], ["--store"], ["--help"]]))
    return args + extra


def _classify(name: str, args: list[str], result: Result) -> None:
    surface = f"CLI: {name}"
    output = result.output
    problems = []
    if result.exception is not None and not isinstance(result.exception, SystemExit | Served):
        problems.append(f"raised {type(result.exception).__name__}: {result.exception!r}"[:200])
    if "Traceback" in output:
        problems.append("printed a traceback")
    if PASSWORD in output and "unexpected extra argument" not in output:
        # (click quotes a stray argument back as typed: after `--`, a --store URL is no store URL)
        problems.append("printed the store password")
    if result.exit_code == 2 and not isinstance(result.exception, Served):
        if "Error:" not in output:
            problems.append(f"exit 2 without an error message: {output[-200:]!r}")
        elif "Invalid value for" in output and "'--" not in output and "'" not in output:
            problems.append(f"a usage error that names no option: {output[-200:]!r}")
    if result.exit_code == 1 and not isinstance(result.exception, Served) and not output.strip():
        problems.append("exit 1 with nothing said")
    if result.exit_code not in (0, 1, 2):
        problems.append(f"exit status {result.exit_code}")
    if problems:
        broken(surface, f"{args!r}: {'; '.join(problems)}")
        raise AssertionError(f"orchestrator {args!r}: {'; '.join(problems)}\n{output[-2000:]}")
    tried(surface, refused=result.exit_code != 0 and not isinstance(result.exception, Served))


def invoke(args: list[str]) -> Result:
    """Run the CLI in a fresh temporary directory, without servers, platform credentials or a store from env."""
    runner = CliRunner(
        env={
            "ORCHESTRATOR_STORE": None,
            "CHATBOTKIT_API_TOKEN": None,
            "CHATBOTKIT_BASE_URL": None,
            "ORCHESTRATOR_DASHBOARD_TOKEN": None,
            "ORCHESTRATOR_LOG_FORMAT": None,
            "ORCHESTRATOR_LOG_LEVEL": None,
        }
    )
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp), _no_servers():
        with open("empty.sqlite3", "wb"):
            pass
        return runner.invoke(main, args, catch_exceptions=True)


@pytest.mark.parametrize("name", sorted(COMMANDS))
@given(data=st.data())
def test_cli_arguments_are_accepted_or_refused_cleanly(name: str, data: st.DataObject) -> None:
    """Any arguments to a command end in a usage error naming the option, a clear error, or a run; no traceback."""
    args = data.draw(invocations(name))
    _classify(name, args, invoke(args))


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["platform", "serve", "--ceiling", "inf"], "--ceiling"),  # was an OverflowError traceback
        (["platform", "serve", "--ceiling", "nan"], "--ceiling"),  # was a ValueError traceback
        (["platform", "serve", "--ceiling", "1e400"], "--ceiling"),
        (["platform", "serve", "--time-scale", "nan"], "--time-scale"),  # was accepted: a NaN clock
        (["platform", "serve", "--time-scale", "inf"], "--time-scale"),
        (["demo", "--time-scale", "nan"], "--time-scale"),
        (["platform", "serve", "--host", ""], "--host"),  # was accepted: every interface
        (["platform", "serve", "--token", " "], "--token"),
        (["dashboard", "--host", " "], "--host"),
        (["jobs", "show", "\ud800", "--store", "sqlite:///empty.sqlite3"], "ID"),  # was a UnicodeEncodeError
        (["jobs", "list", "--job", "a\udfffb", "--store", "memory://"], "--job"),
    ],
)
def test_bad_cli_values_found_by_the_fuzz_are_usage_errors_naming_the_option(
    args: list[str], option: str
) -> None:
    """Values the fuzz found accepted or crashing (inf, nan, blank, unencodable) end in exit 2 naming the option."""
    result = invoke(args)
    assert not isinstance(result.exception, Served)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output
    _classify(" ".join(args[:2] if args[0] in ("jobs", "platform") else args[:1]), args, result)
