"""Digests end to end: real SQLite, real slack_sdk / discord.py / aiohttp clients, local fake
Slack and Discord servers that enforce the platforms' limits, two simulated days."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.app import App, build_app, build_deliveries
from bot.cli import cli
from bot.digest import ChannelOutcome
from bot.settings import ChannelSettings, DiscordSettings, Settings, SlackSettings
from bot.sources.detect import parse_any
from fakes.clock import Clock
from fakes.discord import FakeDiscord
from fakes.faults import FaultPlan
from fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("discord_route")  # Route.BASE restored

DAY1 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
SLACK_CH, DISCORD_CH = "C0DIGEST01", "1200000000000000042"
TOPICS = ["mixture of experts", "speech", "spelling correction", "mention injection"]
SAMPLE = Path(__file__).resolve().parents[1] / "bot" / "data" / "sample-dump.txt"


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeSlack, FakeDiscord]]:
    async with FakeSlack(channels=[SLACK_CH]) as slack, FakeDiscord(channels=[DISCORD_CH]) as dc:
        yield slack, dc


def _settings(tmp_path: Path, slack: FakeSlack, dc: FakeDiscord, **channel: Any) -> Settings:
    common: dict[str, Any] = {"topics": TOPICS, "max_posts": 0, "lookback": "2d", **channel}
    return Settings(
        database=str(tmp_path / "p.db"),
        slack=SlackSettings(bot_token=slack.token, api_url=slack.url),
        discord=DiscordSettings(bot_token=dc.token, api_url=dc.base),
        channels=[
            ChannelSettings(platform="slack", id=SLACK_CH, name="papers", **common),
            ChannelSettings(platform="discord", id=DISCORD_CH, name="papers", **common),
            ChannelSettings(
                platform="slack-webhook", id="hook", url=slack.add_webhook("C0HOOK"), **common
            ),
            ChannelSettings(platform="console", id="demo", **common),
        ],
    )


def _many_moe_papers(tmp_path: Path, n: int = 30) -> Path:
    """A layout-b dump of `n` distinct Mixture-of-Experts papers (enough to split messages)."""
    records = [
        f"Routing Study {i}: Sparse Mixture-of-Experts Layers at Scale {i}\n\n"
        f"We propose routing variant {i} for Mixture-of-Experts (MoE) models. Experts are "
        f"selected per token by a learned gate, and variant {i} balances expert load."
        for i in range(n)
    ]
    path = tmp_path / "many.txt"
    path.write_text("new\n\nMar 12\n\n" + "\n\n".join(records) + "\n")
    return path


def _ingest(app: App, *paths: Path) -> None:
    for path in paths:
        result = parse_any(path.read_bytes(), source=path.name)
        app.archive.upsert(result.papers, now=app.clock())


async def _digest(app: App, console: list[str] | None = None) -> list[ChannelOutcome]:
    import io

    stream = io.StringIO()
    deliveries = build_deliveries(app.settings, stream=stream)
    try:
        return await app.digest_cycle(deliveries).run(app.profiles.all())
    finally:
        for d in deliveries.values():
            await d.aclose()
        if console is not None:
            console.append(stream.getvalue())


def _slack_papers(slack: FakeSlack, channel: str) -> list[str]:
    """Paper keys per accepted Slack message, from the metadata each digest message carries."""
    keys: list[str] = []
    for m in slack.messages(channel):
        payload = (m.get("metadata") or {}).get("event_payload") or {}
        keys += payload.get("papers", [])
    return keys


def _discord_titles(dc: FakeDiscord) -> list[str]:
    return [e["title"] for m in dc.messages(DISCORD_CH) for e in m.get("embeds", [])]


def _expected(app: App) -> set[str]:
    """Every archived paper the profile matches (computed independently of the ledger)."""
    profile = app.profiles.all()[0]
    matcher = app.matcher(app.archive.all())
    return {m.paper.key for m in matcher.match(profile)}


async def test_two_days_every_paper_once_per_channel(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeDiscord], fixtures_dir: Path
) -> None:
    slack, dc = fakes
    clock = Clock(DAY1)
    app = build_app(_settings(tmp_path, slack, dc), clock=clock)
    console: list[str] = []
    try:
        _ingest(app, fixtures_dir / "dump_layout_a.txt")
        day1 = await _digest(app, console)
        clock.now = DAY1 + timedelta(days=1)
        _ingest(app, fixtures_dir / "dump_layout_b.txt", SAMPLE, _many_moe_papers(tmp_path))
        day2 = await _digest(app, console)
        clock.now = DAY1 + timedelta(days=2)
        day3 = await _digest(app, console)
        expected = _expected(app)
    finally:
        app.close()

    assert all(o.status == "done" for o in day1 + day2), [
        (o.profile.ref, o.status, o.error) for o in day1 + day2
    ]
    assert all(o.status == "empty" and not o.posted for o in day3)
    assert len(expected) >= 40
    for outcomes in (day1, day2):
        assert len({tuple(sorted(o.posted)) for o in outcomes}) == 1  # same papers everywhere
    slack_days = [o for o in day1 + day2 if o.profile.platform == "slack"]
    posted = [k for o in slack_days for k in o.posted]
    # Besides its matches, a digest asks about a few borderline papers ("Unsure — is this
    # for you?", bot.pipeline.match.asked): posted once too, and never a matching paper.
    asked = [i.paper.key for o in slack_days if o.digest for i in o.digest.items if i.unsure]
    assert len(asked) <= 2 * len(slack_days) and not set(asked) & expected
    assert sorted(posted) == sorted([*expected, *asked])  # each paper exactly once

    slack_keys = _slack_papers(slack, SLACK_CH)
    assert sorted(slack_keys) == sorted(posted)
    hook_messages = slack.messages("C0HOOK")
    assert len(hook_messages) >= 2
    titles = _discord_titles(dc)
    assert len(titles) == len(set(titles)) == len(posted)
    assert len(slack.messages(SLACK_CH)) > 2  # day 2 was split into several messages
    # The paper listed in both days' dumps is posted on day 1 only.
    listed = re.compile(r"^\d+\. Multi-Head Mixture-of-Experts$", re.MULTILINE)
    assert listed.search(console[0]) and not listed.search(console[1])
    for m in slack.messages(SLACK_CH):
        assert m["unfurl_links"] is False and not m.get("link_names") and not m.get("parse")
    for m in dc.messages(DISCORD_CH):
        assert m["allowed_mentions"] == {"parse": []}


def _no_live_mentions_slack(text: str) -> None:
    # Slack: a mention is `<!channel>`, `<!here>`, `<@U…>`; a link `<http…|…>`. From paper
    # text these must arrive escaped (&lt;).
    assert not re.search(r"<[!@#]", text), text
    for link in re.findall(r"<(http[^|>]*)\|", text):
        assert link.startswith(("https://arxiv.org/", "https://huggingface.co/")), link


async def test_mentions_in_paper_text_ping_nobody(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeDiscord], fixtures_dir: Path
) -> None:
    slack, dc = fakes
    app = build_app(_settings(tmp_path, slack, dc), clock=Clock(DAY1))
    try:
        _ingest(app, fixtures_dir / "dump_layout_a.txt", SAMPLE)
        outcomes = await _digest(app)
    finally:
        app.close()
    assert all(o.status == "done" for o in outcomes)
    slack_texts = [json.dumps(m.get("blocks")) + m.get("text", "") for m in slack.messages()]
    assert any("&lt;!channel&gt;" in t for t in slack_texts)  # shown literally
    for m in slack.messages():
        for block in m.get("blocks") or []:
            _no_live_mentions_slack(json.dumps(block))
        _no_live_mentions_slack(m.get("text", ""))
    for m in dc.messages(DISCORD_CH):
        blob = json.dumps(m.get("embeds")) + (m.get("content") or "")
        assert "@everyone" not in blob and "@here" not in blob and "<@" not in blob


async def test_rate_limits_and_server_errors_lose_and_duplicate_nothing(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeDiscord], fixtures_dir: Path
) -> None:
    slack, dc = fakes
    slack.faults = FaultPlan.random(7, rate_limit=0.3, server_error=0.1, retry_after=0)
    dc.faults = FaultPlan.random(8, rate_limit=0.3, server_error=0.1, retry_after=0.01, status=503)
    clock = Clock(DAY1)
    app = build_app(_settings(tmp_path, slack, dc), clock=clock)
    try:
        _ingest(app, fixtures_dir / "dump_layout_a.txt", SAMPLE)
        for day in range(4):  # whatever failed is retried by the next cycle
            clock.now = DAY1 + timedelta(days=day)
            await _digest(app)
        expected = _expected(app)
    finally:
        app.close()
    assert sum(slack.faults.injected.values()) > 0 and sum(dc.faults.injected.values()) > 0
    assert sorted(_slack_papers(slack, SLACK_CH)) == sorted(expected)
    titles = _discord_titles(dc)
    assert len(titles) == len(set(titles)) == len(expected)


async def test_new_channel_starts_from_the_lookback_not_the_archive(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeDiscord], fixtures_dir: Path
) -> None:
    slack, dc = fakes
    clock = Clock(DAY1 - timedelta(days=10))
    app = build_app(_settings(tmp_path, slack, dc, lookback="1d"), clock=clock)
    try:
        _ingest(app, SAMPLE)  # ten days old: history, not news
        clock.now = DAY1
        _ingest(app, fixtures_dir / "dump_layout_a.txt")
        outcomes = await _digest(app)
        new_keys = {p.key for p in app.archive.since(DAY1 - timedelta(days=1))}
    finally:
        app.close()
    slack_outcome = next(o for o in outcomes if o.profile.platform == "slack")
    assert slack_outcome.posted and set(slack_outcome.posted) <= new_keys


def _db_state(path: Path) -> tuple[str, list[str]]:
    """The database file's sha256 and a full SQL dump (sidecar WAL files included)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        dump = list(conn.iterdump())
    conn.close()
    files = sorted(path.parent.glob(path.name + "*"))
    digest = hashlib.sha256(b"".join(f.name.encode() + f.read_bytes() for f in files))
    return digest.hexdigest(), dump


