"""State persistence (``--state FILE``): every record in one SQLite table, written behind by a flusher task.

Changes are collected as they happen (the last write of a record wins) and written in one transaction as soon
as the flusher runs, so a burst of changes is one commit; the platform flushes once more when it stops.
Records are JSON, exactly as the API returns them. stdlib ``sqlite3`` is used on the event loop: the writes
are small, local and batched, and a thread would hide work from a ``VirtualClock``'s autojump.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import anyio

from ._state import KINDS, Change, State

__all__ = ["SqliteState"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    parent TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class SqliteState:
    """Reads a :class:`State` back from ``path`` and keeps the file up to date with its changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._pending: dict[tuple[str, str], Change] = {}
        self._state: State | None = None
        self._dirty: anyio.Event | None = None

    def open(self, state: State) -> None:
        """Open (or create) the file, load every record into ``state`` and start tracking its changes."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            row = conn.execute("SELECT value FROM settings WHERE key = 'seq'").fetchone()
            state.ids.seq = max(state.ids.seq, int(row[0]) if row else 0)
            order = {kind: i for i, kind in enumerate(KINDS)}
            rows = conn.execute("SELECT kind, parent, data FROM records ORDER BY id").fetchall()
        except sqlite3.Error as exc:
            conn.close()
            raise OSError(f"cannot use {self.path} as the platform state file: {exc}") from exc
        for kind, parent, data in sorted(rows, key=lambda r: order.get(r[0], len(order))):
            if kind in order:
                state.load(kind, parent, json.loads(data))
        self._conn = conn
        self._state = state
        state.listeners.append(self._record)

    def _record(self, change: Change) -> None:
        self._pending[(change.kind, change.id)] = change
        if self._dirty is not None:
            self._dirty.set()

    def flush(self) -> None:
        """Write every pending change now, in one transaction."""
        if self._conn is None or not self._pending:
            return
        changes = list(self._pending.values())
        self._pending.clear()
        upserts = [(c.kind, c.id, c.parent, json.dumps(c.record)) for c in changes if c.record is not None]
        deletes = [(c.kind, c.id) for c in changes if c.record is None]
        seq = self._state.ids.seq if self._state is not None else 0
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO records (kind, id, parent, data) VALUES (?, ?, ?, ?)", upserts
            )
            self._conn.executemany("DELETE FROM records WHERE kind = ? AND id = ?", deletes)
            self._conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('seq', ?)", (str(seq),))

    async def run(self) -> None:
        """Flush whenever something changed, until cancelled."""
        while True:
            self._dirty = anyio.Event()
            if self._pending:
                self.flush()
                continue
            await self._dirty.wait()

    def close(self) -> None:
        """Flush and close the file."""
        if self._conn is None:
            return
        try:
            self.flush()
        finally:
            if self._state is not None and self._record in self._state.listeners:
                self._state.listeners.remove(self._record)
            self._conn.close()
            self._conn = None
