"""Scenario: one day's digests delivered to Slack and Discord channels at the platforms' own
rate limits, through the real sender as the service wires it (`App.digest_cycle(...).run`,
bot.app: outbox, ledger, retry policy, channels sending at once, `SlackDelivery`,
`DiscordDelivery`) against the fakes of tests/fakes (real HTTP servers on
127.0.0.1) with their limits enforced:

- Slack chat.postMessage: one message per second per channel (a token bucket of one:
  "short bursts" are tolerated but not promised), 429 with ``Retry-After``;
- Discord: 50 requests per second per bot token across every route (a bucket of 50,
  global 429 with ``"global": true``), and each channel's message bucket of 5 per 5 s,
  advertised in ``X-RateLimit-*`` headers;
- every answer after `latency` seconds (a network round trip; 0 on the fakes' own).

"What the limits allow" is the least time any sender could take under these limits: the
Discord requests beyond the first burst at 50 a second, or the busiest channel's messages
beyond its bucket, whichever is longer (channels run side by side). Counted afterwards:
lost (a planned paper not confirmed in the ledger, or a rendered message missing on the
platform) and duplicates (a message on the platform more often than rendered).

Baseline: the sender as it was before pacing and concurrency (one channel at a time, no
global pacing: `SENDING_AT_ONCE = 1`, `DiscordDelivery(pace=None)`), on a sample of the
channels; its time grows linearly with the channels, so it is extrapolated.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bot.digest
from benchmarks.fixtures import database, fill_archive
from benchmarks.synth import Corpus
from bot.app import App, build_app
from bot.delivery.base import Delivery
from bot.delivery.discord import DiscordDelivery, use_api_base
from bot.delivery.slack import SlackDelivery, slack_client
from bot.digest import ChannelOutcome, DigestCycle
from bot.models import Profile
from bot.pipeline.lexicon import build as build_lexicon
from bot.settings import Settings
from bot.store.archive import Archive
from bot.store.ledger import Ledger
from bot.store.runs import DigestRuns

try:
    from bot.delivery.pacing import CHANNELS_AT_ONCE, DISCORD_GLOBAL

    CLIENT_PACE: float | None = DISCORD_GLOBAL.per_second
except ImportError:  # the code before: one channel at a time, nothing paced
    CHANNELS_AT_ONCE, CLIENT_PACE = 1, None

ROOT = Path(__file__).resolve().parents[1]


SLACK_PER_SECOND, SLACK_BURST = 1.0, 1
DISCORD_GLOBAL_PER_SECOND, DISCORD_GLOBAL_BURST = 50.0, 50
DISCORD_CHANNEL_LIMIT, DISCORD_CHANNEL_PER = 5, 5.0


def run(
    *,
    slack_channels: int = 2_000,
    discord_channels: int = 2_000,
    papers: int = 1_000,
    latency: float = 0.05,
    at_once: int | None = None,
    baseline_channels: int = 0,
    max_posts: int = 10,
    seed: int = 8,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Deliver one day's digests (`papers` new papers) to `slack_channels` Slack and
    `discord_channels` Discord channels, `at_once` channels sending together (None: the
    service's own cycle, `App.digest_cycle` of the composition root); then, on
    `baseline_channels` of each (0: none), the sender as before pacing and concurrency on
    this tree. `max_posts`: each channel's cap
    (ten: one Slack or Discord message a channel; 40: three Slack messages, which the
    per-channel limit spaces a second apart, and four Discord ones)."""
    service = at_once is None  # the service's own cycle, not one built here
    at_once = CHANNELS_AT_ONCE if at_once is None else at_once
    logging.getLogger("bot").setLevel(logging.ERROR)  # 429s are expected and counted here
    corpus = Corpus(seed)
    tmp = Path(tempfile.mkdtemp(prefix="paperboy-bench-delivery-", dir=workdir))
    try:
        archive_path = tmp / "archive.db"
        now = datetime.now(UTC)
        engine = database(archive_path)
        new = corpus.papers(papers, start=0, first_seen=now - timedelta(hours=2))
        fill_archive(engine, new, now=now - timedelta(hours=2))
        lexicon = build_lexicon(Archive(engine).all())
        engine.dispose()
        profiles = _profiles(corpus, slack_channels, discord_channels, max_posts)
        result = asyncio.run(
            _deliver(
                tmp, "current", archive_path, lexicon, profiles, latency, at_once, True, service
            )
        )
        out: dict[str, Any] = {
            "scenario": "delivery",
            "slack_channels": slack_channels,
            "discord_channels": discord_channels,
            "papers": papers,
            "max_posts": max_posts,
            "latency": latency,
            "at_once": at_once,
            "limits": {
                "slack_per_channel_per_second": SLACK_PER_SECOND,
                "slack_burst": SLACK_BURST,
                "discord_global_per_second": DISCORD_GLOBAL_PER_SECOND,
                "discord_global_burst": DISCORD_GLOBAL_BURST,
                "discord_channel_bucket": f"{DISCORD_CHANNEL_LIMIT} per {DISCORD_CHANNEL_PER} s",
                "client_global_pace": CLIENT_PACE,
            },
            **result,
        }
        if baseline_channels:
            sample = _profiles(
                corpus,
                min(baseline_channels, slack_channels),
                min(baseline_channels, discord_channels),
                max_posts,
            )
            base = asyncio.run(
                _deliver(tmp, "baseline", archive_path, lexicon, sample, latency, 1, False)
            )
            per_channel = base["wall_seconds"] / max(1, len(sample))
            base["extrapolated_seconds"] = per_channel * len(profiles)
            out["baseline"] = base
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _profiles(corpus: Corpus, slack: int, discord: int, max_posts: int = 10) -> list[Profile]:
    """Corpus channels (five topics, one exclusion, at most `max_posts` papers a day), the
    first `slack` on Slack and the next `discord` on Discord, interleaved as a configuration
    lists them."""
    made = corpus.profiles(slack + discord)
    out = []
    for n, p in enumerate(made[:slack]):
        out.append(replace(p, platform="slack", channel_id=f"C{n:09d}", max_posts=max_posts))
    for n, p in enumerate(made[slack:]):
        snowflake = str(1_300_000_000_000_000_000 + n)
        out.append(replace(p, platform="discord", channel_id=snowflake, max_posts=max_posts))
    # one platform after the other would let Slack finish before Discord starts: mix them
    slacks, discords = out[:slack], out[slack:]
    mixed: list[Profile] = []
    for i in range(max(slack, discord)):
        mixed += slacks[i : i + 1] + discords[i : i + 1]
    return mixed


