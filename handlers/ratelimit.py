"""Per-user rate limit of /papers: a token bucket per `platform:user`. Time is injected.

Each user may send `burst` commands in a row; the bucket then refills at `per_minute`
commands a minute. A command that finds the bucket empty is refused with the seconds until
the next token. Users never share a bucket, so one user's flood slows nobody else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]  # seconds; only differences matter (time.monotonic)
MAX_KEYS = 10_000  # buckets kept before full ones are forgotten (a full bucket = a new user)


@dataclass(frozen=True, slots=True)
class Bucket:
    """The tokens a user had at time `at`."""

    tokens: float
    at: float


def spend(
    bucket: Bucket | None, now: float, *, per_second: float, burst: int
) -> tuple[Bucket, float]:
    """Take one token from `bucket` (None: a user not seen yet, whose bucket is full) at
    `now`. Returns the new bucket and 0.0 when the command may run, or the unchanged bucket
    (refilled to `now`) and the seconds until a token is there when it may not. Pure. A
    clock that went backwards refills nothing."""
    if bucket is None:
        bucket = Bucket(float(burst), now)
    elapsed = max(0.0, now - bucket.at)
    tokens = min(float(burst), bucket.tokens + elapsed * per_second)
    if tokens >= 1.0:
        return Bucket(tokens - 1.0, now), 0.0
    return Bucket(tokens, now), (1.0 - tokens) / per_second


class RateLimiter:
    """Token buckets by key (`"slack:U123"`): `burst` commands at once, then `per_minute`.

    Not thread-safe: call it from the event loop (dispatch does, before any worker thread).
    """

    def __init__(self, per_minute: float, burst: int, *, clock: Clock = time.monotonic) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be positive and burst at least 1")
        self.per_minute = per_minute
        self.burst = burst
        self._per_second = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}

    def take(self, key: str) -> float:
        """0.0 when `key` may run a command now (a token is spent), else the seconds to
        wait before it may."""
        now = self._clock()
        bucket, wait = spend(
            self._buckets.get(key), now, per_second=self._per_second, burst=self.burst
        )
        self._buckets[key] = bucket
        if len(self._buckets) > MAX_KEYS:
            self._forget_full(now)
        return wait

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled: they behave exactly like absent ones."""
        rate, burst = self._per_second, self.burst
        self._buckets = {
            k: b for k, b in self._buckets.items() if b.tokens + (now - b.at) * rate < burst
        }

    def __len__(self) -> int:
        return len(self._buckets)


__all__ = ["Bucket", "RateLimiter", "spend"]
