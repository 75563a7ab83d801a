"""PostgreSQL for tests: a uniquely named schema or database per test, dropped afterwards,
or a skip that says why when no server is reachable.

The server is `$PAPERBOY_TEST_POSTGRES` (a SQLAlchemy or libpq URL; default
postgresql://postgres@127.0.0.1:5432/test). Its user must be allowed to create schemas and
databases there. Nothing outside the names created here is touched, so parallel runs and
leftovers of earlier runs never interfere.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
ENV = "PAPERBOY_TEST_POSTGRES"
# Parameters for a fixture that runs its tests on both backends.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def server_url() -> str:
    """The test server as a SQLAlchemy URL with the psycopg 3 driver."""
    url = make_url(os.environ.get(ENV) or DEFAULT_URL)
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _libpq(url: str, **changes: Any) -> str:
    return (
        make_url(url).set(drivername="postgresql", **changes).render_as_string(hide_password=False)
    )


@functools.cache
def unreachable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    shown = make_url(server_url()).render_as_string(hide_password=True)
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed: pip install -e '.[postgres]'"
    try:
        with psycopg.connect(_libpq(server_url()), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
        return f"no PostgreSQL server reachable at {shown} (set {ENV}): {first}"
    return None


def require() -> None:
    """Skip the calling test, with the reason, when there is no server."""
    reason = unreachable()
    if reason:
        pytest.skip(reason)


def _admin() -> Any:
    import psycopg

    return psycopg.connect(_libpq(server_url()), autocommit=True, connect_timeout=5)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"


@contextmanager
def temporary_schema() -> Iterator[str]:
    """A new, empty schema on the test database; yields a URL whose connections use it
    (search_path), so every table, index and function is created inside it."""
    require()
    name = unique_name("pbtest")
    with _admin() as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        url = make_url(server_url()).update_query_dict({"options": f"-csearch_path={name}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with _admin() as conn:
            conn.execute("SET lock_timeout = '60s'")
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@contextmanager
def temporary_database() -> Iterator[str]:
    """A new, empty database on the test server, dropped (with any connection left) after."""
    require()
    name = unique_name("pbtest")
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