async def _deliver(
    tmp: Path,
    name: str,
    archive_path: Path,
    lexicon: Any,
    profiles: list[Profile],
    latency: float,
    at_once: int,
    paced: bool,
    service: bool = False,
) -> dict[str, Any]:
    """One delivery run against the fakes (a subprocess). `service`: the cycle is the one
    the service builds (`App.digest_cycle`; `at_once` is then what it applies), else one
    built here with `at_once` channels sending together."""
    path = tmp / f"{name}.db"
    shutil.copyfile(archive_path, path)
    engine = database(path)  # a fresh ledger: nothing posted yet
    setup = {
        "slack_channels": [p.channel_id for p in profiles if p.platform == "slack"],
        "discord_channels": [p.channel_id for p in profiles if p.platform == "discord"],
        "limits": {
            "slack_per_second": SLACK_PER_SECOND,
            "slack_burst": SLACK_BURST,
            "discord_global_per_second": DISCORD_GLOBAL_PER_SECOND,
            "discord_global_burst": DISCORD_GLOBAL_BURST,
            "discord_channel_limit": DISCORD_CHANNEL_LIMIT,
            "discord_channel_per": DISCORD_CHANNEL_PER,
        },
        "latency": latency,
        "ready": str(tmp / f"{name}.ready.json"),
        "recorded": str(tmp / f"{name}.recorded.json"),
    }
    setup_file = tmp / f"{name}.setup.json"
    setup_file.write_text(json.dumps(setup))
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.platform_fakes", str(setup_file), cwd=ROOT
    )
    try:
        ready = await _ready(Path(setup["ready"]), server)
        use_api_base(ready["discord_base"])
        token = ready["discord_token"]
        unpaced = not paced and "pace" in inspect.signature(DiscordDelivery).parameters
        discord = DiscordDelivery(token, pace=None) if unpaced else DiscordDelivery(token)
        deliveries: dict[str, Delivery] = {
            "slack": SlackDelivery(slack_client(ready["slack_token"], ready["slack_url"])),
            "discord": discord,
        }
        app: App | None = None
        if service:
            app = build_app(Settings(database=str(path)), clock=lambda: datetime.now(UTC))
            await asyncio.to_thread(app.lexicons)  # a running service has it already
            ledger, cycle = app.ledger, app.digest_cycle(deliveries)
            at_once = getattr(cycle, "_sending_at_once", bot.digest.SENDING_AT_ONCE)
        else:
            ledger = Ledger(engine)
            cycle = _cycle(
                Archive(engine), ledger, DigestRuns(engine), lexicon, deliveries, at_once
            )
        start = time.perf_counter()
        mono_start = time.monotonic()
        try:
            outcomes = await cycle.run(profiles)
        finally:
            wall = time.perf_counter() - start
            for d in deliveries.values():
                await d.aclose()
    finally:
        if server.returncode is None:
            server.terminate()
        await server.wait()
    got = json.loads(await asyncio.to_thread(Path(setup["recorded"]).read_text))
    result = _check(outcomes, deliveries, got, ledger, profiles)
    pacer = getattr(discord, "pacer", None)
    waited = pacer.waited if pacer is not None else 0.0
    result.update(_rates(got, mono_start, wall, result, waited))
    if app is not None:
        app.close()
    engine.dispose()
    result["wall_seconds"] = wall
    result["at_once_applied"] = (
        at_once if service or _takes_at_once() else bot.digest.SENDING_AT_ONCE
    )
    result["sender"] = "App.digest_cycle" if service else "DigestCycle"
    return result


