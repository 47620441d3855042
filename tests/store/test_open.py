"""Choosing a store by URL: open_store, ORCHESTRATOR_STORE, the default, URL checks and password hygiene."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

import orchestrator.store
from orchestrator import ConfigurationError, StoreError, SystemClock, VirtualClock
from orchestrator.store import (
    DEFAULT_STORE_URL,
    JobStore,
    MemoryStore,
    PostgresStore,
    SQLiteStore,
    open_store,
)


def test_public_names() -> None:
    """orchestrator.store exports exactly its documented names, sorted (constants, classes, functions)."""

    def isort_style(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert orchestrator.store.__all__ == sorted(orchestrator.store.__all__, key=isort_style)
    assert set(orchestrator.store.__all__) == {
        "DEFAULT_STORE_URL",
        "ENV_VAR",
        "TERMINAL_STATUSES",
        "JobCursor",
        "JobEvent",
        "JobRecord",
        "JobStatus",
        "JobStore",
        "JobWatch",
        "MemoryStore",
        "PostgresStore",
        "SQLiteStore",
        "iterate_events",
        "open_store",
    }
    for name in orchestrator.store.__all__:
        assert getattr(orchestrator.store, name) is not None


def test_memory_url() -> None:
    """memory:// builds a MemoryStore on the given clock."""
    clock = VirtualClock()
    store = open_store("memory://", clock=clock)
    assert isinstance(store, MemoryStore)
    assert store.url == "memory://"
    assert store.clock is clock


def test_sqlite_relative_and_absolute_urls(tmp_path: Path) -> None:
    """sqlite:///rel is relative to the current directory, sqlite:////abs absolute; url is kept as given."""
    relative = open_store("sqlite:///data/jobs.sqlite3")
    assert isinstance(relative, SQLiteStore)
    assert relative.path == Path(os.getcwd()) / "data" / "jobs.sqlite3"
    assert relative.url == "sqlite:///data/jobs.sqlite3"
    absolute = open_store(f"sqlite:///{tmp_path}/jobs.sqlite3")
    assert isinstance(absolute, SQLiteStore)
    assert absolute.path == tmp_path / "jobs.sqlite3"
    assert absolute.url == f"sqlite:////{str(tmp_path).lstrip('/')}/jobs.sqlite3"
    assert isinstance(absolute.clock, SystemClock)


def test_default_and_environment() -> None:
    """No URL reads ORCHESTRATOR_STORE; without it (or when empty) the default SQLite file is used."""
    default = open_store(environ={})
    assert isinstance(default, SQLiteStore)
    assert default.url == DEFAULT_STORE_URL == "sqlite:///.orchestrator/jobs.sqlite3"
    assert default.path == Path(os.getcwd()) / ".orchestrator" / "jobs.sqlite3"
    assert isinstance(open_store(environ={"ORCHESTRATOR_STORE": ""}), SQLiteStore)
    assert isinstance(open_store(environ={"ORCHESTRATOR_STORE": "memory://"}), MemoryStore)
    from_env = open_store(environ={"ORCHESTRATOR_STORE": "postgres://u@db.internal:6543/jobs?schema=orc"})
    assert isinstance(from_env, PostgresStore)
    assert from_env.schema == "orc"
    assert from_env.url == "postgres://u@db.internal:6543/jobs?schema=orc"


def test_an_existing_store_is_returned_as_is() -> None:
    """open_store(store) hands back that very store."""
    store = MemoryStore()
    assert open_store(store) is store
    assert isinstance(store, JobStore)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "unknown store URL scheme 'mysql'"),
        ("jobs.sqlite3", "has no scheme"),
        ("memory://somewhere", "just memory://"),
        ("sqlite://host/jobs.sqlite3", "three slashes"),
        ("sqlite:///", "names no file"),
        ("sqlite:///jobs.sqlite3?mode=ro", "no query parameters"),
        ("sqlite:///:memory:", "needs a file path"),
        ("postgresql://u@h/db?schema=bad-name", "not a plain SQL identifier"),
    ],
)
def test_bad_urls_are_configuration_errors(url: str, message: str) -> None:
    """A malformed or unknown store URL raises ConfigurationError saying what is wrong."""
    with pytest.raises(ConfigurationError, match=message):
        open_store(url)


def test_unknown_scheme_lists_the_schemes() -> None:
    """The error for an unknown scheme names every scheme that exists."""
    with pytest.raises(ConfigurationError) as caught:
        open_store("redis://localhost")
    for scheme in ("memory://", "sqlite:///", "postgresql://", "postgres://"):
        assert scheme in str(caught.value)


def test_not_a_store() -> None:
    """Something that is neither a URL nor a store is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="URL string or a JobStore"):
        open_store(42)  # type: ignore[arg-type]


def test_password_never_in_url_or_repr() -> None:
    """The store's url and repr omit the password, whether in the user info or as a query parameter."""
    store = open_store("postgresql://alice:s3cr%40t@db:5432/jobs?schema=orc&password=hunter2&sslmode=disable")
    assert isinstance(store, PostgresStore)
    for text in (store.url, repr(store)):
        assert "s3cr" not in text
        assert "hunter2" not in text
    assert store.url == "postgresql://alice@db:5432/jobs?schema=orc&sslmode=disable"
    with pytest.raises(ConfigurationError) as caught:
        open_store("mysql://bob:pa55word@h/db")
    assert "pa55word" not in str(caught.value)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable_postgres_is_a_store_error() -> None:
    """PostgreSQL on a closed loopback port: StoreError naming host:port/db, without the password."""
    port = _closed_port()
    store = open_store(f"postgresql://alice:s3cret@127.0.0.1:{port}/test", clock=VirtualClock())
    with pytest.raises(StoreError) as caught:
        await store.open()
    message = str(caught.value)
    assert f"127.0.0.1:{port}/test" in message
    assert "Cannot connect to PostgreSQL" in message
    assert "s3cret" not in message
    assert isinstance(caught.value.__cause__, OSError)
    assert not store.is_open  # type: ignore[attr-defined]


async def test_missing_postgres_database_is_a_store_error(postgres_url: str) -> None:
    """A database that does not exist is a StoreError that says to create it."""
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_database_for_orchestrator"
    with pytest.raises(StoreError, match="createdb"):
        async with PostgresStore(url, clock=VirtualClock()):
            pass


async def test_unwritable_sqlite_path_is_a_store_error(tmp_path: Path) -> None:
    """A SQLite path whose directory cannot be created raises StoreError saying to check the directory."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    store = open_store(f"sqlite:///{blocker}/sub/jobs.sqlite3", clock=VirtualClock())
    with pytest.raises(StoreError, match="Check that the directory exists") as caught:
        await store.open()
    assert isinstance(caught.value.__cause__, OSError)


async def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    """Opening a file that is not SQLite raises StoreError saying to use another file."""
    path = tmp_path / "jobs.sqlite3"
    path.write_bytes(b"this is certainly not an sqlite database, just some bytes" * 100)
    with pytest.raises(StoreError, match="not a healthy SQLite database"):
        async with SQLiteStore(path, clock=VirtualClock()):
            pass