def test_dry_run_json_prints_lines_and_changes_nothing(tmp_path: Path, fixtures_dir: Path) -> None:
    db = tmp_path / "p.db"
    bare = tmp_path / "bare.yaml"  # no channels: the ingest creates no channel rows
    bare.write_text(f"database: {db}\n")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"database: {db}\n"
        "channels:\n"
        f"  - {{platform: console, id: demo, topics: {json.dumps(TOPICS)}}}\n"
    )
    runner = CliRunner()
    ingest = runner.invoke(cli, ["--config", str(bare), "ingest", str(SAMPLE)])
    assert ingest.exit_code == 0, ingest.output
    before = _db_state(db)
    assert not any('INSERT INTO "channels"' in line for line in before[1])
    result = runner.invoke(cli, ["--config", str(config), "digest", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) >= 5
    for line in lines:
        assert set(line) >= {"channel", "key", "title", "score", "matched", "summary", "links"}
        assert line["channel"] == "demo" and line["matched"]
    assert _db_state(db) == before
    shown = runner.invoke(cli, ["--config", str(config), "channels"])
    assert shown.exit_code == 0 and "console:demo" in shown.output and "speech" in shown.output
    assert _db_state(db) == before
    real = runner.invoke(cli, ["--config", str(config), "digest"])
    assert real.exit_code == 0 and f"posted {len(lines)} paper(s)" in real.output


async def test_permanent_errors_skip_that_channel_and_the_others_go_on(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeDiscord], fixtures_dir: Path
) -> None:
    slack, dc = fakes
    slack.delete_channel(SLACK_CH)
    dc.add_channel(DISCORD_CH, access=False)
    clock = Clock(DAY1)
    app = build_app(_settings(tmp_path, slack, dc), clock=clock)
    try:
        _ingest(app, fixtures_dir / "dump_layout_a.txt")
        outcomes = {o.profile.platform: o for o in await _digest(app)}
        # Nothing was recorded for the failed channels: once fixed, the next cycle posts.
        slack.add_channel(SLACK_CH)
        dc.add_channel(DISCORD_CH, access=True)
        clock.now = DAY1 + timedelta(hours=1)
        retry = {o.profile.platform: o for o in await _digest(app)}
    finally:
        app.close()
    assert outcomes["slack"].status == "failed" and "channel_not_found" in (
        outcomes["slack"].error or ""
    )
    assert outcomes["discord"].status == "failed" and "403" in (outcomes["discord"].error or "")
    assert outcomes["slack-webhook"].status == "done" and outcomes["console"].status == "done"
    assert retry["slack"].posted == outcomes["console"].posted
    assert retry["discord"].posted == outcomes["console"].posted
    assert retry["console"].status == "empty"


