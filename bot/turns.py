"""Turns of the channels of one digest run: at most a few send at once, and a channel that
waits (a Retry-After, a backoff, a slow answer) hands its turn to the next meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from contextvars import ContextVar
from functools import partial
from typing import Any, Generic, TypeVar

from bot.delivery.base import Delivery
from bot.delivery.retry import Sleep, send_with_retry
from bot.models import Profile
from bot.outbox import Outgoing

T = TypeVar("T")


class Turn:
    """A channel's turn to send (one of `Sending.turns`), given up while it waits."""

    def __init__(self, turns: asyncio.Semaphore) -> None:
        self._turns = turns
        self._held = False

    async def take(self) -> None:
        await self._turns.acquire()
        self._held = True

    def give(self) -> None:
        if self._held:
            self._held = False
            self._turns.release()

    async def wait(self, sleep: Sleep, seconds: float) -> None:
        """`sleep(seconds)` without the turn: other channels send meanwhile."""
        self.give()
        try:
            await sleep(seconds)
        finally:
            await self.take()

    async def patiently(self, call: Coroutine[Any, Any, str], slow: float) -> str:
        """`call`'s result; once it has taken `slow` seconds, without the turn."""
        task = asyncio.ensure_future(call)
        try:
            await asyncio.wait({task}, timeout=slow)
            if not task.done():
                self.give()
                try:
                    await asyncio.wait({task})
                finally:
                    await self.take()
            return task.result()
        finally:
            if not task.done():  # cancelled meanwhile: the attempt goes with it
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


# The turn of the channel whose delivery runs in this task (its own context).
TURN: ContextVar[Turn | None] = ContextVar("paperboy_digest_turn", default=None)


class Sending(Generic[T]):
    """The channel deliveries of one run: started in order, at most `limit` at a time;
    `results` are their outcomes in that order (an unexpected exception is raised once
    every channel has finished); `cancel` stops those still running."""

    def __init__(self, limit: int) -> None:
        self.turns = asyncio.Semaphore(limit)
        self._tasks: list[asyncio.Task[T | None]] = []

    def start(self, delivery: Coroutine[Any, Any, T | None]) -> None:
        self._tasks.append(asyncio.ensure_future(delivery))

    async def results(self) -> list[T]:
        done = await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        out: list[T] = []
        for result in done:
            if isinstance(result, BaseException):
                raise result
            if result is not None:
                out.append(result)
        return out

    async def cancel(self) -> None:
        pending = [t for t in self._tasks if not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []


async def send_in_turn(
    delivery: Delivery, profile: Profile, out: Outgoing, sleep: Sleep, slow: float
) -> str:
    """One message, retried under its time budget (bot.delivery.retry); its waits, and an
    answer slower than `slow` seconds, give the channel's turn (`TURN`) to the next."""
    turn = TURN.get()

    def attempt() -> Awaitable[str]:
        call = delivery.send(
            profile, out.message, idempotency_key=out.key, maybe_sent=out.maybe_sent
        )
        return call if turn is None else turn.patiently(call, slow)

    return await send_with_retry(
        attempt, what=profile.ref, sleep=sleep if turn is None else partial(turn.wait, sleep)
    )
