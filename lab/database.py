"""The run registry's database: SQLite (the embedded default) or PostgreSQL (``CNNLAB_DATABASE_URL``).

:mod:`lab.jobs` writes its SQL once, in SQLite's dialect with ``?`` parameters; here it runs on
either engine. SQLite: one file under ``CNNLAB_HOME`` in WAL mode, nothing to install, for one
machine. PostgreSQL: for several machines (web processes and Ray workers on other hosts), through
a small connection pool per process (psycopg 3). A *write* transaction (``immediate=True``) takes
the registry's write lock on either engine (``BEGIN IMMEDIATE``; ``LOCK TABLE runs IN SHARE ROW
EXCLUSIVE MODE``): two processes never start the same run or hand out the same slot.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from pathlib import Path

from lab import settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, config TEXT NOT NULL, status TEXT NOT NULL,
    dedupe TEXT, created {real} NOT NULL, started {real}, finished {real}, pid INTEGER, heartbeat {real},
    cancel_requested {real}, error TEXT, result TEXT, resumes INTEGER NOT NULL DEFAULT 0, owner TEXT, host TEXT,
    memory {real}
);
CREATE TABLE IF NOT EXISTS metrics (
    {seq}run_id TEXT NOT NULL, epoch INTEGER NOT NULL, step INTEGER NOT NULL, name TEXT NOT NULL,
    value {real} NOT NULL, ts {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS workers (
    host TEXT NOT NULL, pid INTEGER NOT NULL, started {real} NOT NULL, heartbeat {real}, run_id TEXT, gpu TEXT,
    PRIMARY KEY (host, pid)
);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics (run_id, name);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, created);
"""
_ADDED_COLUMNS = {"owner": "TEXT", "host": "TEXT", "memory": "{real}"}  # an older release's runs table lacks them
_READY: set[str] = set()  # databases whose schema this process has already ensured
_POOLS: dict[str, object] = {}
_POOL_LOCK = threading.Lock()


def url() -> str | None:
    """``CNNLAB_DATABASE_URL`` (``postgresql://user@host:port/db``), or None for SQLite."""
    return settings.get("CNNLAB_DATABASE_URL") or None


def errors() -> tuple[type[BaseException], ...]:
    """The exceptions a database failure raises on the configured engine."""
    found: list[type[BaseException]] = [sqlite3.Error]
    with contextlib.suppress(ImportError):
        import psycopg

        found.append(psycopg.Error)
    return tuple(found)


OUTAGE_SECONDS = 30.0  # how long a worker waits out an unreachable registry before giving up


def transient() -> tuple[type[BaseException], ...]:
    """The failures worth waiting out: the server went away or is restarting (not a wrong statement)."""
    found: list[type[BaseException]] = [sqlite3.OperationalError]
    with contextlib.suppress(ImportError):
        import psycopg
        import psycopg_pool

        found += [psycopg.OperationalError, psycopg_pool.PoolTimeout]
    return tuple(found)


def retrying(function, *args, seconds: float = OUTAGE_SECONDS, **kwargs):
    """``function(*args, **kwargs)``, retried with back-off (0.25 s doubling to 4 s) while the
    registry is unreachable, for at most ``seconds``: a PostgreSQL restart or a 10 s outage costs a
    run a pause, not its life. Raises the last failure after that."""
    import time

    deadline, pause = time.monotonic() + seconds, 0.25
    while True:
        try:
            return function(*args, **kwargs)
        except transient():
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(2 * pause, 4.0)


class Row(tuple):
    """A result row read by position or by column name, like :class:`sqlite3.Row`."""

    __slots__ = ()
    names: tuple[str, ...] = ()

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return self.names


def _rows(cursor) -> type[Row]:
    """psycopg's row factory: the cursor's columns make a :class:`Row` type, called with each row."""
    names = tuple(column.name for column in cursor.description or ())
    return type("Row", (Row,), {"__slots__": (), "names": names})


_PARAMETER = re.compile(r"\?")


class _Postgres:
    """A psycopg connection that takes :mod:`lab.jobs`' SQLite-dialect statements."""

    def __init__(self, connection):
        self.connection = connection

    @staticmethod
    def translate(statement: str) -> str:
        return _PARAMETER.sub("%s", statement.replace("rowid", "seq"))

    def execute(self, statement: str, parameters=()):
        cursor = self.connection.cursor(row_factory=_rows)
        cursor.execute(self.translate(statement), tuple(parameters))
        return cursor

    def executemany(self, statement: str, rows) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(self.translate(statement), list(rows))


def _pool(address: str):
    with _POOL_LOCK:
        if address not in _POOLS:
            from psycopg_pool import ConnectionPool

            # check: each connection is tried before it is handed out, so one the server dropped (a
            # restart, an outage) is replaced at once instead of failing the next statement.
            _POOLS[address] = ConnectionPool(
                address, min_size=1, max_size=8, open=True, timeout=30, check=ConnectionPool.check_connection
            )
        return _POOLS[address]


def _ensure_schema(address: str) -> None:
    """Create the tables, committed on their own before anything uses them: an operation may read
    through a second pooled connection while its first is still open (which would not see them)."""
    with _pool(address).connection() as connection, connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(4242)")  # one process creates the tables
        for statement in _SCHEMA.format(real="DOUBLE PRECISION", seq="seq BIGSERIAL PRIMARY KEY, ").split(";"):
            if statement.strip():
                connection.execute(statement)
        for column, kind in _ADDED_COLUMNS.items():
            real = kind.format(real="DOUBLE PRECISION")
            connection.execute(f"ALTER TABLE runs ADD COLUMN IF NOT EXISTS {column} {real}")
    _READY.add(address)


@contextlib.contextmanager
def _postgres(address: str, immediate: bool):
    if address not in _READY:
        _ensure_schema(address)
    with _pool(address).connection() as connection, connection.transaction():
        database = _Postgres(connection)
        if immediate:
            connection.execute("LOCK TABLE runs IN SHARE ROW EXCLUSIVE MODE")
        yield database


@contextlib.contextmanager
def _sqlite(path: Path, immediate: bool):
    key = str(path)
    if key not in _READY:
        path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    connection.row_factory = sqlite3.Row
    try:
        if key not in _READY:  # once per database and process: WAL mode is stored in the file
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA.format(real="REAL", seq=""))
            columns = {row[1] for row in connection.execute("PRAGMA table_info(runs)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in columns:
                    connection.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind.format(real='REAL')}")
            _READY.add(key)
        connection.execute("PRAGMA synchronous=NORMAL")  # per connection
        if immediate:
            connection.execute("BEGIN IMMEDIATE")  # one writer decides: no double starts
        yield connection
        if immediate:
            connection.execute("COMMIT")
    except BaseException:
        if immediate and connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    finally:
        connection.close()


def connect(sqlite_path: Path, immediate: bool = False):
    """A connection for one operation (a context manager): PostgreSQL when ``CNNLAB_DATABASE_URL``
    is set, else the SQLite file at ``sqlite_path``. ``immediate``: a write transaction that holds
    the registry's write lock until it ends."""
    address = url()
    return _postgres(address, immediate) if address else _sqlite(sqlite_path, immediate)