def _takes_at_once() -> bool:
    return "sending_at_once" in inspect.signature(DigestCycle).parameters


async def _ready(path: Path, server: asyncio.subprocess.Process) -> dict[str, Any]:
    """The fakes' URLs and tokens once they listen."""
    for _ in range(600):
        if await asyncio.to_thread(path.exists):
            ready: dict[str, Any] = json.loads(await asyncio.to_thread(path.read_text))
            return ready
        if server.returncode is not None:
            break
        await asyncio.sleep(0.05)
    raise RuntimeError("the platform fakes did not start (benchmarks.platform_fakes)")


def _cycle(
    archive: Archive,
    ledger: Ledger,
    runs: DigestRuns,
    lexicon: Any,
    deliveries: dict[str, Delivery],
    at_once: int,
) -> DigestCycle:
    kwargs: dict[str, Any] = {"sending_at_once": at_once} if _takes_at_once() else {}
    return DigestCycle(
        archive=archive,
        ledger=ledger,
        runs=runs,
        lexicon=lambda: lexicon,
        deliveries=deliveries,
        clock=lambda: datetime.now(UTC),
        **kwargs,
    )


def _check(
    outcomes: list[ChannelOutcome],
    deliveries: dict[str, Delivery],
    got: dict[str, Any],
    ledger: Ledger,
    profiles: list[Profile],
) -> dict[str, Any]:
    """Lost and duplicated papers and messages, channel by channel."""
    status = Counter(o.status for o in outcomes)
    on = {
        "slack": Counter(m["channel"] for m in got["slack"]),
        "discord": Counter(m["channel"] for m in got["discord"]),
    }
    slack_papers = Counter((m["channel"], k) for m in got["slack"] for k in m["papers"])
    expected_messages = {"slack": 0, "discord": 0}
    lost_papers = lost_messages = duplicate_messages = duplicate_papers = planned = 0
    posted_rows = 0
    for o in outcomes:
        p = o.profile
        items = [i.paper.key for i in o.digest.items] if o.digest is not None else []
        planned += len(items)
        rendered = len(deliveries[p.platform].render(o.digest)) if items and o.digest else 0
        expected_messages[p.platform] += rendered
        seen = on[p.platform][p.channel_id]
        lost_messages += max(0, rendered - seen)
        duplicate_messages += max(0, seen - rendered)
        rows = ledger.rows(p.ref, items)
        confirmed = sum(1 for k in items if (r := rows.get(k)) is not None and r.posted)
        posted_rows += confirmed
        lost_papers += len(items) - confirmed
        if p.platform == "slack":
            duplicate_papers += sum(max(0, slack_papers[(p.channel_id, k)] - 1) for k in items)
    nonces = Counter(m["nonce"] for m in got["discord"])
    duplicate_messages += sum(n - 1 for n in nonces.values() if n > 1)
    return {
        "channels": len(profiles),
        "outcomes": dict(status),
        "failed": sum(1 for o in outcomes if o.failed),
        "papers_planned": planned,
        "papers_confirmed": posted_rows,
        "messages": {"slack": len(got["slack"]), "discord": len(got["discord"])},
        "messages_expected": expected_messages,
        "lost_papers": lost_papers,
        "lost_messages": lost_messages,
        "duplicate_messages": duplicate_messages,
        "duplicate_papers": duplicate_papers,
        "http_429": got["http_429"],
        "requests": got["requests"],
    }


