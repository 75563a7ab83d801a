"""A large digest never blocks the event loop that also answers /papers, the Discord gateway
and /healthz (issue 14, item 4): a 20,000-paper digest with `max_posts: 0` (no cap) while a
ticker measures the loop and signed `/papers help` requests arrive over real HTTP."""

from __future__ import annotations

import asyncio
import io
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from looplag import probe
from moe_papers import TOPIC, moe_papers

from bot.app import build_app, build_deliveries
from bot.chat.slack_app import start_slack
from bot.delivery.console import ConsoleDelivery
from bot.digest import DigestCycle
from bot.errors import DeliveryError
from bot.models import Digest, Message, Profile
from bot.pipeline.render.slack import render_slack
from bot.settings import ChannelSettings, CommandSettings, Settings, SlackSettings
from fakes.clock import Clock, no_sleep
from fakes.slack import FakeSlack
from helpers import signed_slack_headers, slash_command

pytestmark = pytest.mark.slow

PAPERS = 20_000
MAX_BLOCK = 0.100  # seconds the loop may be blocked by our code
MAX_ACK = 1.0  # seconds to acknowledge /papers (Slack's own limit is 3)
SECRET = "loop-lag-signing-secret"
CHANNEL = "C0LOOPLAG1"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [n for n in os.environ if n.startswith("SLACK_")]:
        monkeypatch.delenv(name)


class Commands:
    """Signed `/papers help` requests from a thread of their own (an observer outside the
    event loop), one every `every` seconds until stopped; each one's span (sent, answered):
    its time to the HTTP answer is Slack's acknowledgement."""

    def __init__(self, url: str, response_urls: list[str], every: float = 0.2) -> None:
        # One response_url per command, as Slack gives: Slack refuses a sixth use of one.
        self._url, self._response_urls, self._every = url, iter(response_urls), every
        self.acks: list[tuple[float, float]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def __aenter__(self) -> Commands:
        self._thread.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        # Joined off the loop: a request still in flight is answered by this loop, so a
        # blocking join here would hold it until the request timed out.
        self._stop.set()
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            url, user = next(self._response_urls), "U0LOOPLAG1"
            body = slash_command(FakeSlack.TEAM_ID, CHANNEL, "help", url, user=user)
            request = urllib.request.Request(
                self._url, data=body.encode(), headers=signed_slack_headers(SECRET, body)
            )
            started = time.monotonic()
            try:
                with urllib.request.urlopen(request, timeout=60) as resp:
                    resp.read()
                    if resp.status != 200:
                        self.errors.append(f"HTTP {resp.status}")
            except OSError as e:
                self.errors.append(repr(e))
            self.acks.append((started, time.monotonic()))


@pytest.fixture
def measured() -> Iterator[dict[str, float]]:
    figures: dict[str, float] = {}
    yield figures
    print("measured:", {k: round(v, 3) for k, v in figures.items()})


async def test_a_20000_paper_digest_never_blocks_the_loop_and_papers_is_acked_within_1s(
    tmp_path: Path, measured: dict[str, float]
) -> None:
    clock = Clock(T0)
    channel = ChannelSettings(
        platform="console", id="demo", topics=[TOPIC], max_posts=0, lookback="2d"
    )
    async with FakeSlack(channels=[CHANNEL]) as slack:
        settings = Settings(
            database=str(tmp_path / "p.db"),
            channels=[channel],
            slack=SlackSettings(
                bot_token=slack.token, signing_secret=SECRET, api_url=slack.url, http_port=0
            ),
            commands=CommandSettings(per_minute=0),
        )
        app = build_app(settings, clock=clock)
        try:
            app.archive.upsert(moe_papers(PAPERS), now=T0)
            clock.now = T0 + timedelta(hours=1)
            frontend = await start_slack(settings.slack, app.services())
            assert frontend.url is not None
            deliveries = build_deliveries(settings, stream=io.StringIO())
            try:
                urls = [slack.response_url(CHANNEL) for _ in range(2_000)]
                # The probe spans every request: an ack is judged, like the loop, less the
                # longest stall of the whole process during it (a loaded machine).
                async with probe() as lag:
                    async with Commands(frontend.url, urls) as commands:
                        started = time.monotonic()
                        (outcome,) = await app.digest_cycle(deliveries).run(
                            [p for p in app.profiles.all() if p.platform == "console"]
                        )
                        took = time.monotonic() - started
                    acked_during = len(commands.acks)
            finally:
                await frontend.close()
                for d in deliveries.values():
                    await d.aclose()
        finally:
            app.close()

    measured.update(
        digest_s=took,
        loop_blocked_s=lag.blocked,
        loop_raw_gap_s=lag.raw,
        acks=acked_during,
        max_ack_raw_s=max((end - start for start, end in commands.acks), default=0.0),
        max_ack_s=max((lag.ours(start, end) for start, end in commands.acks), default=0.0),
    )
    assert outcome.status == "done" and len(outcome.posted) == PAPERS, outcome.error
    assert lag.loop_ticks, "the probe never ran"
    assert lag.blocked <= MAX_BLOCK, f"loop blocked {lag.blocked:.3f} s (raw gap {lag.raw:.3f})"
    assert not commands.errors, commands.errors[:3]
    assert acked_during >= 3, f"only {acked_during} /papers sent during the digest"
    assert measured["max_ack_s"] < MAX_ACK, (
        f"slowest /papers ack {measured['max_ack_s']:.2f} s (raw {measured['max_ack_raw_s']:.2f})"
    )


class OffLoop:
    """A store whose every method records whether it was called on a thread running an
    event loop (it must not be: the loop would wait for the database)."""

    def __init__(self, store: object, name: str, on_loop: list[str]) -> None:
        self._store, self._name, self._on_loop = store, name, on_loop

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._store, attr)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                asyncio.get_running_loop()
                self._on_loop.append(f"{self._name}.{attr}")
            except RuntimeError:
                pass
            return value(*args, **kwargs)

        return call