async def test_revoked_token_is_reported_without_the_secret(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeDiscord], fixtures_dir: Path
) -> None:
    slack, dc = fakes
    slack.revoke(slack.token)
    dc.revoke(dc.token)
    app = build_app(_settings(tmp_path, slack, dc), clock=Clock(DAY1))
    try:
        _ingest(app, fixtures_dir / "dump_layout_a.txt")
        outcomes = {o.profile.platform: o for o in await _digest(app)}
    finally:
        app.close()
    for platform in ("slack", "discord"):
        error = outcomes[platform].error or ""
        assert outcomes[platform].status == "failed" and error
        assert slack.token not in error and dc.token not in error
    assert "invalid_auth" in (outcomes["slack"].error or "")
    assert outcomes["console"].status == "done"


async def test_scheduled_run_is_claimed_once_and_empty_days_post_nothing(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeDiscord], fixtures_dir: Path
) -> None:
    slack, dc = fakes
    clock = Clock(DAY1)
    app = build_app(_settings(tmp_path, slack, dc), clock=clock)
    slot = DAY1.replace(hour=9)
    try:
        _ingest(app, fixtures_dir / "dump_layout_a.txt")
        cycle = app.digest_cycle(build_deliveries(app.settings))
        first = await cycle.run(app.profiles.all(), scheduled_for=slot)
        _ingest(app, SAMPLE)  # more papers arrive, but this slot already ran
        clock.now = DAY1 + timedelta(minutes=5)
        second = await cycle.run(app.profiles.all(), scheduled_for=slot)
        clock.now = DAY1 + timedelta(days=1)
        next_slot = await cycle.run(app.profiles.all(), scheduled_for=slot + timedelta(days=1))
    finally:
        app.close()
    assert all(o.status == "done" for o in first)
    assert all(o.status == "claimed" and not o.posted for o in second)
    # The sample papers (ingested after the first run) are the next slot's news.
    assert all(o.status == "done" and o.posted for o in next_slot)


async def test_post_empty_sends_a_short_note_only_when_asked(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeDiscord]
) -> None:
    slack, dc = fakes
    app = build_app(_settings(tmp_path, slack, dc, post_empty=True), clock=Clock(DAY1))
    try:
        outcomes = await _digest(app)
    finally:
        app.close()
    assert all(o.status == "done" and not o.posted for o in outcomes)
    (note,) = slack.messages(SLACK_CH)
    assert "No new papers" in note["text"]
    quiet = build_app(_settings(tmp_path / "q", slack, dc), clock=Clock(DAY1))
    try:
        outcomes = await _digest(quiet)
    finally:
        quiet.close()
    assert all(o.status == "empty" for o in outcomes)
    assert len(slack.messages(SLACK_CH)) == 1
