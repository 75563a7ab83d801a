"""Source faults: the service with several configured sources, some of them broken in the
ways sources break (connection refused, too slow, garbage, an HTML error page), against a
local aiohttp server. The good sources and every channel's digest still run; each failure
shows in `paperboy status` (text and --json) and in the JSON logs; no exception escapes.

Time: the service runs on an injected clock; the retriever's backoff sleeps are injected;
only its client timeout (0.3 s) is real.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import random
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner

from bot.app import App, build_app
from bot.cli import cli
from bot.delivery.base import Delivery
from bot.delivery.console import ConsoleDelivery
from bot.delivery.slack import SlackDelivery, slack_client
from bot.logs import configure_logging
from bot.service import Service
from bot.settings import ChannelSettings, Settings, SourceSettings
from bot.sources.retrieve import AnyRetriever, HttpRetriever, RetryPolicy
from fakes.clock import Clock
from fakes.slack import FakeSlack

pytestmark = pytest.mark.slow

MONDAY = datetime(2026, 11, 23, 9, 0, 1, tzinfo=UTC)  # just after the 09:00 digests
SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample-dump.txt"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SLACK_CH = "C0SOURCES1"
GOOD = ("hf-good", "rss-good", "dump-good")
BAD = ("down", "slow", "garbage", "html-error", "html-503", "not-http")
STAY_BROKEN = ("down", "not-http")
CLIENT_TIMEOUT = 0.3
HTML_ERROR = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>Bad Gateway</h1><p>The upstream server returned an invalid response."
    b"</p><hr><center>nginx</center></body></html>"
)


def hf_daily(day: str) -> bytes:
    papers = [
        {
            "paper": {
                "id": f"2611.{i + 500:05d}",
                "title": f"Expert Choice Routing for Sparse Mixture-of-Experts, Variant {i}",
                "summary": (
                    f"We propose expert choice routing variant {i} for Mixture-of-Experts (MoE) "
                    "models, where experts select tokens and load stays balanced."
                ),
                "authors": [{"name": "Ada Example"}],
                "submittedOnDailyAt": f"{day}T03:00:00.000Z",
                "upvotes": i,
            },
            "title": f"Expert Choice Routing for Sparse Mixture-of-Experts, Variant {i}",
        }
        for i in range(6)
    ]
    return json.dumps(papers).encode()


class SourceServer:
    """Good and broken sources on 127.0.0.1. While `broken`, /slow holds the request past
    any client timeout, /garbage answers 200 with random bytes, /html 200 with an nginx
    error page and /html-503 a 503 with one; otherwise they serve proper content. On
    another port, `not_http` answers every connection with bytes that are not HTTP."""

    def __init__(self) -> None:
        self.broken = True
        self.hits: dict[str, int] = {}
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.origin = ""
        self.not_http = ""
        self._raw: asyncio.Server | None = None

    async def __aenter__(self) -> SourceServer:
        app = web.Application()
        app.router.add_get("/hf/daily", self._hf)
        app.router.add_get("/rss/cs.CL", self._rss)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/garbage", self._garbage)
        app.router.add_get("/html", self._html)
        app.router.add_get("/html-503", self._html_503)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.origin = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self._raw = await asyncio.start_server(self._garbage_bytes, "127.0.0.1", 0)
        self.not_http = f"http://127.0.0.1:{self._raw.sockets[0].getsockname()[1]}/feed"
        return self

    async def _garbage_bytes(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.hits["not-http"] = self.hits.get("not-http", 0) + 1
        await reader.read(1024)
        writer.write(random.Random(3).randbytes(512) + b"\r\n\r\n")
        await writer.drain()
        writer.close()

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()
        if self._raw is not None:
            self._raw.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _hit(self, request: web.Request) -> None:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1

    async def _hf(self, request: web.Request) -> web.Response:
        self._hit(request)
        return web.Response(body=hf_daily(request.query["date"]), content_type="application/json")

    async def _rss(self, request: web.Request) -> web.Response:
        self._hit(request)
        body = (FIXTURES / "arxiv_rss_small.xml").read_bytes()
        return web.Response(body=body, content_type="application/rss+xml")

    async def _slow(self, request: web.Request) -> web.Response:
        self._hit(request)
        if self.broken:
            # Far beyond the client's timeout; wakes when the server closes.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), 60)
        return await self._hf(request)

    async def _garbage(self, request: web.Request) -> web.Response:
        self._hit(request)
        if not self.broken:
            return await self._hf(request)
        junk = random.Random(7).randbytes(4096)
        return web.Response(body=junk, content_type="application/json")

    async def _html(self, request: web.Request) -> web.Response:
        self._hit(request)
        if not self.broken:
            return await self._rss(request)
        return web.Response(body=HTML_ERROR, content_type="text/html")

    async def _html_503(self, request: web.Request) -> web.Response:
        self._hit(request)
        if not self.broken:
            return await self._rss(request)
        return web.Response(status=503, body=HTML_ERROR, content_type="text/html")


def refused_url() -> str:
    """A URL on a local port nobody listens on: connection refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/rss/cs.CL"