def _rates(
    got: dict[str, Any], start: float, wall: float, checked: dict[str, Any], waited: float
) -> dict[str, Any]:
    """Achieved rates beside the limits, and the least time the limits allow."""
    discord_requests = len(got["discord"]) + 1  # + the login
    global_bound = max(0.0, discord_requests - DISCORD_GLOBAL_BURST) / DISCORD_GLOBAL_PER_SECOND
    per_discord = Counter(m["channel"] for m in got["discord"])
    per_slack = Counter(m["channel"] for m in got["slack"])
    busiest_discord = max(per_discord.values(), default=0)
    busiest_slack = max(per_slack.values(), default=0)
    channel_bound = max(
        (math.ceil(busiest_discord / DISCORD_CHANNEL_LIMIT) - 1) * DISCORD_CHANNEL_PER,
        max(0, busiest_slack - SLACK_BURST) / SLACK_PER_SECOND,
        0.0,
    )
    bound = max(global_bound, channel_bound)
    d_times = [m["at"] for m in got["discord"]]
    s_times = [m["at"] for m in got["slack"]]
    d_span, s_span = _span(d_times, start), _span(s_times, start)
    requests = checked["requests"]["discord_total"]
    return {
        "limit_bound_seconds": bound,
        "limit_bound_detail": {
            "discord_global": global_bound,
            "busiest_channel": channel_bound,
            "busiest_discord_channel_messages": busiest_discord,
            "busiest_slack_channel_messages": busiest_slack,
        },
        "ratio_to_bound": wall / bound if bound > 0 else None,
        "discord_messages_per_second": len(d_times) / d_span if d_span else None,
        "discord_requests_per_second": requests / d_span if d_span else None,
        "discord_peak_per_second": _peak(d_times),
        "discord_limit_per_second": DISCORD_GLOBAL_PER_SECOND,
        "slack_messages_per_second": len(s_times) / s_span if s_span else None,
        "slack_limit": f"{SLACK_PER_SECOND:g} per second per channel",
        "slack_busiest_channel_per_second": _busiest_rate(got["slack"]),
        "discord_seconds": d_span,
        "slack_seconds": s_span,
        "global_pacing_waited_seconds": waited,
    }


def _span(times: list[float], start: float) -> float:
    return max(times) - start if times else 0.0


def _peak(times: list[float]) -> int:
    """The most messages that arrived within any one second."""
    ordered, peak, first = sorted(times), 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= 1.0:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def _busiest_rate(messages: list[dict[str, Any]]) -> float:
    """The highest rate any one Slack channel got messages at (messages after its first
    over the seconds since it): what the per-channel limit constrains."""
    times: dict[str, list[float]] = {}
    for m in messages:
        times.setdefault(m["channel"], []).append(m["at"])
    rates = [(len(t) - 1) / (t[-1] - t[0]) for t in times.values() if len(t) > 1 and t[-1] > t[0]]
    return max(rates, default=0.0)
