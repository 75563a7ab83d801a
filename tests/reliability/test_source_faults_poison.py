"""Poisoned values in source answers, through the service: one bad value costs its entry at
most (the field is dropped or the entry rejected, the others are stored), and an unexpected
exception inside one source's fetch is that source's failed fetch, named in `paperboy
status` and on /healthz, never a stopped digest.

Real parts: a local aiohttp server serving the poisoned HF Daily answers, the real
retriever, parsers and SQLite archive, the service's scheduled digest, the `paperboy
status` command and the /healthz endpoint over HTTP.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner

from bot.app import App, build_app
from bot.cli import cli
from bot.delivery.console import ConsoleDelivery
from bot.health import start_health
from bot.service import Service
from bot.settings import ChannelSettings, Settings, SourceSettings
from bot.sources.base import Fetched, Validators
from bot.sources.retrieve import AnyRetriever, HttpRetriever, RetryPolicy
from fakes.clock import Clock, no_sleep

MONDAY = datetime(2026, 11, 23, 9, 0, 1, tzinfo=UTC)
DAY = "2026-11-23"
ENTRIES = 30
POISONED = 3  # the entry (0-based) that carries the poison
HUGE = "9" * 5000  # beyond Python's 4300-digit int conversion limit


def entry(i: int) -> dict[str, Any]:
    return {
        "paper": {
            "id": f"2611.{i + 700:05d}",
            "title": f"Sparse Mixture-of-Experts Routing, Study {i}",
            "summary": f"We study Mixture-of-Experts (MoE) routing, study {i}. Experts balance.",
            "authors": [{"name": "Ada Example"}],
            "submittedOnDailyAt": f"{DAY}T03:00:00.000Z",
            "upvotes": i,
        },
        "title": f"Sparse Mixture-of-Experts Routing, Study {i}",
    }


def poisoned(field: str, raw_value: str) -> bytes:
    """An HF answer of ENTRIES entries whose entry POISONED has `field` = `raw_value` (JSON
    text, spliced in verbatim so that values json.dumps cannot write get through)."""
    items = [entry(i) for i in range(ENTRIES)]
    items[POISONED]["paper"][field] = "@@POISON@@"
    return json.dumps(items).replace('"@@POISON@@"', raw_value).encode()


# Several kinds of poison, one per source: each must cost at most its entry.
POISONS: dict[str, bytes] = {
    "int64": poisoned("upvotes", str(2**63)),
    "digits": poisoned("upvotes", HUGE),
    "nan": poisoned("upvotes", "NaN"),
    "infinity": poisoned("upvotes", "-Infinity"),
    "float": poisoned("upvotes", "1e999"),
    "string-count": poisoned("upvotes", '"12"'),
    "title-number": poisoned("title", "12345"),
    "id-number": poisoned("id", "2611.00703"),
    "nested-junk": poisoned("authors", '[[[[[[{"name": [[{"x": {}}]]}]]]]]]'),
    "date-overflow": poisoned("submittedOnDailyAt", '"9999-12-31T23:59:59-23:59"'),
    "date-underflow": poisoned("publishedAt", '"0001-01-01T00:00:00+23:59"'),
    "date-digits": poisoned("publishedAt", HUGE),
    "keywords-junk": poisoned("ai_keywords", '{"a": [1, {"b": NaN}]}'),
    "link-junk": poisoned("githubRepo", '["https://x"]'),
}


class BuggyRetriever(AnyRetriever):
    """The real retriever, except that /buggy raises an exception no contract allows (a bug
    in a retriever or a library): the service must turn it into that source's failure."""

    async def fetch(self, location: str, validators: Validators | None = None) -> Fetched:
        if "/buggy" in location:
            raise ZeroDivisionError("division by zero deep inside a library")
        return await super().fetch(location, validators)


