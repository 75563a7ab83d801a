"""Feeds the way they really arrive: UTF-16/32 without a byte-order mark, no declared
encoding (mojibake must never be stored), markup in a plain-text title, a title_detail
that belongs to a nested element, arXiv API error answers and empty query results, and
a file that is only an XML comment. The ingest cases use the real retriever and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from click.testing import CliRunner

from bot.app import App, build_app
from bot.cli import cli
from bot.errors import SourceError
from bot.settings import Settings, SourceSettings
from bot.sources.detect import parse_any
from bot.sources.retrieve import AnyRetriever, HttpRetriever, RetryPolicy
from bot.sources.rss import parse_feed

NOW = datetime(2026, 6, 12, 8, 0, tzinfo=UTC)
TITLE = "Café Müller — Нейронные сети: Über Ångström-Skalen"
RSS = (
    '<rss version="2.0"><channel><title>T</title><link>https://example.org/</link>'
    "<item><title>{title}</title><link>https://example.org/1</link>"
    "<description>An abstract that is fine.</description></item>"
    "</channel></rss>"
)
CYRILLIC = "Нейронные сети для машинного перевода"
JAPANESE = "機械学習による翻訳の研究"

API_ERROR = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">
  <link href="http://arxiv.org/api/query?search_query=&amp;id_list=1234.12345v"
        rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=&amp;id_list=1234.12345v</title>
  <id>http://arxiv.org/api/kvuntZ8c9a4Eq5CF7KY03nMug+Q</id>
  <updated>2026-06-12T00:00:00-04:00</updated>
  <opensearch:totalResults>1</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
  <opensearch:itemsPerPage>10</opensearch:itemsPerPage>
  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345v</id>
    <title>Error</title>
    <summary>incorrect id format for 1234.12345v</summary>
    <updated>2026-06-12T00:00:00-04:00</updated>
    <link href="http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345v"
          rel="alternate" type="text/html"/>
    <author><name>arXiv api core</name></author>
  </entry>
</feed>
"""
API_EMPTY = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">
  <id>https://arxiv.org/api/abc</id>
  <title>arXiv Query: search_query=all:zzzqqqxxx</title>
  <link href="https://arxiv.org/api/query?search_query=all:zzzqqqxxx" type="application/atom+xml"/>
  <updated>2026-06-12T00:00:00-04:00</updated>
  <opensearch:itemsPerPage>10</opensearch:itemsPerPage>
  <opensearch:totalResults>0</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
