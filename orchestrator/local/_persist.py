"""State persistence (``--state FILE``): every record in one SQLite table, written behind by a flusher task.

Besides the records it keeps what a retried client relies on across a restart: the dispatch dedup memory
(a dispatch retried with the same ``channelId`` after a restart does not run twice) and the channel
histories (a subscriber with ``historyLength`` gets the replay it would have got), each frame appended as it
is kept and trimmed to the channel's history limit.

Changes are collected as they happen (the last write of a record wins) and written in one transaction as soon
as the flusher runs, so a burst of changes is one commit; the platform flushes once more when it stops.
Records are JSON, exactly as the API returns them. stdlib ``sqlite3`` is used on the event loop: the writes
are small, local and batched, and a thread would hide work from a ``VirtualClock``'s autojump.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from ._channels import HISTORY_TTL
from ._state import KINDS, Change, State
from ._wire import Frame

if TYPE_CHECKING:
    from ._channels import ChannelHub
    from ._dispatches import Dispatches

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
CREATE TABLE IF NOT EXISTS dedupe (channel TEXT PRIMARY KEY, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS channels (
    channel TEXT PRIMARY KEY,
    last_publish REAL NOT NULL,
    history_limit INTEGER NOT NULL,
    next_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS frames (
    channel TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at INTEGER,
    PRIMARY KEY (channel, seq)
);
"""


class SqliteState:
    """Reads a :class:`State` back from ``path`` and keeps the file up to date with its changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._pending: dict[tuple[str, str], Change] = {}
        self._state: State | None = None
        self._dirty: anyio.Event | None = None
        self._frames: list[tuple[str, int, Frame]] = []
        self._channels: dict[str, tuple[float, int]] = {}  # touched channel -> (last publish, history limit)
        self._next_seq: dict[str, int] = {}
        self._dedupe: dict[str, float] = {}

    def attach(self, hub: ChannelHub, dispatches: Dispatches, *, now: float) -> None:
        """Restore the channel histories and the dispatch dedup memory, then keep the file up to date."""
        assert self._conn is not None, "open() first"
        conn = self._conn
        conn.execute("DELETE FROM dedupe WHERE until < ?", (now,))
        dispatches.restore(dict(conn.execute("SELECT channel, until FROM dedupe").fetchall()))
        for channel, last, limit, next_seq in conn.execute(
            "SELECT channel, last_publish, history_limit, next_seq FROM channels"
        ).fetchall():
            self._next_seq[channel] = next_seq
            if now - last > HISTORY_TTL:
                continue
            rows = conn.execute(
                "SELECT type, data, created_at FROM frames WHERE channel = ? ORDER BY seq", (channel,)
            ).fetchall()
            frames = [Frame.encoded(kind, bytes(data), created) for kind, data, created in rows]
            hub.restore(channel, frames, last_publish=last, history_limit=limit)
        conn.commit()
        hub.on_keep = self._keep
        dispatches.on_seen = self._seen

    def _keep(self, channel: str, frame: Frame, now: float, history_limit: int) -> None:
        seq = self._next_seq.get(channel, 0)
        self._next_seq[channel] = seq + 1
        self._frames.append((channel, seq, frame))
        self._channels[channel] = (now, history_limit)
        self._wake()

    def _seen(self, channel: str, until: float) -> None:
        self._dedupe[channel] = until
        self._wake()

    def _wake(self) -> None:
        if self._dirty is not None:
            self._dirty.set()

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
        self._wake()

    @property
    def dirty(self) -> bool:
        return bool(self._pending or self._frames or self._dedupe)

    def flush(self) -> None:
        """Write every pending change now, in one transaction."""
        if self._conn is None or not self.dirty:
            return
        self._flush_channels(self._conn)
        if not self._pending:
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

    def _flush_channels(self, conn: sqlite3.Connection) -> None:
        frames, self._frames = self._frames, []
        channels, self._channels = self._channels, {}
        dedupe, self._dedupe = self._dedupe, {}
        with conn:
            conn.executemany(
                "INSERT OR REPLACE INTO frames (channel, seq, type, data, created_at) VALUES (?, ?, ?, ?, ?)",
                [(c, seq, f.type, f.data_json, f.created_at) for c, seq, f in frames],
            )
            for channel, (last, limit) in channels.items():
                next_seq = self._next_seq.get(channel, 0)
                conn.execute(
                    "INSERT OR REPLACE INTO channels (channel, last_publish, history_limit, next_seq) "
                    "VALUES (?, ?, ?, ?)",
                    (channel, last, limit, next_seq),
                )
                conn.execute("DELETE FROM frames WHERE channel = ? AND seq < ?", (channel, next_seq - limit))
            conn.executemany("INSERT OR REPLACE INTO dedupe (channel, until) VALUES (?, ?)", dedupe.items())

    async def run(self) -> None:
        """Flush whenever something changed, until cancelled."""
        while True:
            self._dirty = anyio.Event()
            if self.dirty:
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
