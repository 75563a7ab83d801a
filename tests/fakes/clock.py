"""Clocks the tests inject instead of waiting on the wall clock."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime


class Clock:
    """An aware `now` that the test sets and moves (``clock.now += timedelta(hours=1)``);
    calling it reads the time, as the code's injected clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class SkipClock:
    """Monotonic seconds that the injected `sleep` moves forward at once (and records in
    `slept`). A sleep of exactly `gated` seconds first waits for `gate` (a channel kept
    slow until the test opens it)."""

    def __init__(self) -> None:
        self.skipped = 0.0
        self.slept: list[float] = []
        self.gated: float | None = None
        self.gate = asyncio.Event()

    def __call__(self) -> float:
        return time.monotonic() + self.skipped

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.gated is not None and seconds == self.gated:
            await self.gate.wait()
        self.skipped += max(0.0, seconds)
        await asyncio.sleep(0)


async def no_sleep(seconds: float) -> None:
    """An injected sleep that returns at once (back-off waits not waited)."""
    return None
