"""Pacing under a platform's limits before it answers 429 (bot.delivery.pacing), and
Discord's global limit over real HTTP: the fake enforces 50 requests per second per bot,
`DiscordDelivery` paces itself under it and honours a global 429 for every channel."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from bot.delivery.discord import DiscordDelivery, is_global, use_api_base
from bot.delivery.pacing import Pacer, Rate, admit
from bot.delivery.retry import RetryLater
from bot.models import Message, Profile
from fakes.discord import FakeDiscord

MESSAGE = Message({"content": "hello"})


class FakeTime:
    """Monotonic seconds that `sleep` moves forward at once."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def discord_at() -> Iterator[None]:
    from discord.http import Route

    before = Route.BASE
    yield None
    Route.BASE = before


def test_admit_lets_a_burst_through_then_spaces_requests_at_the_rate() -> None:
    rate = Rate(per_second=10.0, burst=3)
    tat, times = float("-inf"), []
    for _ in range(6):
        at, tat = admit(tat, 0.0, rate)
        times.append(round(at, 6))
    assert times == [0.0, 0.0, 0.0, 0.1, 0.2, 0.3]
    # after an idle second the burst is back
    at, _ = admit(tat, 1.5, rate)
    assert at == 1.5


async def test_pacer_reserves_slots_in_the_order_asked_and_holds_after_a_global_429() -> None:
    clock = FakeTime()
    pacer = Pacer(Rate(per_second=4.0, burst=2), clock=clock, sleep=clock.sleep)
    waits = [pacer.delay() for _ in range(4)]  # asked together, before anyone slept
    assert waits == [0.0, 0.0, 0.25, 0.5]
    clock.now += 10.0  # idle: a full burst again
    pacer.hold(3.0)
    await pacer.slot()
    assert clock.slept == [3.0]  # nothing before the hold ends ...
    await pacer.slot()
    assert clock.slept == [3.0, 0.25]  # ... and then at the rate, without a burst


def test_a_global_429_is_told_apart_from_a_route_bucket() -> None:
    assert is_global({}, {"global": True, "retry_after": 1.0})
    assert is_global({"X-RateLimit-Global": "true"}, None)
    assert is_global({"X-RateLimit-Scope": "global"}, {})
    assert not is_global({"X-RateLimit-Scope": "user"}, {"global": False})
    assert not is_global({"X-RateLimit-Scope": "shared"}, None)


async def test_the_fake_enforces_the_global_limit_as_discord_answers_it(discord_at: None) -> None:
    async with FakeDiscord(channels=["1"]) as dc:
        dc.enforce_global(per_second=5.0, burst=2)
        use_api_base(dc.base)
        unpaced = DiscordDelivery(dc.token, timeout=5, pace=None)
        channel = Profile(platform="discord", channel_id="1")
        try:
            with pytest.raises(RetryLater) as info:
                for n in range(3):  # the login and two posts fill the bucket of 2
                    await unpaced.send(channel, MESSAGE, idempotency_key=f"k{n}")
        finally:
            await unpaced.aclose()
        assert dc.global_limited == 1 and 0 < info.value.retry_after <= 0.2
        assert len(dc.messages("1")) == 1


async def test_channels_sending_at_once_share_the_global_limit_without_a_429(
    discord_at: None,
) -> None:
    """Twelve channels post at once under a global limit of 20 a second (a bucket of 5):
    paced at 19 a second with bursts of 4, no request draws a 429 and the posts take about
    as long as the limit makes them."""
    channels = [str(n) for n in range(1, 13)]
    async with FakeDiscord(channels=channels) as dc:
        dc.enforce_global(per_second=20.0, burst=5)
        use_api_base(dc.base)
        delivery = DiscordDelivery(dc.token, timeout=5, pace=Rate(per_second=19.0, burst=4))
        start = time.monotonic()
        try:
            await asyncio.gather(
                *(
                    delivery.send(
                        Profile(platform="discord", channel_id=c), MESSAGE, idempotency_key=c
                    )
                    for c in channels
                )
            )
        finally:
            await delivery.aclose()
        took = time.monotonic() - start
        assert dc.global_limited == 0
        assert len(dc.messages()) == 12 and dc.requests["GET /users/@me"] == 1
        assert took >= (13 - 4) / 19.0 - 0.01  # 13 requests (the login too), bursts of 4


async def test_after_a_global_429_every_channel_waits_it_out(discord_at: None) -> None:
    clock = FakeTime()
    async with FakeDiscord(channels=["1", "2"]) as dc:
        dc.enforce_global(per_second=1.0, burst=1)
        use_api_base(dc.base)
        delivery = DiscordDelivery(
            dc.token, timeout=5, pace=Rate(per_second=100.0, burst=10), clock=clock,
            sleep=clock.sleep,
        )  # fmt: skip
        try:
            with pytest.raises(RetryLater) as info:
                await delivery.send(
                    Profile(platform="discord", channel_id="1"), MESSAGE, idempotency_key="a"
                )  # the login takes the only token; the post draws the global 429
            assert delivery.pacer is not None
            assert delivery.pacer.delay() >= info.value.retry_after - 0.01  # the other channel too
        finally:
            await delivery.aclose()