@dataclass
class Rig:
    service: Service
    app: App
    tmp: Path
    console: io.StringIO

    def status(self) -> tuple[int, str, dict[str, Any]]:
        # `status` reports the configured sources only (issue 17): the rig's sources
        settings = self.app.settings
        sources = [
            {"name": s.name, "kind": s.kind, "url": s.url, "path": s.path and str(s.path)}
            for s in settings.sources
        ]
        config = self.tmp / "status.yaml"
        config.write_text(json.dumps({"database": str(self.tmp / "p.db"), "sources": sources}))
        runner = CliRunner()
        text = runner.invoke(cli, ["--config", str(config), "status"])
        as_json = runner.invoke(cli, ["--config", str(config), "status", "--json"])
        return text.exit_code, text.output, json.loads(as_json.output)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async def serve(request: web.Request) -> web.Response:
        body = POISONS[request.match_info["name"]]
        return web.Response(body=body, content_type="application/json")

    web_app = web.Application()
    web_app.router.add_get("/hf/{name}", serve)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    origin = f"http://127.0.0.1:{runner.addresses[0][1]}"
    sources = [
        SourceSettings(name=name, kind="hf-daily", url=f"{origin}/hf/{name}?date={{date}}")
        for name in POISONS
    ]
    sources.append(SourceSettings(name="buggy", kind="hf-daily", url=f"{origin}/buggy"))
    settings = Settings(
        database=str(tmp_path / "p.db"),
        sources=sources,
        channels=[
            ChannelSettings(
                platform="console",
                id="moe",
                topics=["mixture of experts"],
                schedule="0 9 * * *",
                max_posts=0,
                lookback="2d",
            )
        ],
    )
    clock = Clock(MONDAY)
    app = build_app(settings, clock=clock)
    console = io.StringIO()

    retriever = BuggyRetriever(
        http=HttpRetriever(timeout=5, retry=RetryPolicy(attempts=1), sleep=no_sleep)
    )
    service = Service(app, {"console": ConsoleDelivery(console)}, retriever, clock)
    try:
        yield Rig(service, app, tmp_path, console)
    finally:
        await service.stop()
        await retriever.aclose()
        app.close()
        await runner.cleanup()


async def test_poisoned_values_cost_at_most_their_entry_and_a_buggy_source_fails_alone(
    rig: Rig, record_property: Callable[[str, object], None]
) -> None:
    # The digest job fetches every source first: it must run and post.
    outcome = await rig.service.scheduled_digest("console:moe")
    assert outcome is not None and outcome.status == "done", outcome
    assert len(outcome.posted) >= ENTRIES - 1  # every entry of every source, poison aside

    # Each poisoned source stored every good entry; the poisoned one lost a field or itself.
    lost = 0
    states = {s.name: s for s in rig.app.source_state.all()}
    for name in POISONS:
        state = states[name]
        assert state.consecutive_failures == 0, (name, state.last_error)
        assert state.last_result and state.last_result.startswith("parsed "), state
        parsed = int(state.last_result.split()[1].rstrip(","))
        assert parsed >= ENTRIES - 1, (name, state.last_result)
        lost += ENTRIES - parsed
    for key in (f"2611.{i + 700:05d}" for i in range(ENTRIES)):
        paper = rig.app.archive.get(key)
        assert paper is not None
        assert paper.upvotes is None or 0 <= paper.upvotes < 2**31, paper.upvotes

    # The buggy source is a failed fetch, named, with a message that says what to do.
    buggy = states["buggy"]
    assert buggy.consecutive_failures == 1
    assert buggy.last_error and "ZeroDivisionError" in buggy.last_error
    assert "bug" in buggy.last_error

    code, text, status = rig.status()
    assert code == 1
    assert status["failing"] == ["source buggy"]
    assert "  buggy: last fetch 2026-11-23 09:00 UTC — failed (1×): " in text

    # /healthz: alive (restarting would not help) but degraded, naming the source.
    runner = await start_health(rig.app, lambda: True, "127.0.0.1", 0)
    try:
        port = runner.addresses[0][1]
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as resp,
        ):
            body = await resp.json()
            assert resp.status == 200
    finally:
        await runner.cleanup()
    assert body["ok"] is True and body["degraded"] is True
    assert body["failing"] == ["source buggy"]

    record_property("poison_kinds", len(POISONS))
    record_property("entries_lost", lost)
    print(
        f"\nRELIABILITY poison: {len(POISONS)} poisoned sources x {ENTRIES} entries, "
        f"{lost} entries rejected, {ENTRIES} papers stored, 1 buggy source failed alone"
    )


async def test_a_fetch_that_raises_unexpectedly_is_a_reported_failure_not_an_exception(
    rig: Rig,
) -> None:
    """What the scheduler runs for the buggy source returns its failed report."""
    report = await rig.service.fetch("buggy")
    assert report is not None and report.failed
    assert report.error and "ZeroDivisionError" in report.error
