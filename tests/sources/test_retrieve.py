"""Retrieval against a real local HTTP server and real files; time is injected, never waited on."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.errors import SourceError
from bot.sources.base import Validators
from bot.sources.retrieve import (
    USER_AGENT,
    AnyRetriever,
    FileRetriever,
    HostThrottle,
    HttpRetriever,
    RetryPolicy,
    redact_url,
    retry_after_seconds,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Serve = Callable[[Handler], Awaitable[str]]


class FakeTime:
    """A clock that only moves when the code under test sleeps; records every sleep."""

    def __init__(self, *, advance: bool = True) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.advance = advance

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(float(seconds))
        if self.advance:
            self.now += seconds


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start a real HTTP server on 127.0.0.1 (free port) answering every GET with `handler`."""
    servers: list[TestServer] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_get("/{tail:.*}", handler)
        server = TestServer(app)
        await server.start_server()
        servers.append(server)
        return str(server.make_url("/feed"))

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def http(fake: FakeTime) -> AsyncIterator[HttpRetriever]:
    async with HttpRetriever(
        timeout=5.0, retry=RetryPolicy(attempts=3), clock=fake.clock, sleep=fake.sleep
    ) as retriever:
        yield retriever


def replies(*responses: dict[str, Any]) -> tuple[Handler, list[web.Request]]:
    """A handler answering `web.Response(**kwargs)` for each of `responses` in turn (the last
    one forever; a response object cannot be sent twice), and its request log."""
    seen: list[web.Request] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        return web.Response(**responses[min(len(seen), len(responses)) - 1])

    return handler, seen


async def test_etag_then_304_with_if_none_match(serve: Serve, http: HttpRetriever) -> None:
    seen: list[web.Request] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request)
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(
            body=b"<rss/>", content_type="application/rss+xml", headers={"ETag": '"v1"'}
        )

    url = await serve(handler)
    first = await http.fetch(url)
    assert first.content == b"<rss/>" and not first.not_modified
    assert first.content_type is not None and first.content_type.startswith("application/rss+xml")
    assert first.validators == Validators(etag='"v1"')
    assert first.location == url

    second = await http.fetch(url, first.validators)
    assert second.not_modified and second.content == b""
    assert second.validators.etag == '"v1"'
    assert seen[1].headers["If-None-Match"] == '"v1"'
    assert "If-None-Match" not in seen[0].headers


async def test_last_modified_round_trip(serve: Serve, http: HttpRetriever) -> None:
    stamp = "Wed, 05 Jun 2024 10:00:00 GMT"
    seen: list[web.Request] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request)
        if request.headers.get("If-Modified-Since") == stamp:
            return web.Response(status=304)
        return web.Response(
            body=b"[]", content_type="application/json", headers={"Last-Modified": stamp}
        )

    url = await serve(handler)
    first = await http.fetch(url)
    assert first.validators == Validators(last_modified=stamp)
    second = await http.fetch(url, first.validators)
    assert second.not_modified
    assert second.validators == Validators(last_modified=stamp)  # kept though the 304 omits it
    assert seen[1].headers["If-Modified-Since"] == stamp


async def test_5xx_retried_with_backoff_then_success(
    serve: Serve, http: HttpRetriever, fake: FakeTime
) -> None:
    handler, seen = replies(dict(status=500), dict(status=503), dict(text="ok"))
    fetched = await http.fetch(await serve(handler))
    assert fetched.content == b"ok"
    assert len(seen) == 3
    # exponential (1 s, 2 s) plus up to 1 s of jitter, all through the injected sleep
    assert len(fake.sleeps) == 2
    assert 1.0 <= fake.sleeps[0] <= 2.0 and 2.0 <= fake.sleeps[1] <= 3.0


async def test_5xx_forever_gives_up_retryable(serve: Serve, http: HttpRetriever) -> None:
    handler, seen = replies(dict(status=502))
    url = await serve(handler)
    with pytest.raises(SourceError, match=r"HTTP 502 .*3 attempts") as info:
        await http.fetch(url)
    assert info.value.retryable
    assert url in str(info.value)
    assert len(seen) == 3


async def test_429_honours_retry_after_seconds(
    serve: Serve, http: HttpRetriever, fake: FakeTime
) -> None:
    handler, seen = replies(dict(status=429, headers={"Retry-After": "7"}), dict(text="ok"))
    assert (await http.fetch(await serve(handler))).content == b"ok"
    assert fake.sleeps == [7.0] and len(seen) == 2


async def test_429_retry_after_http_date_relative_to_server_date(
    serve: Serve, http: HttpRetriever, fake: FakeTime
) -> None:
    date = datetime(2024, 6, 5, 10, 0, tzinfo=UTC)
    headers = {
        "Date": format_datetime(date, usegmt=True),
        "Retry-After": format_datetime(date + timedelta(seconds=5), usegmt=True),
    }
    handler, _ = replies(dict(status=429, headers=headers), dict(text="ok"))
    await http.fetch(await serve(handler))
    assert fake.sleeps == [5.0]


