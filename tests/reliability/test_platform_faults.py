"""Platform faults: one digest to a Slack channel, a Discord channel, a Slack webhook and a
Discord webhook, through the real clients (slack_sdk, discord.py, aiohttp), against the
local fake servers with injected faults.

What is recoverable (429 storms, 5xx bursts, requests held past the client timeout,
connection resets, answers lost after the platform posted) must arrive exactly once: every
matched paper once per channel, none twice, read back from what the fakes recorded. What is
not (a revoked token, a deleted channel, a revoked webhook) fails that channel with a clear
error, shows in `paperboy status`, and the other channels go on.

Time: every wait Paperboy makes (between send attempts, after a webhook's 429) goes through
an injected sleep that moves the test clock forward at once; storms last a duration on that
clock. Only the clients' own internal waits (slack_sdk's Retry-After jitter, discord.py's
retry_after) and the client timeouts are real, and they are kept small.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord.http
import pytest
from click.testing import CliRunner

from bot.app import App, build_app
from bot.cli import cli
from bot.delivery.base import Delivery
from bot.delivery.discord import DiscordDelivery
from bot.delivery.slack import SlackDelivery, slack_client
from bot.delivery.webhook import DiscordWebhookDelivery, SlackWebhookDelivery
from bot.digest import ChannelOutcome, DigestCycle
from bot.settings import ChannelSettings, Settings
from bot.sources.detect import parse_any
from fakes.clock import Clock, SkipClock
from fakes.discord import FakeDiscord
from fakes.faults import (
    Fault,
    FaultPlan,
    delay,
    disconnect,
    hang,
    rate_limit,
    reset,
    server_error,
)
from fakes.slack import FakeSlack

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("discord_route")]

DAY1 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SLACK_CH, DISCORD_CH = "C0DIGEST01", "1200000000000000042"
SLACK_HOOK_CH, DISCORD_HOOK_CH = "C0HOOK0001", "1200000000000000077"
SLACK_REF, DISCORD_REF = f"slack:{SLACK_CH}", f"discord:{DISCORD_CH}"
SLACK_HOOK_REF, DISCORD_HOOK_REF = "slack-webhook:team-hook", "discord-webhook:team-hook"
REFS = (SLACK_REF, DISCORD_REF, SLACK_HOOK_REF, DISCORD_HOOK_REF)
POST, HOOK = "chat.postMessage", FakeSlack.WEBHOOK
SEND, EXECUTE = FakeDiscord.SEND_MESSAGE, FakeDiscord.EXECUTE_WEBHOOK
MATCHING, OTHER = 60, 6  # papers about the channels' topic, and papers about nothing of it
HELD = 60.0  # a held request outlasts every client timeout (the fake wakes on close)
LOGIN = "GET /users/@me"  # discord.py's static_login
ARXIV_ABS = re.compile(r"arxiv\.org/abs/(\d{4}\.\d{5})")


def hf_daily_json(matching: int, other: int, *, first: int = 0) -> bytes:
    """An HF Daily Papers answer: `matching` Mixture-of-Experts papers and `other` papers on
    protein folding, each with an arXiv id (so every posted message names its papers)."""
    papers = []
    for i in range(first, first + matching + other):
        moe = i < first + matching
        title = (
            f"Sparse Mixture-of-Experts Routing Study {i}: Balanced Expert Load at Scale"
            if moe
            else f"Protein Folding with Lattice Models, Part {i}"
        )
        summary = (
            f"We propose routing variant {i} for Mixture-of-Experts (MoE) language models. "
            "A learned gate selects experts per token and balances their load."
            if moe
            else f"We fold proteins on lattice {i} and compare energy functions."
        )
        papers.append(
            {
                "paper": {
                    "id": f"2611.{i + 100:05d}",
                    "title": title,
                    "summary": summary,
                    "authors": [{"name": "Ada Example"}, {"name": "Wei Zhang"}],
                    "submittedOnDailyAt": "2026-11-23T03:00:00.000Z",
                    "upvotes": i,
                },
                "title": title,
            }
        )
    return json.dumps(papers).encode()


# --- the rig ------------------------------------------------------------------------------


@dataclass
class Tally:
    """What one scenario injected and what arrived. `whole` are the channels that must
    have every paper exactly once; the others failed on purpose (unrecoverable)."""

    scenario: str
    faults: dict[str, int]
    requests: int
    messages: int
    expected: set[str]
    delivered: dict[str, list[str]]  # channel ref -> paper keys, one per appearance
    whole: tuple[str, ...]
    seconds: float

    def lost(self, ref: str) -> set[str]:
        return self.expected - set(self.delivered[ref])

    def duplicates(self, ref: str) -> int:
        return len(self.delivered[ref]) - len(set(self.delivered[ref]))

    @property
    def total_lost(self) -> int:
        return sum(len(self.lost(r)) for r in self.whole)

    @property
    def total_duplicates(self) -> int:
        return sum(self.duplicates(r) for r in self.delivered)

    def line(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        failed = [r for r in self.delivered if r not in self.whole]
        return (
            f"{self.scenario}: faults injected {sum(self.faults.values())} ({faults}); "
            f"requests sent {self.requests}; messages accepted {self.messages}; "
            f"papers due {len(self.expected) * len(self.whole)} "
            f"({len(self.expected)} x {len(self.whole)} channels); "
            f"lost {self.total_lost}; duplicates {self.total_duplicates}"
            + (f"; failed on purpose: {', '.join(failed)}" if failed else "")
            + f"; {self.seconds:.1f}s"
        )


@dataclass
class Rig:
    """Fake Slack and Discord, an app whose four channels follow Mixture-of-Experts, and
    deliveries with short client timeouts whose own waits use the test clock."""

    slack: FakeSlack
    discord: FakeDiscord
    app: App
    deliveries: dict[str, Delivery]
    clock: SkipClock
    now: Clock
    tmp: Path
    hook_urls: dict[str, str]
    started: float = field(default_factory=time.monotonic)

    def cycle(self) -> DigestCycle:
        return DigestCycle(
            archive=self.app.archive,
            ledger=self.app.ledger,
            runs=self.app.runs,
            lexicon=self.app.lexicon,
            deliveries=self.deliveries,
            clock=self.now,
            sleep=self.clock.sleep,
        )

    async def digest(self) -> dict[str, ChannelOutcome]:
        outcomes = await self.cycle().run(self.app.profiles.all())
        return {o.profile.ref: o for o in outcomes}

    def expected(self) -> set[str]:
        profile = self.app.profiles.get("slack", SLACK_CH)
        assert profile is not None
        return {m.paper.key for m in self.app.matcher(self.app.archive.all()).match(profile)}

    def delivered(self) -> dict[str, list[str]]:
        """Paper keys per channel, read from the messages the fakes accepted."""

        def keys(blobs: list[Any]) -> list[str]:
            # A paper's title links to its arXiv abstract once per message.
            return [k for blob in blobs for k in sorted(set(ARXIV_ABS.findall(json.dumps(blob))))]

        return {
            SLACK_REF: keys([m["blocks"] for m in self.slack.messages(SLACK_CH)]),
            DISCORD_REF: keys([m["embeds"] for m in self.discord.messages(DISCORD_CH)]),
            SLACK_HOOK_REF: keys([m["blocks"] for m in self.slack.messages(SLACK_HOOK_CH)]),
            DISCORD_HOOK_REF: keys([m["embeds"] for m in self.discord.messages(DISCORD_HOOK_CH)]),
        }

    def tally(self, scenario: str, whole: tuple[str, ...] = REFS) -> Tally:
        faults = dict(self.slack.faults.injected)
        for kind, n in self.discord.faults.injected.items():
            faults[kind] = faults.get(kind, 0) + n
        return Tally(
            scenario,
            faults,
            sum(self.slack.requests.values()) + sum(self.discord.requests.values()),
            len(self.slack.messages()) + len(self.discord.messages()),
            self.expected(),
            self.delivered(),
            whole,
            time.monotonic() - self.started,
        )

    def status(self) -> tuple[int, str, dict[str, Any]]:
        """`paperboy status` and `paperboy status --json` on this rig's database, with its
        channels (status reports the configured channels only, issue 17)."""
        channels = [
            {"platform": c.platform, "id": c.id}
            | ({"url": c.url.get_secret_value()} if c.url is not None else {})
            for c in self.app.settings.channels
        ]
        config = self.tmp / "status.yaml"
        config.write_text(json.dumps({"database": str(self.tmp / "p.db"), "channels": channels}))
        runner = CliRunner()
        text = runner.invoke(cli, ["--config", str(config), "status"])
        as_json = runner.invoke(cli, ["--config", str(config), "status", "--json"])
        assert text.exit_code == as_json.exit_code, (text.output, as_json.output)
        return text.exit_code, text.output, json.loads(as_json.output)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = SkipClock()
    async with (
        FakeSlack(channels=[SLACK_CH], clock=clock) as slack,
        FakeDiscord(channels=[DISCORD_CH], clock=clock) as dc,
    ):
        discord.http.Route.BASE = dc.base
        slack_hook, discord_hook = slack.add_webhook(SLACK_HOOK_CH), dc.add_webhook(DISCORD_HOOK_CH)
        common: dict[str, Any] = {
            "topics": ["mixture of experts"],
            "max_posts": 0,
            "lookback": "2d",
        }
        settings = Settings(
            database=str(tmp_path / "p.db"),
            channels=[
                ChannelSettings(platform="slack", id=SLACK_CH, **common),
                ChannelSettings(platform="discord", id=DISCORD_CH, **common),
                ChannelSettings(platform="slack-webhook", id="team-hook", url=slack_hook, **common),
                ChannelSettings(
                    platform="discord-webhook", id="team-hook", url=discord_hook, **common
                ),
            ],
        )
        now = Clock(DAY1)
        app = build_app(settings, clock=now)
        papers = parse_any(hf_daily_json(MATCHING, OTHER), source="hf", kind="hf-daily").papers
        app.archive.upsert(papers, now=DAY1 - timedelta(hours=1))
        deliveries: dict[str, Delivery] = {
            # slack_sdk's timeout is whole seconds; the others take fractions.
            "slack": SlackDelivery(slack_client(slack.token, slack.url, timeout=1)),
            "discord": DiscordDelivery(dc.token, timeout=0.5),
            "slack-webhook": SlackWebhookDelivery(
                {SLACK_HOOK_REF: slack_hook}, timeout=0.5, sleep=clock.sleep
            ),
            "discord-webhook": DiscordWebhookDelivery(
                {DISCORD_HOOK_REF: discord_hook}, timeout=0.5, sleep=clock.sleep
            ),
        }
        hooks = {SLACK_HOOK_REF: slack_hook, DISCORD_HOOK_REF: discord_hook}
        rig = Rig(slack, dc, app, deliveries, clock, now, tmp_path, hooks)
        try:
            yield rig
        finally:
            for delivery in deliveries.values():
                await delivery.aclose()
            app.close()


def report(tally: Tally, record_property: Callable[[str, object], None]) -> None:
    record_property("faults_injected", sum(tally.faults.values()))
    record_property("requests_sent", tally.requests)
    record_property("lost", tally.total_lost)
    record_property("duplicates", tally.total_duplicates)
    print(f"\nRELIABILITY {tally.line()}")


def assert_exactly_once(
    tally: Tally, refs: tuple[str, ...] = REFS, *, expected: int = MATCHING
) -> None:
    assert len(tally.expected) == expected
    for ref in refs:
        assert not tally.lost(ref), (ref, sorted(tally.lost(ref)))
        assert tally.duplicates(ref) == 0, (ref, tally.delivered[ref])
        assert set(tally.delivered[ref]) == tally.expected, ref


# --- the fault plans themselves -------------------------------------------------------------


def test_storms_last_a_duration_and_combined_plans_keep_each_route_apart() -> None:
    clock = SkipClock()
    storm = FaultPlan.storm_for(60.0, "server_error", clock=clock, only={"a"})
    plan = FaultPlan.combine(storm, FaultPlan.script([None, reset()], only={"b"}))
    assert plan.next("c") is None and plan.seen == 0  # not covered: not counted
    assert plan.next("a") == server_error() and plan.next("b") is None
    clock.skipped += 59.0
    assert plan.next("a") == server_error() and plan.next("b") == reset()
    clock.skipped += 1.0  # the storm began at the first request to "a": it is over
    assert plan.next("a") is None and plan.next("b") is None
    assert plan.injected == {"server_error": 2, "reset": 1} and plan.seen == 6
    assert storm.injected == {"server_error": 2} and storm.seen == 3
    assert hang(2.0) == Fault("hang", seconds=2.0)


# --- recoverable faults: everything arrives exactly once -----------------------------------


def _each_route(make: Callable[[str], FaultPlan], routes: tuple[str, ...]) -> FaultPlan:
    return FaultPlan.combine(*(make(route) for route in routes))


def storm_429(clock: SkipClock) -> tuple[FaultPlan, FaultPlan]:
    """Every post answered 429 for 4 s of the test clock (each route from its first post)."""
    slack = FaultPlan.combine(
        # slack_sdk sleeps int(Retry-After) + up to 1 s of jitter itself (real time).
        FaultPlan.storm_for(4.0, rate_limit(0), clock=clock, only={POST}),
        FaultPlan.storm_for(4.0, rate_limit(1), clock=clock, only={HOOK}),
    )
    dc = FaultPlan.combine(
        # discord.py sleeps the body's retry_after itself (real time): keep it short.
        FaultPlan.storm_for(4.0, rate_limit(0.3), clock=clock, only={SEND}),
        FaultPlan.storm_for(4.0, rate_limit(1.0), clock=clock, only={EXECUTE}),
    )
    return slack, dc


def bursts_5xx(clock: SkipClock) -> tuple[FaultPlan, FaultPlan]:
    """Bursts of three 5xx (as many as a message's attempts absorb), then more later."""
    burst = [server_error(500), server_error(503), server_error(502), None]
    later = [None, server_error(503), None, server_error(500), None]
    slack = _each_route(lambda r: FaultPlan.script(burst + later, only={r}), (POST, HOOK))
    # discord.py retries 500/502 itself after 1 + 2n real seconds: mostly 503 for the bot.
    bot = [server_error(503), server_error(503), server_error(500), None, None, server_error(503)]
    dc = FaultPlan.combine(
        FaultPlan.script(bot, only={SEND}),
        FaultPlan.script(burst + later, only={EXECUTE}),
    )
    return slack, dc


def timeouts(clock: SkipClock) -> tuple[FaultPlan, FaultPlan]:
    """Requests held a minute, past the client's timeout, and never processed (a stuck
    proxy): the posts of every route, and the Discord bot's login."""
    script = [hang(HELD), None, None, hang(HELD), None]
    slack = _each_route(lambda r: FaultPlan.script(script, only={r}), (POST, HOOK))
    dc = FaultPlan.combine(
        FaultPlan.script([hang(HELD)], only={LOGIN}),
        *(FaultPlan.script(script, only={r}) for r in (SEND, EXECUTE)),
    )
    return slack, dc


def connection_resets(clock: SkipClock) -> tuple[FaultPlan, FaultPlan]:
    """The fake closes the socket before answering: TCP RST, or a clean FIN."""
    script = [reset(), None, disconnect(), reset(), None, None, reset()]
    slack = _each_route(lambda r: FaultPlan.script(script, only={r}), (POST, HOOK))
    dc = _each_route(lambda r: FaultPlan.script(script, only={r}), (SEND, EXECUTE))
    return slack, dc


def lost_answers(clock: SkipClock) -> tuple[FaultPlan, FaultPlan]:
    """The bot posts are processed, then the answer is lost (socket reset or closed, or
    held past the timeout). Slack finds the message by its metadata in the channel's
    history; Discord drops the repeat by its nonce. (Webhooks have neither: see
    test_a_webhook_answer_lost_after_posting_is_sent_again.)"""
    # Slack's retry finds the message without posting: each scripted step is a new message.
    slack = [reset(after=True), delay(HELD, after=True), disconnect(after=True)]
    # Discord's retry is a post (answered with the first message): faults on every other.
    dc = [reset(after=True), None, delay(HELD, after=True), None, disconnect(after=True)]
    return FaultPlan.script(slack, only={POST}), FaultPlan.script(dc, only={SEND})


def mixed(clock: SkipClock) -> tuple[FaultPlan, FaultPlan]:
    """Everything at once, drawn at random (seeded) for every post of every route: 429,
    5xx, resets, clean closes, held requests, and lost answers on the bot routes (which
    can dedupe them). Half the posts fail: some messages exhaust their attempts, and the
    next cycle posts what is left."""

    def chaos(seed: int, route: str, retry_after: float, status: int, lost: float) -> FaultPlan:
        return FaultPlan.random(
            seed,
            rate_limit=0.15,
            server_error=0.12,
            reset=0.08,
            disconnect=0.05,
            hang=0.03,
            lost_answer=lost,
            retry_after=retry_after,
            status=status,
            hang_seconds=HELD,
            only={route},
        )

    slack = FaultPlan.combine(chaos(10, POST, 0, 500, 0.1), chaos(11, HOOK, 1.0, 500, 0))
    dc = FaultPlan.combine(chaos(12, SEND, 0.05, 503, 0.1), chaos(13, EXECUTE, 1.0, 502, 0))
    return slack, dc


async def until_done(rig: Rig, most: int = 3) -> tuple[dict[str, ChannelOutcome], int]:
    """Digest cycles an hour apart until no channel failed (at most `most`): what a cycle
    could not post, the next one does. Returns the last outcomes and the cycles run."""
    cycles = 0
    outcomes: dict[str, ChannelOutcome] = {}
    while cycles < most and (not outcomes or any(o.failed for o in outcomes.values())):
        cycles += 1
        outcomes = await rig.digest()
        rig.now.now += timedelta(hours=1)
        rig.clock.skipped += 3600
    return outcomes, cycles


SCENARIOS: dict[str, Callable[[SkipClock], tuple[FaultPlan, FaultPlan]]] = {
    "429-storm": storm_429,
    "5xx-bursts": bursts_5xx,
    "timeouts": timeouts,
    "connection-resets": connection_resets,
    "lost-answers": lost_answers,
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_recoverable_faults_deliver_every_paper_exactly_once(
    rig: Rig, scenario: str, record_property: Callable[[str, object], None]
) -> None:
    rig.slack.faults, rig.discord.faults = SCENARIOS[scenario](rig.clock)
    outcomes, cycles = await until_done(rig)
    tally = rig.tally(f"{scenario} ({cycles} cycle(s))")
    report(tally, record_property)

    assert sum(tally.faults.values()) > 0
    assert_exactly_once(tally)
    assert all(o.status == "done" for o in outcomes.values()), [
        (o.profile.ref, o.status, o.error) for o in outcomes.values()
    ]
    assert cycles == 1  # each of these faults is absorbed by the retries of one cycle
    if scenario == "timeouts":
        assert tally.seconds < HELD / 2  # every held request was given up on, in time
    if scenario == "lost-answers":
        assert rig.discord.nonce_hits == 3  # each repeated send returned the first message
        assert rig.slack.requests["conversations.history"] == 3  # found before re-posting
    code, text, status = rig.status()
    assert code == 0 and "failing: nothing" in text and status["failing"] == []


async def test_three_days_of_random_faults_lose_and_duplicate_nothing(
    rig: Rig, record_property: Callable[[str, object], None]
) -> None:
    """Three days of digests, new papers each morning, while about half of all posts fail
    at random (seeded): 429, 5xx, resets, clean closes, held requests, and answers lost
    after posting on the bot routes. A message that exhausts its attempts is left for the
    next cycle an hour later."""
    rig.slack.faults, rig.discord.faults = mixed(rig.clock)
    cycles = []
    for day in range(3):
        if day:
            rig.now.now = DAY1 + timedelta(days=day)
            fresh = hf_daily_json(20, 2, first=1000 * day)
            papers = parse_any(fresh, source="hf", kind="hf-daily").papers
            rig.app.archive.upsert(papers, now=rig.now.now - timedelta(hours=1))
        outcomes, n = await until_done(rig)
        cycles.append(n)
        assert all(o.status in ("done", "empty") for o in outcomes.values()), [
            (o.profile.ref, o.status, o.error) for o in outcomes.values()
        ]
    tally = rig.tally(f"random faults, 3 days ({sum(cycles)} cycles)")
    report(tally, record_property)
    assert len(tally.expected) == MATCHING + 2 * 20
    assert_exactly_once(tally, expected=MATCHING + 2 * 20)
    kinds = {kind for _, _, fault in rig.slack.faults.log + rig.discord.faults.log
             for kind in [fault.kind + (" after" if fault.after else "")]}  # fmt: skip
    assert {"rate_limit", "server_error", "reset", "disconnect", "hang", "reset after"} <= kinds
    code, _, status = rig.status()
    assert code == 0 and status["failing"] == []


async def test_an_outage_longer_than_a_cycle_fails_it_and_the_next_cycle_delivers_once(
    rig: Rig, record_property: Callable[[str, object], None]
) -> None:
    """5xx on every post for ten minutes: the first cycle gives up on every channel (each
    message tried four times, nothing recorded, status failing); the next cycle, after the
    outage, posts everything once."""
    outage = server_error(503)
    rig.slack.faults = _each_route(
        lambda r: FaultPlan.storm_for(600.0, outage, clock=rig.clock, only={r}), (POST, HOOK)
    )
    rig.discord.faults = _each_route(
        lambda r: FaultPlan.storm_for(600.0, outage, clock=rig.clock, only={r}), (SEND, EXECUTE)
    )
    first = await rig.digest()
    assert {ref: o.status for ref, o in first.items()} == dict.fromkeys(REFS, "failed")
    assert all(
        "503" in (o.error or "") or "service_unavailable" in (o.error or "") for o in first.values()
    )
    assert not any(rig.delivered().values())
    assert all(not rig.app.ledger.posted(ref) for ref in REFS)  # reservations released
    code, text, status = rig.status()
    assert code == 1
    assert sorted(status["failing"]) == sorted(f"channel {ref}" for ref in REFS)
    for ref in REFS:
        assert re.search(
            rf"{re.escape(ref)}: last digest .* — failed: .*(503|service_unavailable)", text
        )

    rig.now.now += timedelta(hours=1)
    rig.clock.skipped += 3600  # the outage is over
    second = await rig.digest()
    tally = rig.tally("outage across a cycle (2 cycles)")
    report(tally, record_property)
    assert all(o.status == "done" for o in second.values())
    assert_exactly_once(tally)
    code, text, status = rig.status()
    assert code == 0 and status["failing"] == []


# --- unrecoverable faults: that channel fails, clearly; the others go on --------------------


@pytest.mark.parametrize("broken", ["slack-token+discord-channel", "discord-token+slack-channel"])
async def test_revoked_token_and_deleted_channel_fail_only_their_channels(
    rig: Rig, broken: str, record_property: Callable[[str, object], None]
) -> None:
    """One bot's token is revoked before the digest; the other bot's channel is deleted
    after the digest's first message there. Meanwhile both webhooks weather 429s, 5xx and
    resets, and go on."""
    deleted: list[int] = []
    revoked_ref, deleted_ref = (
        (SLACK_REF, DISCORD_REF) if broken.startswith("slack") else (DISCORD_REF, SLACK_REF)
    )

    def delete_after_first_post(index: int) -> Fault | None:
        if index == 1:  # the second message finds the channel gone
            if deleted_ref == DISCORD_REF:
                rig.discord.delete_channel(DISCORD_CH)
            else:
                rig.slack.delete_channel(SLACK_CH)
            deleted.append(index)
        return None

    noisy = [rate_limit(1), server_error(503), None, reset(), None, rate_limit(1)]
    hooks = {"slack": FaultPlan.script(noisy, only={HOOK})}
    hooks["discord"] = FaultPlan.script(noisy, only={EXECUTE})
    if revoked_ref == SLACK_REF:
        rig.slack.revoke(rig.slack.token, error="token_revoked")
        rig.slack.faults = hooks["slack"]
        rig.discord.faults = FaultPlan.combine(
            FaultPlan(delete_after_first_post, only={SEND}), hooks["discord"]
        )
    else:
        rig.discord.revoke(rig.discord.token)
        rig.discord.faults = hooks["discord"]
        rig.slack.faults = FaultPlan.combine(
            FaultPlan(delete_after_first_post, only={POST}), hooks["slack"]
        )
    outcomes = await rig.digest()
    tally = rig.tally(f"{broken}", whole=(SLACK_HOOK_REF, DISCORD_HOOK_REF))
    report(tally, record_property)

    revoked, gone = outcomes[revoked_ref], outcomes[deleted_ref]
    assert revoked.status == "failed" and not revoked.posted
    assert gone.status == "partial" and deleted
    if revoked_ref == SLACK_REF:
        refused = f"Slack refused the post to {SLACK_REF}: token_revoked — check slack.bot_token"
        assert (revoked.error or "").startswith(refused)
        assert gone.error is not None and "404" in gone.error and "Unknown Channel" in gone.error
        reasons = ("token_revoked", "Unknown Channel")
    else:
        assert revoked.error == "Discord rejected the bot token (discord.bot_token)"
        refused = f"Slack refused the post to {SLACK_REF}: channel_not_found — check the channel id"
        assert (gone.error or "").startswith(refused)
        reasons = ("Discord rejected the bot token", "channel_not_found")
    assert rig.slack.token not in repr(outcomes) and rig.discord.token not in repr(outcomes)
    # What the platform confirmed before the channel went is recorded, once; nothing else.
    first_message = tally.delivered[deleted_ref]
    assert first_message and sorted(first_message) == sorted(gone.posted)
    assert set(rig.app.ledger.posted(deleted_ref)) == set(gone.posted)
    assert not rig.app.ledger.posted(revoked_ref) and not tally.delivered[revoked_ref]
    # The webhooks went on: every paper, once.
    assert_exactly_once(tally, (SLACK_HOOK_REF, DISCORD_HOOK_REF))
    assert outcomes[SLACK_HOOK_REF].status == outcomes[DISCORD_HOOK_REF].status == "done"

    code, text, status = rig.status()
    assert code == 1
    assert sorted(status["failing"]) == [f"channel {DISCORD_REF}", f"channel {SLACK_REF}"]
    assert f"{revoked_ref}: last digest 2026-11-23 09:00 UTC — failed: " in text
    assert f"{deleted_ref}: last digest 2026-11-23 09:00 UTC — partial: " in text
    assert all(reason in text for reason in reasons)
    assert f"failing: channel {DISCORD_REF}, channel {SLACK_REF}" in text
    by_ref = {c["channel"]: c for c in status["channels"]}
    assert by_ref[revoked_ref]["status"] == "failed" and reasons[0] in by_ref[revoked_ref]["error"]
    assert by_ref[deleted_ref]["status"] == "partial" and reasons[1] in by_ref[deleted_ref]["error"]
    assert by_ref[deleted_ref]["posted"] == len(gone.posted)
    assert by_ref[SLACK_HOOK_REF]["status"] == by_ref[DISCORD_HOOK_REF]["status"] == "done"


async def test_revoked_webhooks_fail_only_their_channels(
    rig: Rig, record_property: Callable[[str, object], None]
) -> None:
    """Both webhooks are revoked; the bot channels weather 429s, 5xx and resets."""
    rig.slack.revoke_webhook(rig.hook_urls[SLACK_HOOK_REF])
    rig.discord.revoke_webhook(rig.hook_urls[DISCORD_HOOK_REF])
    noisy = [rate_limit(0), server_error(503), None, reset(), None, disconnect()]
    rig.slack.faults = FaultPlan.script(noisy, only={POST})
    rig.discord.faults = FaultPlan.script([rate_limit(0.05), *noisy[1:]], only={SEND})
    outcomes = await rig.digest()
    tally = rig.tally("revoked webhooks", whole=(SLACK_REF, DISCORD_REF))
    report(tally, record_property)

    for ref, answer in ((SLACK_HOOK_REF, "404 no_service"), (DISCORD_HOOK_REF, "404")):
        outcome = outcomes[ref]
        assert outcome.status == "failed" and not outcome.posted, ref
        assert outcome.error is not None and answer in outcome.error, outcome.error
        assert "whsecret" not in outcome.error and "whtoken" not in outcome.error  # no URL
        assert not tally.delivered[ref]
    assert "Unknown Webhook" in (outcomes[DISCORD_HOOK_REF].error or "")
    assert_exactly_once(tally, (SLACK_REF, DISCORD_REF))
    code, _, status = rig.status()
    assert code == 1
    assert sorted(status["failing"]) == [f"channel {DISCORD_HOOK_REF}", f"channel {SLACK_HOOK_REF}"]


# --- what the platforms cannot do -----------------------------------------------------------


async def test_a_webhook_answer_lost_after_posting_is_sent_again(
    rig: Rig, record_property: Callable[[str, object], None]
) -> None:
    """Incoming webhooks have no idempotency key and cannot read the channel: when the
    platform posted a message but the answer was lost, Paperboy cannot tell it from a
    failed post and sends it again. Nothing is lost; each lost answer can cost one
    duplicate message (at least once), and no more than one."""
    lost = [reset(after=True), None, None, delay(HELD, after=True)]
    rig.slack.faults = FaultPlan.script(lost, only={HOOK})
    rig.discord.faults = FaultPlan.script(lost, only={EXECUTE})
    outcomes = await rig.digest()
    tally = rig.tally("webhook lost answers (platform limit)")
    report(tally, record_property)
    assert all(o.status == "done" for o in outcomes.values())
    assert_exactly_once(tally, (SLACK_REF, DISCORD_REF))
    for ref, plan in ((SLACK_HOOK_REF, rig.slack.faults), (DISCORD_HOOK_REF, rig.discord.faults)):
        assert not tally.lost(ref), ref
        messages = _message_keys(rig, ref)
        # Exactly the messages whose answer was lost arrived twice; no paper three times.
        assert len(messages) - len(set(messages)) == plan.total == 2, ref
        assert max(tally.delivered[ref].count(k) for k in tally.expected) == 2


def _message_keys(rig: Rig, ref: str) -> list[tuple[str, ...]]:
    """The paper keys of each message the fakes accepted in channel `ref`."""
    blobs = {
        SLACK_REF: lambda: [m["blocks"] for m in rig.slack.messages(SLACK_CH)],
        DISCORD_REF: lambda: [m["embeds"] for m in rig.discord.messages(DISCORD_CH)],
        SLACK_HOOK_REF: lambda: [m["blocks"] for m in rig.slack.messages(SLACK_HOOK_CH)],
        DISCORD_HOOK_REF: lambda: [m["embeds"] for m in rig.discord.messages(DISCORD_HOOK_CH)],
    }[ref]()
    return [tuple(sorted(set(ARXIV_ABS.findall(json.dumps(b))))) for b in blobs]


async def test_a_post_processed_after_the_client_gave_up(
    rig: Rig, record_property: Callable[[str, object], None]
) -> None:
    """The platform takes longer than the client's timeout to process a post, and posts
    it anyway after the client gave up and retried. Discord's nonce makes the late post
    return the retried message: exactly once. Slack's history check runs before the late
    post lands, and webhooks cannot check at all: one duplicate message each, at most
    (at least once). Nothing is lost anywhere."""
    late = 2.5  # seconds; past every client timeout (Slack 1 s, the others 0.5 s)
    script = [delay(late)]
    rig.slack.faults = _each_route(lambda r: FaultPlan.script(script, only={r}), (POST, HOOK))
    rig.discord.faults = _each_route(lambda r: FaultPlan.script(script, only={r}), (SEND, EXECUTE))
    outcomes = await rig.digest()
    async with asyncio.timeout(late + 5):  # let the late posts land
        await rig.slack.settle()
        await rig.discord.settle()
    tally = rig.tally("processed after the client gave up (platform limit)")
    report(tally, record_property)
    assert all(o.status == "done" for o in outcomes.values())
    for ref in REFS:
        assert not tally.lost(ref), ref
    assert tally.duplicates(DISCORD_REF) == 0 and rig.discord.nonce_hits == 1
    for ref in (SLACK_REF, SLACK_HOOK_REF, DISCORD_HOOK_REF):
        messages = _message_keys(rig, ref)
        print(
            ref, len(messages) - len(set(messages)), rig.slack.requests, [m[:1] for m in messages]
        )
        assert len(messages) - len(set(messages)) <= 1, ref  # the one late message, at most
