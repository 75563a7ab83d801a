"""One ingest end to end: a local HTTP server, the real retriever, parsers and SQLite archive."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.app import App, build_app
from bot.settings import Settings, SourceSettings
from bot.sources.retrieve import AnyRetriever, HttpRetriever, RetryPolicy
from fakes.clock import no_sleep

NOW = datetime(2026, 6, 12, 8, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path) -> App:
    application = build_app(Settings(database=str(tmp_path / "p.db")), clock=lambda: NOW)
    yield application  # type: ignore[misc]
    application.close()


@pytest.fixture
async def server(fixtures_dir: Path) -> AsyncIterator[tuple[TestServer, list[web.Request]]]:
    hf_body = (fixtures_dir / "hf_daily_small.json").read_bytes()
    seen: list[web.Request] = []

    async def hf(request: web.Request) -> web.Response:
        seen.append(request)
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(body=hf_body, content_type="application/json", headers={"ETag": '"v1"'})

    async def broken(request: web.Request) -> web.Response:
        seen.append(request)
        return web.Response(status=503, text="<html>down</html>", content_type="text/html")

    async def html(request: web.Request) -> web.Response:
        return web.Response(
            text="<!doctype html><html><body>Sign in</body></html>", content_type="text/html"
        )

    application = web.Application()
    application.router.add_get("/api/daily_papers", hf)
    application.router.add_get("/broken", broken)
    application.router.add_get("/html", html)
    srv = TestServer(application, host="127.0.0.1")
    await srv.start_server()
    yield srv, seen
    await srv.close()


def _retriever() -> AnyRetriever:
    return AnyRetriever(http=HttpRetriever(retry=RetryPolicy(attempts=2), sleep=no_sleep))


async def test_configured_source_uses_conditional_get_and_records_state(
    app: App, server: tuple[TestServer, list[web.Request]]
) -> None:
    srv, seen = server
    src = SourceSettings(
        name="hf", kind="hf-daily", url=str(srv.make_url("/api/daily_papers")) + "?date={date}"
    )
    async with _retriever() as retriever:
        first = await app.ingestor(retriever).ingest_source(src)
        second = await app.ingestor(retriever).ingest_source(src)
    assert seen[0].query["date"] == "2026-06-12"
    assert first.error is None and first.new > 0 and first.format == "hf-daily"
    assert second.not_modified and second.new == 0
    assert seen[1].headers["If-None-Match"] == '"v1"'
    (state,) = app.source_state.all()
    assert state.last_success == NOW and state.last_result == "not modified"
    stored = app.archive.get("2606.10100")
    assert stored is not None and stored.upvotes == 42 and stored.github_repo


async def test_failing_source_is_reported_and_the_next_one_still_runs(
    app: App, server: tuple[TestServer, list[web.Request]], fixtures_dir: Path
) -> None:
    srv, _ = server
    broken = SourceSettings(name="broken", kind="rss", url=str(srv.make_url("/broken")))
    html = SourceSettings(name="html", kind="rss", url=str(srv.make_url("/html")))
    local = SourceSettings(name="local", kind="dump", path=fixtures_dir / "dump_layout_b.txt")
    async with _retriever() as retriever:
        ingestor = app.ingestor(retriever)
        reports = [await ingestor.ingest_source(s) for s in (broken, html, local)]
    assert reports[0].failed and "503" in (reports[0].error or "")
    assert reports[1].failed and "HTML" in (reports[1].error or "")
    assert not reports[2].failed and reports[2].new > 0
    states = {s.name: s for s in app.source_state.all()}
    assert states["broken"].consecutive_failures == 1 and states["broken"].last_success is None
    assert states["local"].last_error is None
    assert app.archive.count() == reports[2].new


async def test_partly_broken_dump_keeps_its_good_records(app: App, tmp_path: Path) -> None:
    good = "\n\n".join(
        f"A Paper Title Number {i}\n\nWe propose method {i}. It works well on many tasks and "
        f"data sets, as the experiments in this paper show in detail."
        for i in range(5)
    )
    path = tmp_path / "dump.txt"
    path.write_text("new\n\nMar 11\n\n" + good + "\n\nA truncated last title with no abs")
    async with _retriever() as retriever:
        report = await app.ingestor(retriever).ingest_location(str(path))
    assert report.error is None
    assert report.new == 6
    assert any("title without abstract" in note and "25" in note for note in report.notes)
    assert {f"A Paper Title Number {i}" for i in range(5)} <= {p.title for p in app.archive.all()}


async def test_a_cut_off_input_is_flagged_and_a_later_whole_ingest_completes_it(
    app: App, tmp_path: Path, fixtures_dir: Path
) -> None:
    """Cut-off downloads: the dump's cut last abstract is kept with a note, the HF answer's
    complete entries are kept and its cut entry rejected; ingesting the whole inputs later
    completes the archive (the longer abstract wins)."""
    dump = (fixtures_dir / "dump_layout_b.txt").read_text()
    cut_at = dump.index("Clinicians spend a large part") + len("Clinicians spend a la")
    hf = (fixtures_dir / "hf_daily_small.json").read_text()
    hf_cut_at = hf.index('"Only the Required Fields"') + 10
    cut_dump, cut_hf = tmp_path / "cut.txt", tmp_path / "cut.json"
    cut_dump.write_text(dump[:cut_at])
    cut_hf.write_text(hf[:hf_cut_at])
    async with _retriever() as retriever:
        ingestor = app.ingestor(retriever)
        reports = [await ingestor.ingest_location(str(p)) for p in (cut_dump, cut_hf)]
        clinical = next(p for p in app.archive.all() if p.title.startswith("Clinical Note"))
        assert clinical.abstract == "Clinicians spend a la"
        assert any("looks cut off" in note for note in reports[0].notes)
        assert [r.reason for r in reports[1].rejected] == ["cut off by the end of the content"]
        assert reports[1].new == 2 and app.archive.get("2606.10200") is None
        for whole in (fixtures_dir / "dump_layout_b.txt", fixtures_dir / "hf_daily_small.json"):
            await ingestor.ingest_location(str(whole))
    completed = app.archive.get(clinical.key)
    assert completed is not None and completed.abstract.startswith("Clinicians spend a large")
    assert completed.abstract.endswith("pairwise comparisons.")
    assert app.archive.get("2606.10200") is not None


async def test_a_source_whose_every_record_is_rejected_fails_visibly(
    app: App, tmp_path: Path
) -> None:
    """An answer in an unknown shape (an API change) is a failed fetch, not a quiet success:
    the source's state says what was wrong, nothing is stored."""
    changed = tmp_path / "daily.json"
    changed.write_text('[{"item": {"name": "x"}}, {"item": {"name": "y"}}]')
    src = SourceSettings(name="hf", kind="hf-daily", path=changed)
    async with _retriever() as retriever:
        report = await app.ingestor(retriever).ingest_source(src)
    assert report.failed and report.error is not None
    assert "none of its 2 hf-daily record(s) could be read" in report.error
    assert "has the format changed?" in report.error
    assert len(report.rejected) == 2 and app.archive.count() == 0
    states = {s.name: s for s in app.source_state.all()}
    assert states["hf"].last_error == report.error
