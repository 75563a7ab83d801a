"""A source URL's credentials (userinfo password, `api_key`, tokens) never reach the database:
the source state keeps the redacted location, and conditional GET still works with it.

Real parts: a local aiohttp server, the real retriever, SQLite on disk (read back as bytes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from click.testing import CliRunner
from sqlalchemy import select, update

from bot.app import App, build_app
from bot.cli import cli
from bot.settings import Settings, SourceSettings
from bot.sources.retrieve import AnyRetriever, HttpRetriever, RetryPolicy
from bot.store.schema import source_state
from fakes.clock import no_sleep

NOW = datetime(2026, 6, 12, 8, 0, tzinfo=UTC)
PASSWORD = "hunter2-PASSWORD-s3cr3t"
API_KEY = "AKIA-API-KEY-0123456789"
TOKEN = "tok-ACCESS-TOKEN-987654"


@pytest.fixture
def app(tmp_path: Path) -> AsyncIterator[App]:
    application = build_app(Settings(database=str(tmp_path / "p.db")), clock=lambda: NOW)
    yield application  # type: ignore[misc]
    application.close()


@pytest.fixture
async def server(fixtures_dir: Path) -> AsyncIterator[tuple[TestServer, list[web.Request]]]:
    body = (fixtures_dir / "hf_daily_small.json").read_bytes()
    seen: list[web.Request] = []

    async def hf(request: web.Request) -> web.Response:
        seen.append(request)
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(body=body, content_type="application/json", headers={"ETag": '"v1"'})

    application = web.Application()
    application.router.add_get("/api/daily_papers", hf)
    srv = TestServer(application, host="127.0.0.1")
    await srv.start_server()
    yield srv, seen
    await srv.close()


def _secret_url(srv: TestServer) -> str:
    return (
        f"http://reader:{PASSWORD}@127.0.0.1:{srv.port}/api/daily_papers"
        f"?api_key={API_KEY}&access_token={TOKEN}&date={{date}}"
    )


def _database_bytes(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp_path.glob("p.db*"))


async def test_source_state_stores_the_redacted_url_and_conditional_get_still_works(
    app: App, server: tuple[TestServer, list[web.Request]], tmp_path: Path
) -> None:
    srv, seen = server
    src = SourceSettings(name="hf", kind="hf-daily", url=_secret_url(srv))
    async with AnyRetriever(
        http=HttpRetriever(retry=RetryPolicy(attempts=1), sleep=no_sleep)
    ) as retriever:
        first = await app.ingestor(retriever).ingest_source(src)
        second = await app.ingestor(retriever).ingest_source(src)
    assert first.error is None and first.new > 0
    assert seen[0].query["api_key"] == API_KEY  # the source itself got its credentials
    assert second.not_modified and seen[1].headers["If-None-Match"] == '"v1"'

    with app.engine.connect() as conn:
        row = conn.execute(select(source_state)).one()
    stored = " ".join(str(value) for value in row)
    assert "api_key=REDACTED" in row.location and "access_token=REDACTED" in row.location
    app.engine.dispose()
    everything = stored.encode() + _database_bytes(tmp_path)
    for secret in (PASSWORD, API_KEY, TOKEN):
        assert secret.encode() not in everything, secret


async def test_a_plain_text_url_stored_before_is_redacted_at_the_next_fetch(
    app: App, server: tuple[TestServer, list[web.Request]]
) -> None:
    srv, _ = server
    src = SourceSettings(name="hf", kind="hf-daily", url=_secret_url(srv))
    async with AnyRetriever(
        http=HttpRetriever(retry=RetryPolicy(attempts=1), sleep=no_sleep)
    ) as retriever:
        await app.ingestor(retriever).ingest_source(src)
        with app.engine.begin() as conn:  # as an older version left it
            conn.execute(update(source_state).values(location=src.location))
        app.source_state.record_failure("hf", error="HTTP 503", now=NOW)
    with app.engine.connect() as conn:
        location = conn.execute(select(source_state.c.location)).scalar_one()
    assert PASSWORD not in location and API_KEY not in location and TOKEN not in location


async def test_status_shows_no_credentials(
    app: App, server: tuple[TestServer, list[web.Request]], tmp_path: Path
) -> None:
    srv, _ = server
    src = SourceSettings(name="hf", kind="hf-daily", url=_secret_url(srv))
    async with AnyRetriever(
        http=HttpRetriever(retry=RetryPolicy(attempts=1), sleep=no_sleep)
    ) as retriever:
        await app.ingestor(retriever).ingest_source(src)
    config = tmp_path / "c.yaml"
    config.write_text(f"database: {tmp_path / 'p.db'}\n")
    out = CliRunner().invoke(cli, ["--config", str(config), "status", "--json"]).output
    for secret in (PASSWORD, API_KEY, TOKEN):
        assert secret not in out
