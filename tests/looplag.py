"""How long our code blocks an asyncio event loop, measured by a ticker on the loop.

A ticker wakes every `interval` on the loop and records when it ran; a gap between two
ticks much longer than `interval` is time during which the loop ran nothing else. On a
loaded machine the whole process is sometimes not scheduled at all (other processes, a
garbage collection of every thread): a control ticker in a plain thread records its own
gaps, and the part of a loop gap during which the control ticker was stalled too is not
counted against the loop. `blocked` is the longest gap left: the loop busy (or waiting in a
blocking call) while the rest of the process ran.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class LagProbe:
    interval: float = 0.005
    loop_ticks: list[float] = field(default_factory=list)
    control_ticks: list[float] = field(default_factory=list)

    @property
    def raw(self) -> float:
        """The longest gap between two loop ticks (seconds)."""
        ticks = self.loop_ticks
        return max((b - a for a, b in itertools.pairwise(ticks)), default=0.0)

    @property
    def blocked(self) -> float:
        """The longest loop gap, less the longest stall of the control thread within it."""
        worst = 0.0
        for a, b in itertools.pairwise(self.loop_ticks):
            if b - a > worst:
                worst = max(worst, self.ours(a, b))
        return worst

    def ours(self, start: float, end: float) -> float:
        """The part of the span (start, end) — which must lie within the probe — that is not
        the longest stall of the whole process (the control thread's longest gap in it)."""
        ctrl = self.control_ticks
        lo, hi = bisect.bisect_right(ctrl, start), bisect.bisect_left(ctrl, end)
        points = [start, *ctrl[lo:hi], end]
        return (end - start) - max(q - p for p, q in itertools.pairwise(points))


@contextlib.asynccontextmanager
async def probe(interval: float = 0.005) -> AsyncIterator[LagProbe]:
    """Measure the loop while the body runs."""
    result = LagProbe(interval)
    done = threading.Event()

    def control() -> None:
        while not done.is_set():
            result.control_ticks.append(time.monotonic())
            time.sleep(interval)

    async def ticker() -> None:
        while True:
            result.loop_ticks.append(time.monotonic())
            await asyncio.sleep(interval)

    thread = threading.Thread(target=control, daemon=True)
    thread.start()
    task = asyncio.create_task(ticker())
    try:
        yield result
    finally:
        # the body's last stretch counts too: a block that ends with the body is no tick
        result.loop_ticks.append(time.monotonic())
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        done.set()
        thread.join()