@dataclass
class Rig:
    service: Service
    app: App
    server: SourceServer
    slack: FakeSlack
    clock: Clock
    console: io.StringIO
    logs: io.StringIO
    tmp: Path
    slept: list[float]

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.logs.getvalue().splitlines()]

    def status(self) -> tuple[int, str, dict[str, Any]]:
        # `status` reports the configured sources only (issue 17): the same sources
        settings = self.app.settings
        sources = [
            {"name": s.name, "kind": s.kind, "url": s.url, "path": s.path and str(s.path)}
            for s in settings.sources
        ]
        channels = [{"platform": c.platform, "id": c.id} for c in settings.channels]
        config = self.tmp / "status.yaml"
        document = {"database": str(self.tmp / "p.db"), "sources": sources, "channels": channels}
        config.write_text(json.dumps(document))  # JSON is YAML
        runner = CliRunner()
        text = runner.invoke(cli, ["--config", str(config), "status"])
        as_json = runner.invoke(cli, ["--config", str(config), "status", "--json"])
        assert text.exit_code == as_json.exit_code, (text.output, as_json.output)
        return text.exit_code, text.output, json.loads(as_json.output)


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("INFO", stream=stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
async def rig(tmp_path: Path, json_logs: io.StringIO) -> AsyncIterator[Rig]:
    async with SourceServer() as server, FakeSlack(channels=[SLACK_CH]) as slack:
        o = server.origin
        sources = [
            SourceSettings(name="hf-good", kind="hf-daily", url=f"{o}/hf/daily?date={{date}}"),
            SourceSettings(name="rss-good", kind="rss", url=f"{o}/rss/cs.CL"),
            SourceSettings(name="dump-good", kind="dump", path=SAMPLE),
            SourceSettings(name="down", kind="rss", url=refused_url()),
            SourceSettings(name="slow", kind="hf-daily", url=f"{o}/slow?date={{date}}"),
            SourceSettings(name="garbage", kind="hf-daily", url=f"{o}/garbage?date={{date}}"),
            SourceSettings(name="html-error", kind="rss", url=f"{o}/html"),
            SourceSettings(name="html-503", kind="rss", url=f"{o}/html-503"),
            SourceSettings(name="not-http", kind="rss", url=server.not_http),
        ]
        common: dict[str, Any] = {"schedule": "0 9 * * *", "max_posts": 0, "lookback": "2d"}
        settings = Settings(
            database=str(tmp_path / "p.db"),
            sources=sources,
            channels=[
                ChannelSettings(
                    platform="console", id="moe", topics=["mixture of experts"], **common
                ),
                ChannelSettings(platform="console", id="speech", topics=["speech"], **common),
                ChannelSettings(
                    platform="slack", id=SLACK_CH, topics=["technical report"], **common
                ),
            ],
        )
        clock = Clock(MONDAY)
        app = build_app(settings, clock=clock)
        console = io.StringIO()
        deliveries: dict[str, Delivery] = {
            "console": ConsoleDelivery(console),
            "slack": SlackDelivery(slack_client(slack.token, slack.url, timeout=5)),
        }
        slept: list[float] = []

        async def no_wait(seconds: float) -> None:
            slept.append(seconds)

        http = HttpRetriever(
            timeout=CLIENT_TIMEOUT,
            connect_timeout=CLIENT_TIMEOUT,
            retry=RetryPolicy(attempts=3, backoff=1.0),
            sleep=no_wait,
        )
        retriever = AnyRetriever(http=http)
        service = Service(app, deliveries, retriever, clock)
        try:
            yield Rig(service, app, server, slack, clock, console, json_logs, tmp_path, slept)
        finally:
            await service.stop()
            await retriever.aclose()
            for delivery in deliveries.values():
                await delivery.aclose()
            app.close()


REFS = ("console:moe", "console:speech", f"slack:{SLACK_CH}")
ERRORS = {  # what `status` must say about each broken source
    "down": "network error fetching http://127.0.0.1:",
    "slow": "timed out fetching http://127.0.0.1:",
    "garbage": "the content is binary",
    "html-error": "looks like an HTML page, not an RSS/Atom feed",
    "html-503": "HTTP 503 from http://127.0.0.1:",
    "not-http": "not a valid HTTP answer from http://127.0.0.1:",
}


async def test_broken_sources_are_reported_and_everything_else_runs(
    rig: Rig, record_property: Callable[[str, object], None]
) -> None:
    started = time.monotonic()
    outcomes = [await rig.service.scheduled_digest(ref) for ref in REFS]  # fetches first
    elapsed = time.monotonic() - started

    # Every digest ran, fed by the good sources.
    assert [o.status if o else None for o in outcomes] == ["done", "done", "done"], [
        (o.profile.ref, o.status, o.error) for o in outcomes if o
    ]
    moe, speech, slack = (set(o.posted) for o in outcomes if o)
    assert {f"2611.{i + 500:05d}" for i in range(6)} <= moe  # from hf-good
    assert speech  # from the sample dump
    assert {"2606.01001"} <= slack  # "Qwen2 Technical Report", from rss-good
    assert len(rig.slack.messages(SLACK_CH)) >= 1
    # The broken sources were each tried (the retryable ones up to the policy's attempts).
    assert rig.server.hits["/slow"] == rig.server.hits["/html-503"] == 3
    assert rig.server.hits["not-http"] == 3
    assert rig.server.hits["/garbage"] == rig.server.hits["/html"] == 1
    # The backoffs of down, slow, html-503 and not-http: injected, not waited.
    assert len(rig.slept) == 4 * 2

    # `paperboy status`: text and JSON name each broken source and why; exit status 1.
    code, text, status = rig.status()
    assert code == 1
    assert sorted(status["failing"]) == sorted(f"source {name}" for name in BAD)
    by_name = {s["name"]: s for s in status["sources"]}
    for name, error in ERRORS.items():
        assert by_name[name]["consecutive_failures"] == 1, name
        assert error in by_name[name]["last_error"], (name, by_name[name]["last_error"])
        assert by_name[name]["last_success"] is None
        line = next(line for line in text.splitlines() if line.startswith(f"  {name}:"))
        assert "— failed (1×): " in line and error in line, line
    for name in GOOD:
        assert by_name[name]["consecutive_failures"] == 0 and by_name[name]["last_error"] is None
        assert by_name[name]["last_result"].startswith("parsed "), by_name[name]
    channels = {c["channel"]: c for c in status["channels"]}
    assert all(channels[ref]["status"] == "done" for ref in REFS)

    # The JSON logs: one warning per broken source, info for the good ones, a digest
    # event per channel, and no traceback anywhere (no exception escaped).
    lines = rig.log_lines()
    fetches = {e["source"]: e for e in lines if e.get("event") == "fetch" and "source" in e}
    for name in BAD:
        assert fetches[name]["level"] == "WARNING", fetches[name]
        assert fetches[name]["message"].startswith("failed: ")
        assert ERRORS[name] in fetches[name]["message"]
    for name in GOOD:
        assert fetches[name]["level"] == "INFO" and fetches[name]["message"].startswith("parsed")
    digests = {e["channel"]: e for e in lines if e.get("event") == "digest"}
    assert {ref: digests[ref]["status"] for ref in REFS} == dict.fromkeys(REFS, "done")
    assert not [e for e in lines if "exception" in e or e["level"] in ("ERROR", "CRITICAL")]

    record_property("sources_failed", len(BAD))
    record_property("digests_done", len(REFS))
    print(
        f"\nRELIABILITY sources: {len(BAD)} of {len(BAD) + len(GOOD)} sources broken, "
        f"{len(REFS)} of {len(REFS)} digests done, {len(rig.slept)} backoffs injected, "
        f"fetch+digest {elapsed:.1f}s"
    )


async def test_a_recovered_source_clears_its_failure_and_a_down_one_counts_up(
    rig: Rig,
) -> None:
    for ref in REFS:
        await rig.service.scheduled_digest(ref)
    rig.server.broken = False  # slow, garbage and the HTML pages recover
    rig.clock.now = MONDAY + timedelta(days=1)
    outcomes = [await rig.service.scheduled_digest(ref) for ref in REFS]
    assert all(o is not None and not o.failed for o in outcomes)

    code, text, status = rig.status()
    assert code == 1 and sorted(status["failing"]) == [f"source {n}" for n in STAY_BROKEN]
    by_name = {s["name"]: s for s in status["sources"]}
    for name in STAY_BROKEN:
        assert by_name[name]["consecutive_failures"] == 2
        assert f"  {name}: last fetch 2026-11-24 09:00 UTC — failed (2×): " in text
    for name in ("slow", "garbage", "html-error", "html-503"):
        assert by_name[name]["consecutive_failures"] == 0 and by_name[name]["last_error"] is None
        assert by_name[name]["last_success"] is not None


async def test_every_fetch_job_returns_a_report_instead_of_raising(rig: Rig) -> None:
    """What the scheduler runs for each source (`Service.fetch`) returns its report, even
    for the broken ones: nothing reaches APScheduler's "job raised an exception" path."""
    for name in GOOD + BAD:
        report = await rig.service.fetch(name)
        assert report is not None, name
        assert report.failed == (name in BAD), (name, report.error)
