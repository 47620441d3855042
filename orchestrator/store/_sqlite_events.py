"""The SQLite store's batch of event appends: one ``BEGIN IMMEDIATE`` transaction per flush.

The transaction takes SQLite's write lock first, so nobody (no other task, no other process) appends between
reading each job's last seq and inserting after it: seqs stay gap-free across processes. Keys used already
(in the database, or earlier in the batch) get ``None`` and consume no seq; appends to an unknown job get
their own error, and the rest of the batch is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite

from .._errors import StoreError
from ._batch import Append, AppendOutcome, number_batch

__all__ = ["write_events"]

# one statement (one trip to the database thread): each job's last seq (kind 0), and the batch's keys used
# already (kind 1)
_LOOKUP = """
SELECT 0, j.id, coalesce((SELECT max(e.seq) FROM job_events e WHERE e.job_id = j.id), 0), NULL
FROM jobs j WHERE j.id IN (SELECT value FROM json_each(?))
UNION ALL
SELECT 1, e.job_id, NULL, e.key FROM job_events e
JOIN (SELECT json_extract(value, '$[0]') AS job_id, json_extract(value, '$[1]') AS key FROM json_each(?)) k
  ON e.job_id = k.job_id AND e.key = k.key
"""

_INSERT = "INSERT INTO job_events (job_id, seq, type, data, created_at, key) VALUES (?, ?, ?, ?, ?, ?)"


async def write_events(
    db: aiosqlite.Connection, batch: Sequence[Append], *, no_job: Callable[[str], StoreError]
) -> tuple[list[AppendOutcome], dict[str, int]]:
    """Write ``batch`` in the transaction open on ``db``; the outcomes, and each changed job's last seq."""
    job_ids = sorted({item.job_id for item in batch})
    keyed = [[item.job_id, item.key] for item in batch if item.key is not None]
    rows: Any = await db.execute_fetchall(_LOOKUP, (json.dumps(job_ids), json.dumps(keyed)))
    last: dict[str, int] = {row[1]: int(row[2]) for row in rows if row[0] == 0}
    taken = {(row[1], row[3]) for row in rows if row[0] == 1}
    outcomes, values = number_batch(batch, last, taken, no_job=no_job)
    changed = {row[0]: row[1] for row in values}  # rows are in seq order: the last one of each job stays
    if values:
        await db.executemany(_INSERT, values)
    return outcomes, changed
