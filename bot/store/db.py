"""Engine construction: database URL from settings, SQLite pragmas, busy retries."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import StoreError


def json_dumps(value: object) -> str:
    """JSON columns as readable UTF-8 (not \\u escapes), so the full-text index sees
    "Zoë", not "Zo\\u00eb"."""
    return json.dumps(value, ensure_ascii=False)


def database_url(database: str) -> str:
    """A SQLAlchemy URL for a configured `database`: a URL as is, else an SQLite file path."""
    if "://" in database:
        if database.startswith("postgresql://"):
            return "postgresql+psycopg://" + database.removeprefix("postgresql://")
        return database
    if database == ":memory:":
        return "sqlite://"
    return f"sqlite:///{Path(database).expanduser()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(database: str, *, read_only: bool = False) -> Engine:
    """Create the engine for `database`, creating an SQLite file's folder when needed.

    SQLite runs in WAL mode with a 30 s busy timeout, so concurrent processes wait for
    each other instead of failing with `database is locked`. `read_only` leaves the journal
    mode as it is (switching it rewrites the file header): for commands that write nothing.
    """
    url = make_url(database_url(database))
    try:
        if url.get_backend_name() == "sqlite":
            if url.database and url.database != ":memory:":
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30}, json_serializer=json_dumps)
            event.listen(engine, "connect", _sqlite_pragmas)
            with engine.connect() as conn:
                if url.database and url.database != ":memory:" and not read_only:
                    conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        else:
            engine = create_engine(url, pool_pre_ping=True, json_serializer=json_dumps)
    except (OSError, sqlite3.Error, ImportError, SQLAlchemyError) as e:
        raise StoreError(
            f"cannot open database {url.render_as_string(hide_password=True)}: {e}"
        ) from e
    return engine