class FlakyConsole:
    """Console delivery whose sends fail (transient) from the `fail_from`-th on."""

    def __init__(self, fail_from: int, stop: asyncio.Event | None = None) -> None:
        self._inner = ConsoleDelivery(io.StringIO())
        self._sent = 0
        self._fail_from = fail_from
        self._stop = stop  # set after the first message: shutdown in the middle of a digest

    def render(self, digest: Digest) -> list[Message]:
        return render_slack(digest)  # several messages: a failure strands the rest

    async def send(
        self, channel: Profile, message: Message, *, idempotency_key: str, maybe_sent: bool = False
    ) -> str:
        self._sent += 1
        if self._sent >= self._fail_from:
            raise DeliveryError("the platform is down")
        if self._stop is not None:
            self._stop.set()
        return await self._inner.send(channel, message, idempotency_key=idempotency_key)

    async def aclose(self) -> None:
        return None


async def test_the_digest_cycle_calls_no_store_on_the_event_loop(tmp_path: Path) -> None:
    """The rule behind the measurement above, for every path of a run: windows, reading,
    reserving, sending, confirming, a failed send (abandon, release), the next run taking
    the interrupted message over (resend), a stop between messages, a dry run."""
    clock = Clock(T0)
    channel = ChannelSettings(
        platform="console", id="demo", topics=[TOPIC], max_posts=0, lookback="2d"
    )
    app = build_app(Settings(database=str(tmp_path / "p.db"), channels=[channel]), clock=clock)
    on_loop: list[str] = []

    def cycle(delivery: Any) -> DigestCycle:
        return DigestCycle(
            archive=OffLoop(app.archive, "archive", on_loop),  # type: ignore[arg-type]
            ledger=OffLoop(app.ledger, "ledger", on_loop),  # type: ignore[arg-type]
            runs=OffLoop(app.runs, "runs", on_loop),  # type: ignore[arg-type]
            lexicon=app.lexicons,
            deliveries={"console": delivery},
            clock=clock,
            sleep=no_sleep,
            matchers=app.matchers,
        )

    try:
        app.archive.upsert(moe_papers(120), now=T0)
        clock.now = T0 + timedelta(hours=1)
        profiles = app.profiles.all()
        (dry,) = await cycle(FlakyConsole(10**6)).run(profiles, dry_run=True)
        (failed,) = await cycle(FlakyConsole(2)).run(profiles)
        stop = asyncio.Event()
        clock.now += timedelta(minutes=1)
        (stopped,) = await cycle(FlakyConsole(10**6, stop)).run(profiles, stop=stop)
        clock.now += timedelta(minutes=1)
        (done,) = await cycle(FlakyConsole(10**6)).run(profiles)
        posted = app.ledger.posted("console:demo")
    finally:
        app.close()
    assert dry.status == "dry-run"
    assert failed.status == "partial" and failed.posted
    assert stopped.status == "partial" and "interrupted" in (stopped.error or "")
    assert done.status == "done" and len(posted) == 120
    assert on_loop == [], sorted(set(on_loop))
