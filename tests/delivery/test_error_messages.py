"""Errors say the cause and what to check, over real HTTP: the fakes, a closed port on
127.0.0.1 for "unreachable", and the reserved `.invalid` domain for a name that does not
resolve (RFC 6761: it never does, online or off)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from bot.delivery.discord import DiscordDelivery, use_api_base
from bot.delivery.retry import RetryPolicy, send_with_retry
from bot.delivery.slack import SlackDelivery, slack_client
from bot.delivery.webhook import DiscordWebhookDelivery
from bot.errors import DeliveryError, SourceError
from bot.models import Message, Profile
from bot.sources.retrieve import HttpRetriever
from bot.sources.retrieve import RetryPolicy as FetchPolicy
from fakes.slack import FakeSlack

NOWHERE = "http://paperboy-test.invalid"  # never resolves
MESSAGE = Message({"text": "hello", "content": "hello"})


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def discord_at() -> Iterator[None]:
    from discord.http import Route

    before = Route.BASE
    yield None
    Route.BASE = before


async def test_discord_unreachable_names_the_address_and_the_cause(discord_at: None) -> None:
    port = closed_port()
    use_api_base(f"http://127.0.0.1:{port}/api/v10")
    delivery = DiscordDelivery("token", timeout=5)
    channel = Profile(platform="discord", channel_id="1234")
    try:
        with pytest.raises(DeliveryError) as info:
            await delivery.send(channel, MESSAGE, idempotency_key="k")
    finally:
        await delivery.aclose()
    text = str(info.value)
    assert text.startswith(f"Discord unreachable at 127.0.0.1:{port}"), text
    assert "(connection refused" in text and "ClientConnectorError" not in text
    assert not info.value.permanent and not info.value.offline


async def test_slack_invalid_auth_names_the_token_key() -> None:
    async with FakeSlack(channels=["C0PAPERS01"]) as slack:
        delivery = SlackDelivery(slack_client("xoxb-wrong", slack.url, timeout=5))
        channel = Profile(platform="slack", channel_id="C0PAPERS01")
        try:
            with pytest.raises(DeliveryError) as info:
                await delivery.send(channel, MESSAGE, idempotency_key="k")
        finally:
            await delivery.aclose()
    assert "invalid_auth" in str(info.value) and "slack.bot_token" in str(info.value)
    assert info.value.permanent


async def test_slack_unreachable_names_the_address() -> None:
    port = closed_port()
    delivery = SlackDelivery(slack_client("xoxb-x", f"http://127.0.0.1:{port}/api/", timeout=5))
    try:
        with pytest.raises(DeliveryError) as info:
            await delivery.send(
                Profile(platform="slack", channel_id="C1"), MESSAGE, idempotency_key="k"
            )
    finally:
        await delivery.aclose()
    assert str(info.value).startswith(f"Slack unreachable at 127.0.0.1:{port} posting to slack:C1")
    assert "connection refused" in str(info.value)


async def test_a_name_that_does_not_resolve_is_said_once_and_not_retried() -> None:
    hook = DiscordWebhookDelivery({"discord:1": f"{NOWHERE}/api/webhooks/1/secret-token"})
    sleeps = Sleeps()
    attempts = 0

    async def attempt() -> str:
        nonlocal attempts
        attempts += 1
        return await hook.send(
            Profile(platform="discord", channel_id="1"), MESSAGE, idempotency_key="k"
        )

    try:
        with pytest.raises(DeliveryError) as info:
            await send_with_retry(attempt, what="discord:1", sleep=sleeps, policy=RetryPolicy())
    finally:
        await hook.aclose()
    assert attempts == 1 and sleeps.waits == []
    text = str(info.value)
    assert "cannot resolve paperboy-test.invalid" in text and "offline" in text, text
    assert "secret-token" not in text
    assert info.value.offline and not info.value.permanent  # the next run tries again


async def test_a_refused_connection_is_still_retried() -> None:
    port = closed_port()
    hook = DiscordWebhookDelivery({"discord:1": f"http://127.0.0.1:{port}/api/webhooks/1/t"})
    sleeps = Sleeps()
    try:
        with pytest.raises(DeliveryError, match="connection refused"):
            await send_with_retry(
                lambda: hook.send(
                    Profile(platform="discord", channel_id="1"), MESSAGE, idempotency_key="k"
                ),
                what="discord:1",
                sleep=sleeps,
                policy=RetryPolicy(attempts=3),
            )
    finally:
        await hook.aclose()
    assert len(sleeps.waits) == 2  # three attempts


async def test_a_source_whose_name_does_not_resolve_fails_at_once() -> None:
    sleeps = Sleeps()
    async with HttpRetriever(retry=FetchPolicy(attempts=4), sleep=sleeps) as http:
        with pytest.raises(SourceError) as info:
            await http.fetch(f"{NOWHERE}/feed.xml")
    text = str(info.value)
    assert sleeps.waits == [] and "gave up after" not in text
    assert "cannot resolve paperboy-test.invalid: offline" in text, text
    assert info.value.retryable  # a later run may succeed


async def test_a_refused_source_says_so_in_words() -> None:
    sleeps = Sleeps()
    port = closed_port()
    async with HttpRetriever(retry=FetchPolicy(attempts=2), sleep=sleeps) as http:
        with pytest.raises(SourceError) as info:
            await http.fetch(f"http://127.0.0.1:{port}/feed.xml")
    assert "connection refused" in str(info.value), str(info.value)
    assert "ClientConnectorError" not in str(info.value) and len(sleeps.waits) == 1
