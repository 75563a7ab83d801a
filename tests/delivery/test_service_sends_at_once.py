"""The service's digest cycle (bot.app, the composition root) sends its channels at once,
up to CHANNELS_AT_ONCE, each channel's own messages one at a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from moe_papers import TOPIC, moe_papers

from bot.app import build_app
from bot.delivery.console import ConsoleDelivery
from bot.delivery.pacing import CHANNELS_AT_ONCE
from bot.digest import SLOW_ANSWER
from bot.models import Message, Profile
from bot.settings import ChannelSettings, Settings

CHANNELS = 6
PAPERS = 30


class Overlapping(ConsoleDelivery):
    """Console rendering; counts the sends in flight at once, overall and per channel."""

    def __init__(self) -> None:
        super().__init__(None)
        self.in_flight: Counter[str] = Counter()
        self.most = 0
        self.most_per_channel = 0
        self.sent: Counter[str] = Counter()
        self.all_in = asyncio.Event()

    async def send(
        self, channel: Profile, message: Message, *, idempotency_key: str, maybe_sent: bool = False
    ) -> str:
        self.in_flight[channel.ref] += 1
        self.most = max(self.most, sum(self.in_flight.values()))
        self.most_per_channel = max(self.most_per_channel, self.in_flight[channel.ref])
        if sum(self.in_flight.values()) == CHANNELS:
            self.all_in.set()
        # Wait for every channel to be sending, but less than SLOW_ANSWER: sent one channel
        # at a time, a send would hold the others (the most in flight stays 1).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.all_in.wait(), SLOW_ANSWER * 0.8)
        self.in_flight[channel.ref] -= 1
        self.sent[channel.ref] += 1
        return idempotency_key


async def test_the_services_cycle_sends_its_channels_at_once(tmp_path: Path) -> None:
    settings = Settings(
        database=str(tmp_path / "p.db"),
        channels=[
            ChannelSettings(
                platform="console", id=f"c{i}", topics=[TOPIC], max_posts=0, lookback="2d"
            )
            for i in range(CHANNELS)
        ],
    )
    app = build_app(settings, clock=lambda: datetime.now(UTC))
    try:
        app.archive.upsert(moe_papers(PAPERS), now=app.clock())
        delivery = Overlapping()
        outcomes = await app.digest_cycle({"console": delivery}).run(app.channel_profiles())
    finally:
        app.close()
    assert {o.status for o in outcomes} == {"done"}
    assert all(len(o.posted) == PAPERS for o in outcomes)
    # every channel sending together (one at a time, the most would be 1) ...
    assert delivery.most == min(CHANNELS, CHANNELS_AT_ONCE)
    # ... and each channel's own messages still one after another
    assert delivery.most_per_channel == 1
    assert len(delivery.sent) == CHANNELS
