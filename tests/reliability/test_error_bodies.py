"""Error answers that are not the platform's JSON: a load balancer, proxy or CDN in front of
Slack or Discord answers 4xx/5xx with an empty body, a line of text, an HTML page, or JSON
cut short. Every delivery (Slack bot, Discord bot, Slack webhook, Discord webhook), through
the real clients against the fake servers, must turn each such answer into a clear
per-channel failure (4xx) or a retry (5xx); never an exception escaping the digest, and the
channels after it still get their digest.

Two channels per delivery kind follow the same topic; the first post request of each kind
gets the bad answer, so one channel of each kind meets it and the other must be untouched.
Waits run on an injected clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord.http
import pytest
from moe_papers import hf_daily_json

from bot.app import App, build_app
from bot.delivery.base import Delivery
from bot.delivery.discord import DiscordDelivery
from bot.delivery.slack import SlackDelivery, slack_client
from bot.delivery.webhook import DiscordWebhookDelivery, SlackWebhookDelivery
from bot.digest import ChannelOutcome, DigestCycle
from bot.settings import ChannelSettings, Settings
from bot.sources.detect import parse_any
from fakes.clock import SkipClock
from fakes.discord import FakeDiscord
from fakes.faults import BODIES, BodyKind, FaultPlan, error_body
from fakes.slack import FakeSlack

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("discord_route")]

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
MATCHING = 12
STATUSES = (400, 403, 404, 500, 502, 503)
SLACK_CHS, SLACK_HOOK_CHS = ("C0ERRBODY1", "C0ERRBODY2"), ("C0ERRHOOK1", "C0ERRHOOK2")
DISCORD_CHS = ("1200000000000000101", "1200000000000000102")
DISCORD_HOOK_CHS = ("1200000000000000201", "1200000000000000202")
POST, HOOK = "chat.postMessage", FakeSlack.WEBHOOK
SEND, EXECUTE = FakeDiscord.SEND_MESSAGE, FakeDiscord.EXECUTE_WEBHOOK
ARXIV_ABS = re.compile(r"arxiv\.org/abs/(\d{4}\.\d{5})")


def papers_json(n: int) -> bytes:
    return hf_daily_json(n, first_id=300)


@dataclass
class Rig:
    slack: FakeSlack
    discord: FakeDiscord
    app: App
    deliveries: dict[str, Delivery]
    clock: SkipClock
    refs: dict[str, tuple[str, str]]  # delivery kind -> its two channel refs

    async def digest(self) -> dict[str, ChannelOutcome]:
        cycle = DigestCycle(
            archive=self.app.archive,
            ledger=self.app.ledger,
            runs=self.app.runs,
            lexicon=self.app.lexicon,
            deliveries=self.deliveries,
            clock=lambda: NOW,
            sleep=self.clock.sleep,
        )
        return {o.profile.ref: o for o in await cycle.run(self.app.profiles.all())}

    def delivered(self, ref: str) -> list[str]:
        """Paper keys in the messages the fakes accepted for `ref`, one per appearance."""
        platform, _, _ = ref.partition(":")
        channel = {
            **dict(zip(self.refs["slack"], SLACK_CHS, strict=True)),
            **dict(zip(self.refs["discord"], DISCORD_CHS, strict=True)),
            **dict(zip(self.refs["slack-webhook"], SLACK_HOOK_CHS, strict=True)),
            **dict(zip(self.refs["discord-webhook"], DISCORD_HOOK_CHS, strict=True)),
        }[ref]
        if platform.startswith("slack"):
            blobs = [m["blocks"] for m in self.slack.messages(channel)]
        else:
            blobs = [m["embeds"] for m in self.discord.messages(channel)]
        return [k for b in blobs for k in sorted(set(ARXIV_ABS.findall(json.dumps(b))))]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = SkipClock()
    async with (
        FakeSlack(channels=SLACK_CHS, clock=clock) as slack,
        FakeDiscord(channels=DISCORD_CHS, clock=clock) as dc,
    ):
        discord.http.Route.BASE = dc.base
        common: dict[str, Any] = {"topics": ["mixture of experts"], "max_posts": 0}
        slack_hooks = {f"hook{i}": slack.add_webhook(ch) for i, ch in enumerate(SLACK_HOOK_CHS)}
        discord_hooks = {f"hook{i}": dc.add_webhook(ch) for i, ch in enumerate(DISCORD_HOOK_CHS)}
        channels = [ChannelSettings(platform="slack", id=c, **common) for c in SLACK_CHS]
        channels += [ChannelSettings(platform="discord", id=c, **common) for c in DISCORD_CHS]
        channels += [
            ChannelSettings(platform="slack-webhook", id=name, url=url, **common)
            for name, url in slack_hooks.items()
        ]
        channels += [
            ChannelSettings(platform="discord-webhook", id=name, url=url, **common)
            for name, url in discord_hooks.items()
        ]
        app = build_app(Settings(database=str(tmp_path / "p.db"), channels=channels))
        papers = parse_any(papers_json(MATCHING), source="hf", kind="hf-daily").papers
        app.archive.upsert(papers, now=NOW - timedelta(hours=1))
        deliveries: dict[str, Delivery] = {
            "slack": SlackDelivery(slack_client(slack.token, slack.url, timeout=1)),
            "discord": DiscordDelivery(dc.token, timeout=0.5),
            "slack-webhook": SlackWebhookDelivery(
                {f"slack-webhook:{k}": v for k, v in slack_hooks.items()},
                timeout=0.5,
                sleep=clock.sleep,
            ),
            "discord-webhook": DiscordWebhookDelivery(
                {f"discord-webhook:{k}": v for k, v in discord_hooks.items()},
                timeout=0.5,
                sleep=clock.sleep,
            ),
        }
        refs = {
            "slack": tuple(f"slack:{c}" for c in SLACK_CHS),
            "discord": tuple(f"discord:{c}" for c in DISCORD_CHS),
            "slack-webhook": tuple(f"slack-webhook:{k}" for k in slack_hooks),
            "discord-webhook": tuple(f"discord-webhook:{k}" for k in discord_hooks),
        }
        rig = Rig(slack, dc, app, deliveries, clock, refs)  # type: ignore[arg-type]
        try:
            yield rig
        finally:
            for delivery in deliveries.values():
                await delivery.aclose()
            app.close()


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("status", STATUSES)
async def test_foreign_error_bodies_fail_or_retry_only_their_channel(
    rig: Rig, status: int, body: BodyKind
) -> None:
    bad = error_body(status, body)
    rig.slack.faults = FaultPlan.combine(
        FaultPlan.script([bad], only={POST}), FaultPlan.script([bad], only={HOOK})
    )
    rig.discord.faults = FaultPlan.combine(
        FaultPlan.script([bad], only={SEND}), FaultPlan.script([bad], only={EXECUTE})
    )
    outcomes = await rig.digest()  # raises if anything escaped the digest

    summary = {ref: (o.status, o.error) for ref, o in outcomes.items()}
    assert rig.slack.faults.total == rig.discord.faults.total == 2, summary  # each kind met it
    for kind, refs in rig.refs.items():
        statuses = sorted(outcomes[r].status for r in refs)
        if status >= 500:  # transient: retried, every paper once in both channels
            assert statuses == ["done", "done"], (kind, summary)
        else:  # refused: one channel fails clearly, the other gets its whole digest
            assert statuses == ["done", "failed"], (kind, summary)
            failed = next(outcomes[r] for r in refs if outcomes[r].status == "failed")
            error = failed.error or ""
            assert str(status) in error, (kind, error)
            assert "<" not in error and "\n" not in error, (kind, error)  # no page dumped
            assert "whtoken" not in error and "/services/" not in error  # no webhook URL
            assert not failed.posted and not rig.app.ledger.posted(failed.profile.ref)
        for ref in refs:
            if outcomes[ref].status == "done":
                keys = rig.delivered(ref)
                assert len(keys) == MATCHING and len(set(keys)) == MATCHING, (ref, keys)
