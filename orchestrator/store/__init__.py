"""Durable job storage: the :class:`JobStore` protocol and its three implementations, chosen by URL.

- ``memory://`` (:class:`MemoryStore`): in process, nothing kept; for tests.
- ``sqlite:///path`` (:class:`SQLiteStore`, the default ``sqlite:///.orchestrator/jobs.sqlite3``): one file,
  shared by the processes of one machine.
- ``postgresql://...`` (:class:`PostgresStore`): many replicas (leases, ``SKIP LOCKED``, LISTEN/NOTIFY).

``open_store(url)`` builds the one a URL names; ``ORCHESTRATOR_STORE`` (:data:`ENV_VAR`) sets the default.
"""

from ._memory import MemoryStore as MemoryStore
from ._open import ENV_VAR as ENV_VAR
from ._open import open_store as open_store
from ._postgres import PostgresStore as PostgresStore
from ._protocol import TERMINAL_STATUSES as TERMINAL_STATUSES
from ._protocol import JobCursor as JobCursor
from ._protocol import JobEvent as JobEvent
from ._protocol import JobRecord as JobRecord
from ._protocol import JobStatus as JobStatus
from ._protocol import JobStore as JobStore
from ._protocol import JobWatch as JobWatch
from ._protocol import iterate_events as iterate_events
from ._sqlite import SQLiteStore as SQLiteStore
from ._url import DEFAULT_STORE_URL as DEFAULT_STORE_URL

__all__ = [
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
]
