"""`Ingestor.ingest_locations` (what `paperboy ingest FILE...` runs): the next file is read
and parsed while one is stored, and the archive ends exactly as with `ingest_location` one
file after the other: the same rows, ids, keys, first_seen stamps and merges; failures are
reported per file, in order."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.app import App, build_app
from bot.ingest import Progress
from bot.settings import Settings
from bot.sources.retrieve import AnyRetriever
from bot.store.schema import papers


def _clock() -> Any:
    moments = (datetime(2026, 6, 12, tzinfo=UTC) + timedelta(seconds=i) for i in range(10**6))
    return lambda: next(moments)


def _inputs(tmp_path: Path, fixtures_dir: Path) -> list[str]:
    """Files that overlap (the same papers in two layouts, HF JSON beside them), a broken
    one, and a missing one."""
    folder = tmp_path / "in"
    folder.mkdir()
    names = ["dump_layout_b.txt", "hf_daily_small.json", "dump_layout_a.txt"]
    paths = []
    for name in names:
        (folder / name).write_bytes((fixtures_dir / name).read_bytes())
        paths.append(str(folder / name))
    (folder / "page.html").write_text("<!doctype html><html><body>Sign in</body></html>")
    return [paths[0], str(folder / "page.html"), paths[1], str(folder / "gone.txt"), paths[2]]


def _rows(app: App) -> list[tuple[Any, ...]]:
    with app.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(papers).order_by(papers.c.id))]


async def _one_by_one(app: App, locations: list[str]) -> list[Any]:
    async with AnyRetriever() as retriever:
        ingestor = app.ingestor(retriever)
        return [await ingestor.ingest_location(loc) for loc in locations]


async def _pipelined(app: App, locations: list[str], seen: list[str]) -> list[Any]:
    @contextmanager
    def progress(location: str) -> Iterator[Progress]:
        seen.append(location)
        yield lambda done, total: None

    async with AnyRetriever() as retriever:
        ingestor = app.ingestor(retriever)
        return [r async for r in ingestor.ingest_locations(locations, progress=progress)]


async def test_the_archive_is_the_same_as_one_file_after_the_other(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    locations = _inputs(tmp_path, fixtures_dir)
    a = build_app(Settings(database=str(tmp_path / "a.db")), clock=_clock())
    b = build_app(Settings(database=str(tmp_path / "b.db")), clock=_clock())
    try:
        expected = await _one_by_one(a, locations)
        seen: list[str] = []
        got = await _pipelined(b, locations, seen)
        assert _rows(b) == _rows(a) and len(_rows(a)) > 10
    finally:
        a.close()
        b.close()
    assert [r.summary() for r in got] == [r.summary() for r in expected]
    assert [r.failed for r in got] == [False, True, False, True, False]
    assert [r.new for r in got] == [r.new for r in expected]
    assert [r.notes for r in got] == [r.notes for r in expected]
    assert seen == [locations[0], locations[2], locations[4]]  # stored ones only


async def test_stopping_early_stores_nothing_more(tmp_path: Path, fixtures_dir: Path) -> None:
    locations = _inputs(tmp_path, fixtures_dir)
    app = build_app(Settings(database=str(tmp_path / "a.db")), clock=_clock())
    try:
        async with AnyRetriever() as retriever:
            reports = app.ingestor(retriever).ingest_locations(locations)
            first = await anext(reports)
            await reports.aclose()  # the second file may be parsed already: never stored
        assert app.archive.count() == first.new > 0
    finally:
        app.close()
