"""Pacing requests under a platform's rate limit before it answers 429.

A `Pacer` hands out send times at `Rate.per_second` with bursts of up to `Rate.burst`
(the generic cell rate algorithm, GCRA: the same admissions as a token bucket of `burst`
tokens refilled at `per_second`). Each `slot()` reserves its time at once, so callers that
ask together are spread out in the order they asked, without a lock (one event loop).
`hold(seconds)` pushes every later slot past a wait the platform named (a 429 for the
whole bot): after it, requests resume at the rate, without a burst.

Used for what a platform limits but does not advertise in its answers: Discord's global
limit of 50 requests per second per bot (its per-route buckets are advertised in
``X-RateLimit-*`` headers and read by bot.delivery.discord). Slack's chat.postMessage
limit of about one message per second per channel is not paced: a day's digest is one to
three messages a channel, which its short bursts take, and a 429's Retry-After is honoured
by the retry policy while the other channels send (bot.turns).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `per_second` requests a second on average, `burst` of them at once."""

    per_second: float
    burst: int = 1

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second

    @property
    def tolerance(self) -> float:
        """How far ahead of the average rate a burst may run (GCRA's tau)."""
        return max(0, self.burst - 1) * self.interval


# Discord: "All bots can make up to 50 requests per second to our API" (global, per bot
# token; not advertised in headers until its 429). Paced 2% below it, with bursts of 40
# rather than 50, so that requests arriving a few milliseconds closer together than they
# were sent still fit.
DISCORD_GLOBAL = Rate(per_second=49.0, burst=40)

# Channels of one digest run sending at once in the service (DigestCycle's
# `sending_at_once`). A channel's turn lasts its ledger writes and its messages' round trips
# (about 0.1-0.5 s on the real platforms), so 32 channels in flight keep Discord's 50
# requests a second busy; its global pacing then queues at most these 32, each for at most
# 32 / 49 s (well inside a message's retry budget). Each channel's own messages stay in
# order, one at a time (bot.outbox).
CHANNELS_AT_ONCE = 32


def admit(tat: float, now: float, rate: Rate) -> tuple[float, float]:
    """GCRA: for a request asked at `now` when the theoretical arrival time is `tat`,
    (when it may be sent, the next theoretical arrival time). Pure."""
    at = max(now, tat - rate.tolerance)
    return at, max(tat, at) + rate.interval


class Pacer:
    """Send times under one `Rate` (for one key: a bot, a channel). `clock` is monotonic
    seconds and `sleep` waits on the same time (tests pass a fake pair)."""

    def __init__(
        self, rate: Rate, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._tat = float("-inf")
        self.waited = 0.0  # seconds slots waited in all (reported by benchmarks)

    def delay(self) -> float:
        """Reserve the next slot; the seconds until it (0.0: now)."""
        now = self._clock()
        at, self._tat = admit(self._tat, now, self.rate)
        return max(0.0, at - now)

    async def slot(self) -> None:
        """Wait for the next slot (reserved at once: later callers queue behind it)."""
        wait = self.delay()
        if wait > 0:
            self.waited += wait
            await self._sleep(wait)

    def hold(self, seconds: float) -> None:
        """No slot starts within `seconds` from now (the platform said so); then the rate
        resumes without a burst."""
        if seconds > 0:
            resume = self._clock() + seconds
            self._tat = max(self._tat, resume + self.rate.tolerance)
