"""Engine construction: the database URL from settings (checked: `database_problem`),
SQLite pragmas and busy retries; transactions run again after a deadlock
(`transaction`); what a database error means for a user (`describe`, `integrity_problem`)."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from bot.errors import LOCATION, StoreError, database_advice

log = logging.getLogger(__name__)

T = TypeVar("T")
# Bound parameters per IN list: well under SQLite's 32,766 and PostgreSQL's 65,535.
IN_CHUNK = 5_000


def json_dumps(value: object) -> str:
    """JSON columns as readable UTF-8 (not \\u escapes), so the full-text index sees
    "Zoë", not "Zo\\u00eb"."""
    return json.dumps(value, ensure_ascii=False)


def database_url(database: str) -> str:
    """A SQLAlchemy URL for a configured `database`: a URL as is (`postgresql://` and
    `postgres://` select the psycopg 3 driver), else an SQLite file path."""
    if "://" in database:
        scheme, rest = database.split("://", 1)
        if scheme in ("postgresql", "postgres"):  # the plain form means psycopg 3
            return "postgresql+psycopg://" + rest
        return database
    if database == ":memory:":
        return "sqlite://"
    return f"sqlite:///{Path(database).expanduser()}"


URL_FORM = "postgresql://user:password@host:5432/dbname"
BACKENDS = ("sqlite", "postgresql")


def _shown(scheme: str, rest: str) -> str:
    """A database URL for a message: without its query (which may carry `password=`) and
    without everything up to the last `@` (user and password, whatever they contain)."""
    before_query = rest.split("?", 1)[0]
    if "@" in before_query:
        return f"{scheme}://***@{before_query.rpartition('@')[2]}"
    return f"{scheme}://{before_query}"


def database_problem(database: str) -> str | None:
    """What is wrong with a `database:` setting, in words that never include its password
    or any part of it; None when it can be used. An SQLite path is always usable here (a
    file that cannot be opened is found when it is opened)."""
    if "://" not in database:
        return None
    scheme, rest = database.split("://", 1)
    shown = _shown(scheme, rest)
    hint = (
        f"expected {URL_FORM}: the port is a number, an IPv6 address is written in "
        "[brackets], and @ : / in the user name or password are percent-encoded (%40 %3A %2F)"
    )
    _, at, after = rest.partition("@")  # the user and password end at the first @
    if at and "@" in re.split(r"[/?]", after, maxsplit=1)[0]:
        return f"the user name or password in {shown} contains an unencoded @: write it as %40"
    try:
        url = make_url(database_url(database))
        port = url.port
    except (ArgumentError, ValueError):
        return f"{shown} is not a valid database URL; {hint}"
    if url.get_backend_name() not in BACKENDS:
        return f"{scheme}:// is not a supported database: give an SQLite file path or {URL_FORM}"
    if port is not None and not 0 < port < 65536:
        return f"{shown}: port {port} is out of range (1-65535)"
    return None


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last one shorter): bounded statements and IN lists."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


# PostgreSQL rolls a transaction back with these when running it again may succeed: it was
# chosen as a deadlock victim (40P01) or could not be serialized (40001). Nothing it did
# remains, so the whole transaction is simply run again.
RETRIED_SQLSTATES = frozenset({"40P01", "40001"})
TRANSACTION_ATTEMPTS = 5


def retryable(error: BaseException) -> bool:
    """Whether `error` is a deadlock or serialization failure (see RETRIED_SQLSTATES)."""
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    return isinstance(error, DBAPIError) and sqlstate in RETRIED_SQLSTATES


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    log.info("database transaction rolled back (SQLSTATE %s); running it again", sqlstate)


def transaction(
    engine: Engine, work: Callable[[Connection], T], *, attempts: int = TRANSACTION_ATTEMPTS
) -> T:
    """`work(conn)` in one transaction; run again from its start, after a short random
    pause, when the database rolled it back as a deadlock victim or a serialization
    failure (up to `attempts` runs in all; then that error is raised). `work` must do
    nothing outside the transaction that a second run would repeat."""
    retrying = Retrying(
        retry=retry_if_exception(retryable),
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=0.02, max=0.5),
        before_sleep=_log_retry,
        reraise=True,
    )
    for attempt in retrying:
        with attempt, engine.begin() as conn:
            return work(conn)
    raise AssertionError("unreachable: Retrying either returns or raises")


def insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT DO NOTHING, on SQLite and PostgreSQL."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    # 64 MiB of page cache (default 2 MiB) at most, allocated only as pages are read: an
    # ingest's index inserts (title_norm's are scattered) and FTS5 merges reread far less.
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


BUSY_TIMEOUT = 30.0  # seconds SQLite waits for another process's lock (busy_timeout)


def _use_wal(engine: Engine) -> None:
    """Put the SQLite file in WAL mode, retrying while it is locked.

    Switching the journal mode needs an exclusive lock, and SQLite answers "database is
    locked" at once, without its busy handler, when another process holds the file (two
    processes starting on a new database): retried for up to BUSY_TIMEOUT."""
    deadline, pause = time.monotonic() + BUSY_TIMEOUT, 0.005
    while True:
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            return
        except OperationalError as e:
            locked = "locked" in str(e.orig) or "busy" in str(e.orig)
            if not locked or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def location(database: str) -> str:
    """Where `database` is, for messages: the SQLite file's path, or the PostgreSQL server
    and database (never the password or the query)."""
    url = make_url(database_url(database))
    if url.get_backend_name() == "sqlite":
        return str(Path(url.database).resolve()) if url.database else "the in-memory database"
    return url.set(password=None, query={}).render_as_string(hide_password=True)


def describe(error: BaseException) -> str:
    """A database error as one line for a user: its meaning and what to do when known
    (bot.errors.database_advice), else its kind; never the driver's message (it may carry
    SQL and its parameters: paper text)."""
    if isinstance(error, StoreError):
        return str(error)
    advice = database_advice(error)
    if advice is not None:
        return advice
    orig = getattr(error, "orig", None)
    kind = type(orig).__name__ if orig is not None else type(error).__name__
    return f"database error ({kind})"


def integrity_problem(engine: Engine) -> str | None:
    """Whether the database is damaged: SQLite's `PRAGMA quick_check` (reads every page
    once, linear in the file's size); None when whole, or on PostgreSQL (which checks its
    pages as it reads them). Raises nothing: a check that fails is a problem found."""
    if engine.dialect.name != "sqlite":
        return None
    try:
        with engine.connect() as conn:
            found = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check(5)")]
    except SQLAlchemyError as e:
        return describe(e)
    if found == ["ok"]:
        return None
    where = location(engine.url.render_as_string(hide_password=False))
    lines = [ln for row in found for ln in row.splitlines() if ln and not ln.startswith("*")]
    first = (lines[0][:120] + (", …" if len(lines) > 1 else "")) if lines else "no answer"
    return (
        f"database file is damaged: {where} ({first}); restore it from a backup "
        f"(`sqlite3 {where} '.recover' > saved.sql` saves what can still be read)"
    )


def _remember_location(where: str) -> Callable[[Any], None]:
    def handle_error(context: Any) -> None:
        setattr(context.sqlalchemy_exception, LOCATION, where)

    return handle_error


def make_engine(database: str, *, read_only: bool = False) -> Engine:
    """Create the engine for `database`, creating an SQLite file's folder when needed.

    SQLite runs in WAL mode with a 30 s busy timeout, so concurrent processes wait for
    each other instead of failing with `database is locked`. `read_only` leaves the journal
    mode as it is (switching it rewrites the file header): for commands that write nothing.
    """
    problem = database_problem(database)
    if problem is not None:
        raise StoreError(f"cannot open database: {problem}")
    url = make_url(database_url(database))
    where = location(database)
    try:
        if url.get_backend_name() == "sqlite":
            if url.database and url.database != ":memory:":
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30}, json_serializer=json_dumps)
            event.listen(engine, "connect", _sqlite_pragmas)
            if url.database and url.database != ":memory:" and not read_only:
                _use_wal(engine)
            else:
                engine.connect().close()
        else:
            engine = create_engine(url, pool_pre_ping=True, json_serializer=json_dumps)
    except (OSError, sqlite3.Error, ImportError, SQLAlchemyError) as e:
        setattr(e, LOCATION, where)
        cause = database_advice(e) or str(getattr(e, "orig", None) or e).splitlines()[0]
        shown = url.render_as_string(hide_password=True)
        raise StoreError(f"cannot open database {shown}: {cause}") from e
    event.listen(engine, "handle_error", _remember_location(where))
    return engine
