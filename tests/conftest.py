"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import pg

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures"


@pytest.fixture
def fixtures_dir() -> Path:
    """The synthetic fixtures committed with the tests (`tests/fixtures/`)."""
    return FIXTURES


@pytest.fixture
def shared_dir() -> Path:
    """The `shared/` folder beside the repository (real seeds and recorded payloads).

    Skips the test when it is absent, as on a fresh clone.
    """
    path = REPO_ROOT.parent / "shared"
    if not path.is_dir():
        pytest.skip(
            "../shared not present: real-data tests need the shared/ folder beside the repo"
        )
    return path


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A SQLAlchemy URL of an empty PostgreSQL schema of its own (dropped after the test).

    Skips the test, saying why, when no server is reachable (see tests/pg.py)."""
    with pg.temporary_schema() as url:
        yield url


@pytest.fixture(params=pg.BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A `database:` setting for an empty database: an SQLite file, then (a second run of
    the test) a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        return str(tmp_path / "paperboy.db")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def discord_route() -> Iterator[None]:
    """Restores ``discord.http.Route.BASE`` after the test, which points it at a fake Discord
    (``Route.BASE = fake.base``). A module whose tests all do: ``pytestmark =
    pytest.mark.usefixtures("discord_route")``."""
    import discord.http

    base = discord.http.Route.BASE
    yield
    discord.http.Route.BASE = base