</feed>
"""


def rss(title: str) -> str:
    return RSS.format(title=title)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("declared", [True, False], ids=["with-declaration", "bare"])
def test_utf16_and_utf32_feeds_without_a_bom_are_read(codec: str, declared: bool) -> None:
    text = rss(TITLE)
    if declared:
        text = f'<?xml version="1.0" encoding="{codec[:6].upper()}"?>\n' + text
    result = parse_any(text.encode(codec), source="f")
    assert [p.title for p in result.papers] == [TITLE]


@pytest.mark.parametrize(
    ("title", "codec"),
    [(CYRILLIC, "cp1251"), (CYRILLIC, "koi8-r"), (JAPANESE, "shift_jis"), (JAPANESE, "euc-jp")],
)
def test_a_feed_in_an_undeclared_encoding_never_stores_mojibake(title: str, codec: str) -> None:
    content = rss(title).encode(codec)  # no XML declaration, no BOM, not UTF-8
    result = parse_feed(content, source="f")
    assert [p.title for p in result.papers] in ([], [title]), result.papers
    if not result.papers:
        (rejected,) = result.rejected
        assert "not readable text" in rejected.reason and "encoding" in rejected.reason


def test_mojibake_author_names_are_dropped_and_the_others_kept() -> None:
    content = (
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T'
        "</title><item><title>A Readable Title</title><description>Fine.</description>"
        "<dc:creator>Ada Lovelace, \u00cd\u00e5\u00e9\u00f0\u00ee\u00ed, Jos\u00e9 "
        "M\u00fcller</dc:creator></item></channel></rss>"
    )
    (paper,) = parse_feed(content.encode(), source="f").papers
    assert paper.authors == ("Ada Lovelace", "José Müller")


def test_the_http_charset_decides_an_undeclared_encoding() -> None:
    content = rss(CYRILLIC).encode("cp1251")
    result = parse_any(
        content, source="f", kind="rss", content_type="application/rss+xml; charset=windows-1251"
    )
    assert [p.title for p in result.papers] == [CYRILLIC]


def test_western_text_in_an_undeclared_single_byte_encoding_is_kept() -> None:
    title = "Été: Ångström-scale Größen, naïve Müller, façade and żółć"
    result = parse_feed(rss(title).encode("utf-8"), source="f")
    assert [p.title for p in result.papers] == [title]
    western = "Été: Ångström-scale Größen, naïve Müller and façade"
    result = parse_feed(rss(western).encode("cp1252"), source="f")
    assert [p.title for p in result.papers] == [western]


def test_markup_in_a_plain_text_title_is_removed_but_literal_text_stays() -> None:
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>https://example.org/1</id>'
        '<title type="text">&lt;b&gt;Sparse&lt;/b&gt; &lt;i&gt;Experts&lt;/i&gt; for x &lt; y '
        "&lt;!channel&gt;</title><summary>S.</summary></entry></feed>"
    )
    (paper,) = parse_feed(atom.encode(), source="f").papers
    assert paper.title == "Sparse Experts for x < y <!channel>"


def test_title_wins_over_a_title_detail_from_a_nested_element() -> None:
    content = (
        '<rss version="2.0"><channel><title>T</title><item><title>The Real Title</title>'
        "<description>An abstract.</description>"
        "<image><title>Thumbnail caption</title><url>https://example.org/i.png</url></image>"
        "</item></channel></rss>"
    )
    (paper,) = parse_feed(content.encode(), source="f").papers
    assert paper.title == "The Real Title"


def test_an_arxiv_api_error_answer_is_a_failed_fetch_not_a_paper() -> None:
    with pytest.raises(SourceError) as caught:
        parse_feed(API_ERROR, source="api")
    message = str(caught.value)
    assert "arXiv API answered an error" in message
    assert "incorrect id format for 1234.12345v" in message


def test_an_empty_api_result_says_the_query_matched_nothing() -> None:
    result = parse_feed(API_EMPTY, source="api")
    assert result.papers == ()
    assert not any("weekend" in note for note in result.notes), result.notes
    assert any("matched no papers" in note for note in result.notes), result.notes


def test_an_empty_listing_still_mentions_weekends(fixtures_dir: Path) -> None:
    result = parse_feed((fixtures_dir / "arxiv_rss_weekend.xml").read_bytes(), source="l")
    assert any("weekends" in note for note in result.notes)
    generic = b'<rss version="2.0"><channel><title>Blog</title></channel></rss>'
    notes = parse_feed(generic, source="g").notes
    assert notes and not any("weekend" in note for note in notes), notes


@pytest.mark.parametrize(
    "content",
    [b"<!-- nothing but a comment -->\n", b"<!-- one -->\n<!-- two\nlines -->\n"],
    ids=["one", "two"],
)
def test_a_file_that_is_only_an_xml_comment_is_not_a_dump(content: bytes) -> None:
    with pytest.raises(SourceError, match="XML"):
        parse_any(content, source="c.xml")


@pytest.fixture
def app(tmp_path: Path) -> AsyncIterator[App]:
    application = build_app(Settings(database=str(tmp_path / "p.db")), clock=lambda: NOW)
    yield application  # type: ignore[misc]
    application.close()


async def test_an_api_error_served_over_http_fails_the_source_and_stores_nothing(
    app: App,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=API_ERROR, content_type="application/atom+xml")

    web_app = web.Application()
    web_app.router.add_get("/api/query", handler)
    server = TestServer(web_app, host="127.0.0.1")
    await server.start_server()
    try:
        src = SourceSettings(name="api", kind="rss", url=str(server.make_url("/api/query")))
        async with AnyRetriever(http=HttpRetriever(retry=RetryPolicy(attempts=1))) as r:
            report = await app.ingestor(r).ingest_source(src)
    finally:
        await server.close()
    assert report.failed and "incorrect id format" in (report.error or "")
    assert app.archive.count() == 0
    (state,) = app.source_state.all()
    assert state.consecutive_failures == 1


async def test_an_undeclared_charset_served_over_http_is_read_with_the_http_charset(
    app: App,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=rss(CYRILLIC).encode("cp1251"),
            headers={"Content-Type": "application/rss+xml; charset=windows-1251"},
        )

    web_app = web.Application()
    web_app.router.add_get("/feed", handler)
    server = TestServer(web_app, host="127.0.0.1")
    await server.start_server()
    try:
        src = SourceSettings(name="ru", kind="rss", url=str(server.make_url("/feed")))
        async with AnyRetriever(http=HttpRetriever(retry=RetryPolicy(attempts=1))) as r:
            report = await app.ingestor(r).ingest_source(src)
    finally:
        await server.close()
    assert not report.failed, report.error
    (paper,) = app.archive.all()
    assert paper.title == CYRILLIC


def test_cli_ingest_of_a_bare_utf16_feed(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(rss(TITLE).encode("utf-16-le"))
    config = tmp_path / "c.yaml"
    config.write_text(f"database: {tmp_path / 'p.db'}\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "ingest", str(path)])
    assert result.exit_code == 0, result.output
    assert "(rss): parsed 1, new 1" in result.output
