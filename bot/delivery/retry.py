"""The one retry policy of a message: a total time budget, the platform's Retry-After
honoured exactly, exponential backoff with jitter for everything else.

Deliveries make one attempt per `send` (no hidden retries: slack_sdk's retry handlers are
removed, Discord and webhooks are plain aiohttp) and say what happened with a
`DeliveryError`: `permanent` (retrying cannot help), `RetryLater` (the platform named its
wait: 429), `offline` (the platform's host name does not resolve: not retried now, the
next run tries again), or transient (5xx, timeout, connection lost). `send_with_retry`
retries the transient ones while the message's budget lasts:

- a `RetryLater` waits exactly its `retry_after` (not scaled by any backoff), and does not
  count as a failed attempt; when that wait would end past the budget the message gives up
  at once (trying earlier would only be refused again);
- any other transient failure waits `initial * 2**(n-1)` seconds (capped at `max_wait`,
  with up to half of it taken off at random so channels retrying together spread out),
  at most `attempts` times;
- the budget counts the attempts and the waits, on the injected `sleep`'s time: tests
  pass a sleep that moves a test clock, and the budget follows that clock.

Anything else a delivery raises is a bug in it, not a reason to stop the other channels:
it is logged with its traceback and reported as this message's failure (not retried,
and treated as possibly posted, so the next run looks before sending it again).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState

from bot.errors import DeliveryError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class RetryLater(DeliveryError):
    """Not delivered, and the platform said when to try again (429 with Retry-After)."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, permanent=False)
        self.retry_after = max(0.0, retry_after)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Per message: everything (attempts and waits) within `budget` seconds; at most
    `attempts` failures other than rate limits. The budget stays well under the ledger's
    lease (15 min by default), which is renewed before each message."""

    budget: float = 120.0
    attempts: int = 6
    initial: float = 0.5
    max_wait: float = 4.0  # five 5xx in a row cost a message at most 11.5 s of waiting

    def backoff(self, failures: int, rng: random.Random) -> float:
        full = min(self.max_wait, self.initial * 2.0 ** max(0, failures - 1))
        return float(full * (0.5 + rng.random() / 2))


DEFAULT_POLICY = RetryPolicy()


class _Budget:
    """Seconds spent on one message, counting each wait as what was asked of `sleep` (the
    real time spent inside it is taken out, so a test's instant sleep counts in full and
    a real sleep once)."""

    def __init__(self, sleep: Sleep) -> None:
        self._sleep = sleep
        self._start = time.monotonic()
        self._real_waits = 0.0
        self._waits = 0.0

    async def sleep(self, seconds: float) -> None:
        began = time.monotonic()
        await self._sleep(seconds)
        self._real_waits += time.monotonic() - began
        self._waits += seconds

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._start - self._real_waits + self._waits


async def send_with_retry(
    attempt: Callable[[], Awaitable[str]],
    *,
    what: str,
    sleep: Sleep,
    policy: RetryPolicy = DEFAULT_POLICY,
    rng: random.Random | None = None,
) -> str:
    """`attempt()` until it returns, under `policy`; raises the last `DeliveryError`
    (`what` names the message in log lines, e.g. the channel ref)."""
    budget = _Budget(sleep)
    jitter = rng or random.Random()
    failures = 0  # transient failures other than rate limits

    def error_of(state: RetryCallState) -> BaseException | None:
        return state.outcome.exception() if state.outcome is not None else None

    def retryable(state: RetryCallState) -> bool:
        nonlocal failures
        e = error_of(state)
        if not isinstance(e, DeliveryError) or e.permanent or e.offline:
            return False  # offline (a host name that does not resolve): said once
        if not isinstance(e, RetryLater) or e.retry_after <= 0:
            failures += 1
        return True

    def wait(state: RetryCallState) -> float:
        e = error_of(state)
        if isinstance(e, RetryLater) and e.retry_after > 0:
            return e.retry_after
        return max(0.0, min(policy.backoff(failures, jitter), policy.budget - budget.elapsed))

    def stop(state: RetryCallState) -> bool:
        e = error_of(state)
        remaining = policy.budget - budget.elapsed
        if isinstance(e, RetryLater) and e.retry_after > 0:
            return e.retry_after > remaining
        return failures >= policy.attempts or remaining <= 0

    def before_sleep(state: RetryCallState) -> None:
        wait_s = state.upcoming_sleep
        log.warning(
            "post to %s failed (attempt %d, %.1fs spent): %s; retrying in %.1fs",
            what,
            state.attempt_number,
            budget.elapsed,
            error_of(state),
            wait_s,
        )

    retrying = AsyncRetrying(
        sleep=budget.sleep,
        retry=retryable,
        wait=wait,
        stop=stop,
        before_sleep=before_sleep,
        reraise=True,
    )

    async def once() -> str:  # a coroutine function: tenacity awaits only those
        return await attempt()

    try:
        return await retrying(once)
    except DeliveryError:
        raise
    except Exception as e:  # a delivery bug: this message fails, the other channels go on
        log.exception("delivery to %s failed unexpectedly", what)
        raise DeliveryError(
            f"delivery to {what} failed unexpectedly: {e.__class__.__name__}"
        ) from None
