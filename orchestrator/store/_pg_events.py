"""The PostgreSQL store's batch of event appends: one transaction, one multi-row ``INSERT``, one ``NOTIFY``.

In one transaction:

1. ``SELECT ... FOR UPDATE`` locks the rows of the batch's jobs, in id order (two replicas flushing batches
   that share jobs wait for each other instead of deadlocking), and reads their ``last_seq``. Every appender
   takes this lock first (the single-event statement of older versions does too, with its ``UPDATE``), so
   from here until the commit nobody else writes events of these jobs.
2. A second statement (a new snapshot: it sees what the lock waited for) reads which of the batch's keys are
   used already. Appends with a used key, or a key earlier in the batch, get ``None`` and consume no seq.
3. One statement inserts every row (``unnest`` of arrays), moves each job's ``last_seq`` to its last new seq,
   and sends one ``pg_notify`` naming every job that changed (see :func:`notify_payloads`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from .._errors import StoreError
from ._batch import Append, AppendOutcome, number_batch
from ._pg_listener import CHANNEL, notify_payloads

__all__ = ["write_events"]

_LOCK = "SELECT id, last_seq FROM jobs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE"

_TAKEN = """
SELECT e.job_id, e.key FROM job_events e
JOIN unnest($1::text[], $2::text[]) AS k(job_id, key) ON e.job_id = k.job_id AND e.key = k.key
"""

_INSERT = f"""
WITH rows AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::float8[], $6::text[])
        AS r(job_id, seq, type, data, created_at, key)
), inserted AS (
    INSERT INTO job_events (job_id, seq, type, data, created_at, key)
    SELECT job_id, seq, type, data::json, created_at, key FROM rows
), bumped AS (
    UPDATE jobs SET last_seq = last.seq
    FROM (SELECT job_id, max(seq) AS seq FROM rows GROUP BY job_id) AS last
    WHERE jobs.id = last.job_id
)
SELECT pg_notify('{CHANNEL}', payload) FROM unnest($7::text[]) AS p(payload)
"""


async def write_events(
    conn: PoolConnectionProxy[asyncpg.Record],
    batch: Sequence[Append],
    *,
    no_job: Callable[[str], StoreError],
    sender: str,
) -> tuple[list[AppendOutcome], list[str]]:
    """Write ``batch`` on ``conn`` (outside a transaction); the outcomes, and the ids of the jobs that changed.

    ``sender`` heads the notification (see :func:`~._pg_listener.notify_payloads`)."""
    async with conn.transaction():
        job_ids = sorted({item.job_id for item in batch})
        last: dict[str, int] = {row[0]: int(row[1]) for row in await conn.fetch(_LOCK, job_ids)}
        keyed = [item for item in batch if item.key is not None and item.job_id in last]
        taken: set[tuple[str, str]] = set()
        if keyed:
            found = await conn.fetch(_TAKEN, [i.job_id for i in keyed], [i.key for i in keyed])
            taken = {(row[0], row[1]) for row in found}
        outcomes, new_rows = number_batch(batch, last, taken, no_job=no_job)
        changed = sorted({row[0] for row in new_rows})
        if new_rows:
            columns = [list(column) for column in zip(*new_rows, strict=True)]
            await conn.execute(_INSERT, *columns, notify_payloads(changed, sender=sender))
    return outcomes, changed
