"""A named lock shared by every process (and every store object) using one SQLite database.

Why an OS file lock rather than a row in a ``locks`` table: the kernel drops an ``flock`` when its holder's
file is closed, including when the process dies, so a crash can never leave a lock behind, and no expiry,
heartbeat or clock agreement between processes is needed (a table row needs all three, and an expiry that
passes while the holder still works breaks mutual exclusion). ``flock`` locks belong to an open file, not to a
process, so two store objects in one process exclude each other too. Each name gets its own file (named by a
hash of the name) in a ``<database>-locks`` directory next to the database; lock files are never deleted
(deleting a lock file races with a process about to lock it).

Waiting is non-blocking attempts retried on the clock (5 ms, doubling up to ``retry_max``), so a waiter can be
cancelled at any time and never ties up a thread. Needs POSIX ``fcntl.flock`` (Linux, macOS, BSD).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from .._clock import Clock
from .._errors import ConfigurationError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["file_lock", "lock_path"]


def lock_path(directory: Path, name: str) -> Path:
    """The lock file for ``name`` in ``directory`` (any name maps to a safe file name)."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:40]
    return directory / f"{digest}.lock"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.asynccontextmanager
async def file_lock(
    path: Path,
    *,
    clock: Clock,
    retry_max: float,
    errors: Callable[[str], contextlib.AbstractContextManager[None]],
) -> AsyncIterator[None]:
    """Hold an exclusive ``flock`` on ``path`` for the duration of the block.

    Args:
        path: the lock file (created if missing, with its directory).
        clock: the clock to wait on between attempts.
        retry_max: the longest wait between two attempts, in seconds.
        errors: turns ``OSError`` into the store's error, given what was being done.
    """
    if fcntl is None:  # pragma: no cover - Windows
        raise ConfigurationError(
            "the SQLite store's lock() needs POSIX file locks (fcntl.flock), which this platform lacks; "
            "use PostgreSQL (postgresql://...) for a shared store here"
        )
    with errors(f"opening the lock file {path}"):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        delay = 0.005
        while True:
            with errors(f"locking {path}"):
                if _try_lock(fd):
                    break
            await clock.sleep(delay)
            delay = min(delay * 2, retry_max)
        yield
    finally:
        os.close(fd)  # closing the file drops the lock