async def test_retry_after_is_capped(serve: Serve, fake: FakeTime) -> None:
    handler, _ = replies(dict(status=503, headers={"Retry-After": "86400"}), dict(text="ok"))
    policy = RetryPolicy(attempts=2, max_retry_after=60.0)
    async with HttpRetriever(retry=policy, clock=fake.clock, sleep=fake.sleep) as http:
        await http.fetch(await serve(handler))
    assert fake.sleeps == [60.0]


async def test_timeout_is_retryable(serve: Serve, fake: FakeTime) -> None:
    release = asyncio.Event()
    calls: list[web.Request] = []

    async def slow(request: web.Request) -> web.Response:
        calls.append(request)
        await asyncio.wait_for(release.wait(), 2.0)  # "sleeps 2 s"; released at test end
        return web.Response(text="late")

    url = await serve(slow)
    policy = RetryPolicy(attempts=2)
    try:
        async with HttpRetriever(
            timeout=0.2, retry=policy, clock=fake.clock, sleep=fake.sleep
        ) as http:
            with pytest.raises(SourceError, match="timed out") as info:
                await http.fetch(url)
    finally:
        release.set()
    assert info.value.retryable
    assert len(calls) == 2


async def test_connection_refused_is_retryable(http: HttpRetriever, fake: FakeTime) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SourceError, match="network error") as info:
        await http.fetch(f"http://127.0.0.1:{port}/feed")
    assert info.value.retryable
    assert len(fake.sleeps) == 2  # three attempts


async def test_404_not_retried_and_url_redacted(
    serve: Serve, http: HttpRetriever, fake: FakeTime
) -> None:
    handler, seen = replies(dict(status=404))
    url = (await serve(handler)).replace(
        "http://", "http://alice:hunter2@"
    ) + "?api_key=s3cr3t&q=moe"
    with pytest.raises(SourceError) as info:
        await http.fetch(url)
    message = str(info.value)
    assert not info.value.retryable
    assert "HTTP 404" in message and "api_key=REDACTED&q=moe" in message
    assert "s3cr3t" not in message and "hunter2" not in message and "alice" not in message
    assert len(seen) == 1 and fake.sleeps == []


async def test_empty_200_body_is_an_error(serve: Serve, http: HttpRetriever) -> None:
    handler, seen = replies(dict(body=b""))
    url = await serve(handler)
    with pytest.raises(SourceError, match=f"empty response from {url}"):
        await http.fetch(url)
    assert len(seen) == 1


async def test_user_agent_sent_and_content_type_returned(serve: Serve, http: HttpRetriever) -> None:
    handler, seen = replies(dict(text="<html>oops</html>", content_type="text/html"))
    fetched = await http.fetch(await serve(handler))
    assert seen[0].headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("paperboy-bot/") and "(+https://github.com/" in USER_AGENT
    assert fetched.content_type == "text/html; charset=utf-8"  # parsers sniff; we only report


@pytest.mark.parametrize("chunked", [False, True])
async def test_oversized_response_refused(serve: Serve, fake: FakeTime, chunked: bool) -> None:
    async def big(request: web.Request) -> web.StreamResponse:
        if not chunked:
            return web.Response(body=b"x" * 100)
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(10):
            await response.write(b"x" * 10)
        await response.write_eof()
        return response

    url = await serve(big)
    async with HttpRetriever(max_bytes=50, clock=fake.clock, sleep=fake.sleep) as http:
        with pytest.raises(SourceError, match="exceeds 50 bytes") as info:
            await http.fetch(url)
    assert not info.value.retryable and fake.sleeps == []


@pytest.mark.parametrize(
    "url", ["ftp://example.org/feed", "http:///nohost", "/tmp/x", "http://[::1"]
)
async def test_only_http_urls(http: HttpRetriever, url: str) -> None:
    with pytest.raises(SourceError, match="not an http"):
        await http.fetch(url)


async def test_throttle_spaces_arxiv_hosts_only(fake: FakeTime) -> None:
    throttle = HostThrottle(clock=fake.clock, sleep=fake.sleep)
    for _ in range(3):
        await throttle.wait("rss.arxiv.org")
    assert fake.sleeps == [3.0, 3.0]
    await throttle.wait("huggingface.co")
    await throttle.wait("export.arxiv.org")  # its own host, its own slot
    assert fake.sleeps == [3.0, 3.0]
    fake.now += 10
    await throttle.wait("RSS.arxiv.org")
    assert fake.sleeps == [3.0, 3.0]


