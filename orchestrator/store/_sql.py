"""What the two SQL stores do alike around their SQL: placeholders, the filter of a job listing, claim order.

PostgreSQL (asyncpg) numbers its placeholders (``$1``, ``$2``, ...); SQLite (aiosqlite) takes ``?``. A
:class:`Params` collects the values while the text is written, in either style.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ._codec import JOB_COLUMNS, job_from_row
from ._protocol import JobCursor, JobRecord, JobStatus

__all__ = ["Params", "count_jobs_sql", "find_jobs_sql", "jobs_oldest_first", "jobs_where", "status_counts"]

_CREATED_AT = JOB_COLUMNS.index("created_at")


class Params:
    """The values of a statement's placeholders, collected while its text is built.

    Args:
        numbered: write PostgreSQL's ``$1, $2, ...`` rather than SQLite's ``?``.
    """

    def __init__(self, *, numbered: bool) -> None:
        self.values: list[Any] = []
        self._numbered = numbered

    def add(self, value: Any) -> str:
        """Take ``value``; the placeholder that stands for it."""
        self.values.append(value)
        return f"${len(self.values)}" if self._numbered else "?"

    def one_of(self, column: str, values: list[str]) -> str:
        """A condition: the text ``column`` equals one of ``values`` (none: it matches no row)."""
        if self._numbered:
            return f"{column} = ANY({self.add(values)}::text[])"
        return f"{column} IN ({', '.join(self.add(value) for value in values)})"


def jobs_where(
    params: Params,
    *,
    statuses: Sequence[JobStatus] | None,
    job_name: str | None,
    parent_id: str | None,
) -> str:
    """The ``WHERE`` clause (or ``""``) of ``list_jobs(statuses=, job_name=, parent_id=)``."""
    clauses: list[str] = []
    if statuses is not None:
        clauses.append(params.one_of("status", sorted({JobStatus(s).value for s in statuses})))
    if job_name is not None:
        clauses.append(f"job_name = {params.add(job_name)}")
    if parent_id is not None:
        clauses.append(f"parent_id = {params.add(parent_id)}")
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""


def _page_where(
    params: Params, *, statuses: Sequence[JobStatus] | None, job_name: str | None, route: str | None
) -> list[str]:
    clauses: list[str] = []
    if statuses is not None:
        clauses.append(params.one_of("status", sorted({JobStatus(s).value for s in statuses})))
    if job_name is not None:
        clauses.append(f"job_name = {params.add(job_name)}")
    if route is not None:
        clauses.append(f"route = {params.add(route)}")
    return clauses


def find_jobs_sql(
    params: Params,
    columns: str,
    *,
    statuses: Sequence[JobStatus] | None,
    job_name: str | None,
    route: str | None,
    before: JobCursor | None,
    limit: int,
) -> str:
    """The ``SELECT`` of ``find_jobs``: newest first by ``(created_at, id)``, after the cursor ``before``."""
    clauses = _page_where(params, statuses=statuses, job_name=job_name, route=route)
    if before is not None:
        at = params.add(float(before.created_at))
        again = params.add(float(before.created_at))
        clauses.append(f"(created_at < {at} OR (created_at = {again} AND id < {params.add(before.id)}))")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"SELECT {columns} FROM jobs {where} ORDER BY created_at DESC, id DESC LIMIT {params.add(limit)}"


def count_jobs_sql(params: Params, *, job_name: str | None, route: str | None) -> str:
    """The ``SELECT status, count`` of ``count_jobs``."""
    clauses = _page_where(params, statuses=None, job_name=job_name, route=route)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"SELECT status, COUNT(*) FROM jobs {where} GROUP BY status"


def status_counts(rows: Iterable[Any]) -> dict[JobStatus, int]:
    """Every status with its count, from ``(status, count)`` rows (a status with no row counts 0)."""
    counts = dict.fromkeys(JobStatus, 0)
    for status, count in rows:
        counts[JobStatus(status)] = int(count)
    return counts


def jobs_oldest_first(rows: Iterable[Any]) -> list[JobRecord]:
    """Records from rows of :data:`~._codec.JOB_COLUMNS` plus a last column of insertion order (the rows an
    ``UPDATE ... RETURNING`` gives, in no order), oldest first: by ``created_at``, then insertion."""
    return [job_from_row(row) for row in sorted(rows, key=lambda row: (row[_CREATED_AT], row[-1]))]
