"""The retry policy of one message and the reading of foreign error bodies, as pure
functions (bot.delivery.retry, bot.delivery.answers); waits on an injected sleep."""

from __future__ import annotations

import random

import pytest

from bot.delivery.answers import describe, retry_after
from bot.delivery.retry import RetryLater, RetryPolicy, send_with_retry
from bot.errors import DeliveryError


class Waits:
    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def attempts(*outcomes: BaseException | str) -> tuple[list[int], object]:
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(1)
        outcome = outcomes[min(len(calls), len(outcomes)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return calls, attempt


async def test_retry_after_is_waited_exactly_and_is_not_a_failed_attempt() -> None:
    waits = Waits()
    limited = RetryLater("429", retry_after=2.5)
    calls, attempt = attempts(*([limited] * 10), "ts")
    policy = RetryPolicy(attempts=2)
    assert await send_with_retry(attempt, what="c", sleep=waits, policy=policy) == "ts"  # type: ignore[arg-type]
    assert waits.slept == [2.5] * 10 and len(calls) == 11


async def test_a_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    waits = Waits()
    _, attempt = attempts(RetryLater("429", retry_after=3600.0))
    with pytest.raises(RetryLater):
        await send_with_retry(attempt, what="c", sleep=waits, policy=RetryPolicy(budget=120))  # type: ignore[arg-type]
    assert waits.slept == []


async def test_transient_failures_back_off_within_attempts_and_budget() -> None:
    waits = Waits()
    calls, attempt = attempts(DeliveryError("503"))
    policy = RetryPolicy(budget=120, attempts=6, initial=0.5, max_wait=4.0)
    with pytest.raises(DeliveryError, match="503"):
        await send_with_retry(attempt, what="c", sleep=waits, policy=policy, rng=random.Random(1))  # type: ignore[arg-type]
    assert len(calls) == 6 and len(waits.slept) == 5
    caps = [0.5, 1.0, 2.0, 4.0, 4.0]
    assert all(cap / 2 <= w <= cap for w, cap in zip(waits.slept, caps, strict=True))

    waits, (calls, attempt) = Waits(), attempts(DeliveryError("503"))
    with pytest.raises(DeliveryError):
        await send_with_retry(attempt, what="c", sleep=waits, policy=RetryPolicy(budget=3.0))  # type: ignore[arg-type]
    assert sum(waits.slept) <= 3.0 + 1e-9  # the budget bounds the waits


async def test_permanent_errors_are_not_retried_and_bugs_fail_only_the_message() -> None:
    waits = Waits()
    calls, attempt = attempts(DeliveryError("gone", permanent=True))
    with pytest.raises(DeliveryError, match="gone"):
        await send_with_retry(attempt, what="c", sleep=waits)  # type: ignore[arg-type]
    assert len(calls) == 1 and waits.slept == []

    calls, attempt = attempts(AttributeError("'str' object has no attribute 'get'"))
    with pytest.raises(DeliveryError, match="failed unexpectedly: AttributeError") as caught:
        await send_with_retry(attempt, what="slack:C1", sleep=waits)  # type: ignore[arg-type]
    assert not caught.value.permanent and len(calls) == 1  # maybe posted: looked for later


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("", "no body"),
        ("   \r\n", "no body"),
        ("upstream connect error or disconnect/reset before headers", "upstream connect error"),
        (
            "<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>",
            "an HTML page (502 Bad Gateway)",
        ),
        ("<!DOCTYPE html><html><body>oops</body></html>", "an HTML page"),
        ('{"ok": false, "error": "internal_err', "a malformed JSON body"),
        ('{"ok": false, "error": "fatal_error"}', "fatal_error"),
        ('{"message": "Unknown Channel", "code": 10003}', "Unknown Channel"),
        ("[1, 2]", "a malformed JSON body"),
        ("see https://hooks.slack.com/services/T/B/secret now", "see (a URL) now"),
    ],
)
def test_describe_says_what_an_error_body_said_in_one_safe_line(body: str, said: str) -> None:
    line = describe(body)
    assert line.startswith(said), line
    assert "<" not in line and "\n" not in line and len(line) <= 121


def test_retry_after_reads_discord_json_then_the_header() -> None:
    assert retry_after({"Retry-After": "3"}, {"retry_after": 2.5}) == 2.5
    assert retry_after({"Retry-After": "3"}) == 3.0
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}, {"retry_after": "nan"}) is None
    assert retry_after({"Retry-After": "-1"}) is None
