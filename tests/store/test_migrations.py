"""Schema versioning: a new database is created at LATEST, reopening is a no-op, a newer
database is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.errors import StoreError
from bot.store import schema
from bot.store.db import make_engine
from bot.store.migrations import LATEST, current_version, migrate


def test_new_database_is_created_at_latest(tmp_path: Path) -> None:
    engine = make_engine(str(tmp_path / "sub" / "dir" / "p.db"))
    assert migrate(engine) == 0
    with engine.connect() as conn:
        assert current_version(conn) == LATEST
        tables = set(inspect(conn).get_table_names())
    assert set(schema.metadata.tables) <= tables
    assert "papers_fts" in tables
    assert migrate(engine) == LATEST  # reopening changes nothing
    engine.dispose()


def test_database_from_a_newer_paperboy_is_refused(tmp_path: Path) -> None:
    engine = make_engine(str(tmp_path / "p.db"))
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            schema.schema_version.insert().values(
                version=LATEST + 1, description="future", applied_at=datetime.now(UTC)
            )
        )
    with pytest.raises(StoreError, match="newer than this Paperboy"):
        migrate(engine)
    engine.dispose()


def test_unopenable_database_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot open database"):
        make_engine(str(blocker / "p.db"))