async def test_throttle_spaces_concurrent_callers() -> None:
    fake = FakeTime(advance=False)
    throttle = HostThrottle({"arxiv.org": 3.0}, clock=fake.clock, sleep=fake.sleep)
    await asyncio.gather(*(throttle.wait("arxiv.org") for _ in range(3)))
    assert sorted(fake.sleeps) == [3.0, 6.0]


async def test_retriever_applies_host_policy(serve: Serve, fake: FakeTime) -> None:
    handler, seen = replies(dict(text="ok"))
    url = await serve(handler)
    async with HttpRetriever(
        host_intervals={"127.0.0.1": 3.0}, clock=fake.clock, sleep=fake.sleep
    ) as http:
        await http.fetch(url)
        await http.fetch(url)
    assert fake.sleeps == [3.0] and len(seen) == 2


async def test_closed_retriever_refuses(fake: FakeTime) -> None:
    http = HttpRetriever(clock=fake.clock, sleep=fake.sleep)
    await http.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await http.fetch("http://127.0.0.1:9/feed")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pw@host.org/a?token=t&x=1", "https://host.org/a?token=REDACTED&x=1"),
        (
            "https://h/p?access_token=a&X-Amz-Signature=b&sig=c",
            "https://h/p?access_token=REDACTED&X-Amz-Signature=REDACTED&sig=REDACTED",
        ),
        (
            "https://h/p?password=a&client_secret=b&apikey=c",
            "https://h/p?password=REDACTED&client_secret=REDACTED&apikey=REDACTED",
        ),
        (
            "https://h/p?keyword=moe&author=x&date=2024-06-05",
            "https://h/p?keyword=moe&author=x&date=2024-06-05",
        ),
        ("https://h/cb#access_token=abc&state=1", "https://h/cb#access_token=REDACTED&state=1"),
        (
            "https://huggingface.co/api/daily_papers?date=2024-06-05",
            "https://huggingface.co/api/daily_papers?date=2024-06-05",
        ),
        (
            "https://h/p?accessToken=a&session.key=b",
            "https://h/p?accessToken=REDACTED&session.key=REDACTED",
        ),
        ("http://[::1", "<unparseable URL>"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_retry_after_values() -> None:
    now = datetime(2024, 6, 5, 10, 0, tzinfo=UTC)
    assert retry_after_seconds("7", now=now) == 7.0
    assert retry_after_seconds("Wed, 05 Jun 2024 10:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Wed, 05 Jun 2024 09:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("soon", now=now) is None
    assert retry_after_seconds(None, now=now) is None


async def test_file_read_then_not_modified_until_changed(tmp_path: Path) -> None:
    path = tmp_path / "dump.txt"
    path.write_bytes(b"Paper one")
    files = FileRetriever()
    first = await files.fetch(str(path))
    assert first.content == b"Paper one" and first.content_type is None
    assert first.validators.etag and not first.not_modified

    again = await files.fetch(str(path), first.validators)
    assert again.not_modified and again.content == b""
    assert again.validators == first.validators

    path.write_bytes(b"Paper one, two")
    changed = await files.fetch(path.as_uri(), first.validators)  # file:// URL too
    assert changed.content == b"Paper one, two" and changed.validators != first.validators


async def test_file_errors(tmp_path: Path) -> None:
    files = FileRetriever()
    with pytest.raises(SourceError, match="no such file") as info:
        await files.fetch(str(tmp_path / "missing.txt"))
    assert not info.value.retryable
    with pytest.raises(SourceError, match=r"directory|not a regular file"):
        await files.fetch(str(tmp_path))
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(SourceError, match="empty file"):
        await files.fetch(str(tmp_path / "empty.txt"))
    with pytest.raises(SourceError, match="another host"):
        await files.fetch("file://elsewhere/x.txt")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX and non-root")
async def test_file_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "secret.txt"
    path.write_bytes(b"x")
    path.chmod(0)
    with pytest.raises(SourceError, match="permission denied"):
        await FileRetriever().fetch(str(path))


async def test_any_retriever_dispatches_by_scheme(
    serve: Serve, tmp_path: Path, fake: FakeTime
) -> None:
    handler, _ = replies(dict(text="from http"))
    url = await serve(handler)
    (tmp_path / "a.txt").write_bytes(b"from file")
    http = HttpRetriever(clock=fake.clock, sleep=fake.sleep)
    async with AnyRetriever(http) as any_retriever:
        assert (await any_retriever.fetch(url)).content == b"from http"
        assert (await any_retriever.fetch(str(tmp_path / "a.txt"))).content == b"from file"
        with pytest.raises(SourceError, match="unsupported scheme 'ftp'"):
            await any_retriever.fetch("ftp://example.org/x")
    with pytest.raises(RuntimeError):
        await http.fetch(url)  # closed with the AnyRetriever that owns it
