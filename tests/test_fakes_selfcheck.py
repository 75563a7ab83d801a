"""The fake Slack and Discord servers enforce what they claim, driven by the real clients."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord.http import HTTPClient, Route, handle_message_parameters
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from fakes.discord import FakeDiscord
from fakes.faults import FaultPlan, delay, disconnect, rate_limit, reset, server_error
from fakes.slack import FakeSlack

SLACK_CHANNEL = "C0DIGEST01"
DISCORD_CHANNEL = "1200000000000000042"
NO_WAIT = FixedValueRetryIntervalCalculator(0.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


# -- fault plans ------------------------------------------------------------------------


def test_fault_plans_are_deterministic_and_counted() -> None:
    def run(plan: FaultPlan) -> list[str | None]:
        return [(f.kind if (f := plan.next("x")) else None) for _ in range(200)]

    first, second = run(FaultPlan.random(7)), run(FaultPlan.random(7))
    assert first == second
    assert 30 < first.count("rate_limit") < 90 and 5 < first.count("server_error") < 40

    plan = FaultPlan.storm(3, "server_error", only={"chat.postMessage"})
    assert plan.next("auth.test") is None  # not covered: does not advance the plan
    kinds = [plan.next("chat.postMessage") for _ in range(5)]
    assert [k.kind if k else None for k in kinds] == ["server_error"] * 3 + [None, None]
    assert plan.injected == {"server_error": 3} and plan.seen == 5 and plan.total == 3

    scripted = FaultPlan.script([None, reset(), rate_limit(2.0)])
    assert [scripted.next("x") for _ in range(4)] == [None, reset(), rate_limit(2.0), None]
    with pytest.raises(ValueError):
        FaultPlan.random(1, rate_limit=0.8, server_error=0.5)


# -- Slack ------------------------------------------------------------------------------


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels=[SLACK_CHANNEL]) as fake:
        yield fake


def slack_client(fake: FakeSlack, **kwargs: Any) -> AsyncWebClient:
    return AsyncWebClient(token=fake.token, base_url=fake.url, **kwargs)


async def test_slack_auth_and_revocation(slack: FakeSlack) -> None:
    client = slack_client(slack)
    assert (await client.auth_test())["user_id"] == FakeSlack.BOT_USER_ID
    with pytest.raises(SlackApiError) as bad:
        await AsyncWebClient(token="xoxb-wrong", base_url=slack.url).auth_test()
    assert bad.value.response["error"] == "invalid_auth"
    slack.revoke(slack.token)
    with pytest.raises(SlackApiError) as revoked:
        await client.auth_test()
    assert revoked.value.response["error"] == "invalid_auth"
    assert revoked.value.response.status_code == 200


async def test_slack_post_records_message_and_history_is_newest_first(slack: FakeSlack) -> None:
    client = slack_client(slack)
    metadata = {"event_type": "paperboy_digest", "event_payload": {"key": "k1"}}
    first = await client.chat_postMessage(
        channel=SLACK_CHANNEL,
        text="fallback",
        blocks=[section("*Paper one*")],
        unfurl_links=False,
        unfurl_media=False,
        metadata=metadata,
    )
    second = await client.chat_postMessage(channel=SLACK_CHANNEL, text="plain")
    assert first["ok"] and float(second["ts"]) > float(first["ts"])
    assert first["message"]["blocks"] == [section("*Paper one*")]
    [recorded, _] = slack.messages(SLACK_CHANNEL)
    assert recorded["unfurl_links"] is False and recorded["unfurl_media"] is False
    assert recorded["link_names"] is None and recorded["metadata"] == metadata
    assert recorded["flags"] == [] and recorded["token"] == slack.token

    history = await client.conversations_history(channel=SLACK_CHANNEL)
    assert [m["ts"] for m in history["messages"]] == [second["ts"], first["ts"]]
    assert "metadata" not in history["messages"][1]
    with_meta = await client.conversations_history(
        channel=SLACK_CHANNEL, include_all_metadata=True, limit=1
    )
    assert with_meta["has_more"] and with_meta["messages"][0]["ts"] == second["ts"]
    page2 = await client.conversations_history(
        channel=SLACK_CHANNEL,
        include_all_metadata=True,
        cursor=with_meta["response_metadata"]["next_cursor"],
    )
    assert page2["messages"][0]["metadata"] == metadata
    link = await client.chat_getPermalink(channel=SLACK_CHANNEL, message_ts=first["ts"])
    assert link["permalink"].endswith(first["ts"].replace(".", ""))


async def test_slack_form_encoded_post_and_missing_fallback_flag(slack: FakeSlack) -> None:
    client = slack_client(slack)
    blocks = '[{"type": "divider"}, {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]'
    await client.api_call(
        "chat.postMessage", data={"channel": SLACK_CHANNEL, "blocks": blocks, "link_names": "1"}
    )
    [message] = slack.messages()
    assert message["flags"] == ["missing_fallback_text"] and message["link_names"] is True
    assert message["blocks"][0] == {"type": "divider"}


def md(value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": value}


def plain(value: str) -> dict[str, str]:
    return {"type": "plain_text", "text": value}


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"blocks": [section("")]}, "invalid_blocks"),
        ({"blocks": [section("x" * 3001)]}, "invalid_blocks"),
        ({"blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        ({"blocks": [{"type": "header", "text": md("h")}]}, "invalid_blocks"),
        ({"blocks": [{"type": "header", "text": plain("h" * 151)}]}, "invalid_blocks"),
        ({"blocks": [{"type": "section", "fields": [md("f")] * 11}]}, "invalid_blocks"),
        ({"blocks": [{"type": "context", "elements": [md("c")] * 11}]}, "invalid_blocks"),
        ({"blocks": [{"type": "carousel"}]}, "invalid_blocks"),
        ({"blocks": [section("x" * 2500)] * 5}, "msg_too_long"),
        ({"text": "x" * 40_001}, "msg_too_long"),
        ({"text": ""}, "no_text"),
        ({"text": "t", "metadata": {"event_payload": {}}}, "invalid_metadata_format"),
    ],
)  # fmt: skip
async def test_slack_refuses_what_slack_refuses(
    slack: FakeSlack, payload: dict[str, Any], error: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        await slack_client(slack).api_call(
            "chat.postMessage", json={"channel": SLACK_CHANNEL, **payload}
        )
    assert refused.value.response["error"] == error
    if error == "invalid_blocks":
        [explanation, *_] = refused.value.response["response_metadata"]["messages"]
        assert explanation.startswith("[ERROR]") and "json-pointer:/blocks" in explanation
    assert slack.messages() == []


async def test_slack_channel_states(slack: FakeSlack) -> None:
    client = slack_client(slack)
    slack.add_channel("C0OUTSIDE1", member=False)
    cases = {"C0NOWHERE1": "channel_not_found", "C0OUTSIDE1": "not_in_channel"}
    for channel, error in cases.items():
        with pytest.raises(SlackApiError) as refused:
            await client.chat_postMessage(channel=channel, text="hi")
        assert refused.value.response["error"] == error
    slack.delete_channel(SLACK_CHANNEL)
    with pytest.raises(SlackApiError) as gone:
        await client.chat_postMessage(channel=SLACK_CHANNEL, text="hi")
    assert gone.value.response["error"] == "channel_not_found"


async def test_slack_429_is_retried_by_the_rate_limit_handler(
    slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # slack_sdk sleeps int(Retry-After) + random.random(): pin the jitter so tests stay fast
    monkeypatch.setattr("slack_sdk.http_retry.builtin_async_handlers.random.random", lambda: 0.0)
    slack.faults = FaultPlan.storm(2, rate_limit(0.0), only={"chat.postMessage"})
    client = slack_client(
        slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=3)]
    )
    await client.chat_postMessage(channel=SLACK_CHANNEL, text="hi")
    assert len(slack.messages()) == 1
    assert slack.faults_injected == {"rate_limit": 2}
    assert slack.requests["chat.postMessage"] == 3

    slack.faults = FaultPlan.storm(1, rate_limit(0.05))
    with pytest.raises(SlackApiError) as limited:  # no handler: slack_sdk retries nothing
        await slack_client(slack).chat_postMessage(channel=SLACK_CHANNEL, text="hi")
    assert limited.value.response.status_code == 429
    assert limited.value.response["error"] == "ratelimited"
    assert limited.value.response.headers["Retry-After"] == "1"  # whole seconds, rounded up


async def test_slack_real_rate_limit_per_channel() -> None:
    clock = FakeClock()
    async with FakeSlack(channels=[SLACK_CHANNEL, "C0OTHER001"], clock=clock) as fake:
        fake.enforce_rate(per_second=1.0, burst=1)
        client = slack_client(fake)
        await client.chat_postMessage(channel=SLACK_CHANNEL, text="1")
        await client.chat_postMessage(channel="C0OTHER001", text="other channel")
        with pytest.raises(SlackApiError) as limited:
            await client.chat_postMessage(channel=SLACK_CHANNEL, text="2")
        assert limited.value.response.status_code == 429
        clock.now += 1.0
        await client.chat_postMessage(channel=SLACK_CHANNEL, text="2")
        assert fake.rate_limited == 1 and len(fake.messages(SLACK_CHANNEL)) == 2


async def test_slack_server_errors_and_resets(slack: FakeSlack) -> None:
    slack.faults = FaultPlan.script([server_error(503)])
    with pytest.raises(SlackApiError) as failed:
        await slack_client(slack).chat_postMessage(channel=SLACK_CHANNEL, text="hi")
    assert failed.value.response.status_code == 503

    slack.faults = FaultPlan.script([server_error(500), reset(), disconnect()])
    # slack_sdk counts attempts across all handlers (one RetryState): the connection
    # handler's limit must cover the server error retried before it
    handlers = [
        AsyncServerErrorRetryHandler(max_retry_count=1, interval_calculator=NO_WAIT),
        AsyncConnectionErrorRetryHandler(max_retry_count=3, interval_calculator=NO_WAIT),
    ]
    await slack_client(slack, retry_handlers=handlers).chat_postMessage(
        channel=SLACK_CHANNEL, text="survived"
    )
    assert slack.faults_injected == {"server_error": 1, "reset": 1, "disconnect": 1}
    assert [m["text"] for m in slack.messages()] == ["survived"]

    # Posted, confirmation lost. AsyncWebClient's default handlers retry a connection
    # error once, so the default client posts the message twice.
    slack.faults = FaultPlan.script([reset(after=True)])
    await slack_client(slack).chat_postMessage(channel=SLACK_CHANNEL, text="twice")
    assert [m["text"] for m in slack.messages()][-2:] == ["twice", "twice"]
    slack.faults = FaultPlan.script([reset(after=True)])
    with pytest.raises(aiohttp.ClientOSError):
        await slack_client(slack, retry_handlers=[]).chat_postMessage(
            channel=SLACK_CHANNEL, text="once"
        )
    assert [m["text"] for m in slack.messages()][-1] == "once"


async def test_delay_fault_times_the_client_out_and_never_holds_shutdown() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with FakeSlack(channels=[SLACK_CHANNEL], faults=FaultPlan.storm(1, delay(30))) as fake:
        url = fake.add_webhook(SLACK_CHANNEL)
        timeout = aiohttp.ClientTimeout(total=0.1)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            with pytest.raises(TimeoutError):
                await session.post(url, json={"text": "slow"})
    assert loop.time() - started < 2.0


async def test_slack_incoming_webhook(slack: FakeSlack) -> None:
    url = slack.add_webhook(SLACK_CHANNEL)
    hook = AsyncWebhookClient(url)
    ok = await hook.send(text="digest", blocks=[section("*Paper*")], unfurl_links=False)
    assert (ok.status_code, ok.body) == (200, "ok")
    bad = await hook.send(text="digest", blocks=[section("")])
    assert (bad.status_code, bad.body) == (400, "invalid_blocks")
    empty = await hook.send(text="")
    assert (empty.status_code, empty.body) == (400, "no_text")
    slack.revoke_webhook(url)
    gone = await hook.send(text="digest")
    assert (gone.status_code, gone.body) == (404, "no_service")
    [message] = slack.messages(SLACK_CHANNEL)
    assert message["via"] == "webhook" and message["unfurl_links"] is False

    slack.faults = FaultPlan.storm(1, rate_limit(2.5))
    limited = await AsyncWebhookClient(slack.add_webhook(SLACK_CHANNEL)).send(text="x")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"


async def test_slack_response_url(slack: FakeSlack) -> None:
    url = slack.response_url(SLACK_CHANNEL)
    reply = AsyncWebhookClient(url)
    first = await reply.send(text="searching…", response_type="ephemeral")
    assert first.status_code == 200
    for n in range(4):
        await reply.send(text=f"update {n}", replace_original=True)
    sixth = await reply.send(text="too many")
    assert (sixth.status_code, sixth.body) == (404, "used_url")
    assert [r["text"] for r in slack.responses(url)][:2] == ["searching…", "update 0"]
    assert slack.responses(url)[1]["replace_original"] is True
    unknown = await AsyncWebhookClient(slack.url.replace("/api/", "/actions/T/1/x")).send(text="x")
    assert unknown.status_code == 404


# -- Discord ----------------------------------------------------------------------------


@pytest.fixture
async def discord_fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(channels=[DISCORD_CHANNEL]) as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.base)
        yield fake


@pytest.fixture
async def http(discord_fake: FakeDiscord) -> AsyncIterator[HTTPClient]:
    client = HTTPClient(asyncio.get_running_loop())
    await client.static_login(discord_fake.token)
    yield client
    await client.close()


def send_route(channel: str = DISCORD_CHANNEL) -> Route:
    return Route("POST", "/channels/{channel_id}/messages", channel_id=channel)


async def login(token: str) -> dict[str, Any]:
    # one client per login: static_login replaces its session without closing the old one
    client = HTTPClient(asyncio.get_running_loop())
    try:
        me: dict[str, Any] = await client.static_login(token)  # type: ignore[assignment]
        return me
    finally:
        await client.close()


async def test_discord_login(discord_fake: FakeDiscord) -> None:
    me = await login(discord_fake.token)
    assert me["id"] == FakeDiscord.BOT_USER_ID and me["bot"] is True
    with pytest.raises(discord.LoginFailure):
        await login("not-a-token")
    discord_fake.revoke(discord_fake.token)
    with pytest.raises(discord.LoginFailure):
        await login(discord_fake.token)


async def test_discord_send_message_records_allowed_mentions(
    discord_fake: FakeDiscord, http: HTTPClient
) -> None:
    embed = discord.Embed(title="Paper", description="TL;DR", url="https://arxiv.org/abs/1")
    params = handle_message_parameters(
        content="Today's papers", embeds=[embed], allowed_mentions=discord.AllowedMentions.none()
    )
    data = await http.send_message(DISCORD_CHANNEL, params=params)
    assert data["channel_id"] == DISCORD_CHANNEL and data["embeds"][0]["title"] == "Paper"
    [message] = discord_fake.messages(DISCORD_CHANNEL)
    assert message["allowed_mentions"] == {"parse": []} and message["via"] == "bot"

    file = discord.File(io.BytesIO(b"pdf"), filename="paper.txt")
    with_file = handle_message_parameters(content="attached", file=file)
    await http.send_message(DISCORD_CHANNEL, params=with_file)  # multipart payload_json
    assert [a["filename"] for a in discord_fake.messages()[-1]["attachments"]] == ["paper.txt"]

    two = [{"title": "a", "url": "https://x"}, {"title": "b", "url": "https://x"}]
    await http.request(send_route(), json={"embeds": two})
    assert discord_fake.messages()[-1]["warnings"] == ["embeds_share_url"]


BOTH_USERS = {"parse": ["users"], "users": ["1"]}


def fields(n: int, value: str = "v") -> list[dict[str, str]]:
    return [{"name": f"f{i}", "value": value} for i in range(n)]


@pytest.mark.parametrize(
    ("payload", "code", "where"),
    [
        ({"content": "x" * 2001}, 50035, "content"),
        ({"embeds": [{"title": "t"}] * 11}, 50035, "embeds"),
        ({"embeds": [{"title": "t" * 257}]}, 50035, "embeds"),
        ({"embeds": [{"description": "d" * 4097}]}, 50035, "embeds"),
        ({"embeds": [{"fields": fields(26)}]}, 50035, "embeds"),
        ({"embeds": [{"fields": fields(1, "v" * 1025)}]}, 50035, "embeds"),
        ({"embeds": [{"footer": {"text": "f" * 2049}}]}, 50035, "embeds"),
        ({"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]}, 50035, "embeds"),
        ({"content": "x", "nonce": "n" * 26}, 50035, "nonce"),
        ({"content": "x", "allowed_mentions": BOTH_USERS}, 50035, "allowed_mentions"),
        ({"content": "  "}, 50006, None),
        ({}, 50006, None),
    ],
)  # fmt: skip
async def test_discord_refuses_what_discord_refuses(
    discord_fake: FakeDiscord,
    http: HTTPClient,
    payload: dict[str, Any],
    code: int,
    where: str | None,
) -> None:
    with pytest.raises(discord.HTTPException) as refused:
        await http.request(send_route(), json=payload)
    assert refused.value.status == 400 and refused.value.code == code
    if where is not None:
        assert where in str(refused.value.text) or where in refused.value.text
    assert discord_fake.messages() == []


async def test_discord_total_embed_size_error_shape(http: HTTPClient) -> None:
    big = [{"description": "d" * 4000}, {"description": "d" * 2001}]
    with pytest.raises(discord.HTTPException) as refused:
        await http.request(send_route(), json={"embeds": big})
    assert "Embed size exceeds maximum size of 6000" in str(refused.value)


async def test_discord_access_errors_map_to_discord_exceptions(
    discord_fake: FakeDiscord, http: HTTPClient
) -> None:
    discord_fake.add_channel("1300", access=False)
    discord_fake.add_channel("1301", send=False)
    with pytest.raises(discord.NotFound) as unknown:
        await http.request(send_route("999"), json={"content": "x"})
    assert unknown.value.code == 10003
    with pytest.raises(discord.Forbidden) as hidden:
        await http.request(send_route("1300"), json={"content": "x"})
    assert hidden.value.code == 50001
    with pytest.raises(discord.Forbidden) as mute:
        await http.request(send_route("1301"), json={"content": "x"})
    assert mute.value.code == 50013
    discord_fake.revoke(discord_fake.token)
    with pytest.raises(discord.HTTPException) as revoked:
        await http.request(send_route(), json={"content": "x"})
    assert revoked.value.status == 401


async def test_discord_429_is_retried_by_discord_py(
    discord_fake: FakeDiscord, http: HTTPClient
) -> None:
    discord_fake.faults = FaultPlan.storm(2, rate_limit(0.05), only={FakeDiscord.SEND_MESSAGE})
    data = await http.request(send_route(), json={"content": "after the storm"})
    assert data["content"] == "after the storm"
    assert discord_fake.faults_injected == {"rate_limit": 2}
    assert discord_fake.requests[FakeDiscord.SEND_MESSAGE] == 3
    assert len(discord_fake.messages()) == 1


async def test_discord_rate_headers_are_honoured(
    discord_fake: FakeDiscord, http: HTTPClient
) -> None:
    discord_fake.enforce_rate(limit=2, per=0.2)
    for n in range(4):
        await http.request(send_route(), json={"content": str(n)})
    # discord.py read X-RateLimit-Remaining: 0 and waited for the reset: no 429 at all
    assert discord_fake.rate_limited == 0 and len(discord_fake.messages()) == 4


async def test_discord_real_rate_limit_answers_a_retryable_429(
    discord_fake: FakeDiscord, http: HTTPClient
) -> None:
    discord_fake.enforce_rate(limit=1, per=0.2)
    other = HTTPClient(asyncio.get_running_loop())  # its own buckets: it cannot know
    await other.static_login(discord_fake.token)
    try:
        await asyncio.gather(
            http.request(send_route(), json={"content": "first"}),
            other.request(send_route(), json={"content": "second"}),
        )
    finally:
        await other.close()
    assert discord_fake.rate_limited == 1 and len(discord_fake.messages()) == 2


async def test_discord_nonce_dedupe(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    async with FakeDiscord(channels=[DISCORD_CHANNEL], clock=clock) as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.base)
        http = HTTPClient(asyncio.get_running_loop())
        await http.static_login(fake.token)
        try:
            payload = {"content": "digest", "nonce": "k" * 25, "enforce_nonce": True}
            first = await http.request(send_route(), json=payload)
            again = await http.request(send_route(), json=payload)
            assert again["id"] == first["id"] and fake.nonce_hits == 1
            await http.request(send_route(), json={**payload, "enforce_nonce": False})
            assert len(fake.messages()) == 2
            clock.now += FakeDiscord.NONCE_WINDOW + 1
            late = await http.request(send_route(), json=payload)
            assert late["id"] != first["id"] and len(fake.messages()) == 3
        finally:
            await http.close()


async def test_discord_server_error_and_reset(discord_fake: FakeDiscord, http: HTTPClient) -> None:
    discord_fake.faults = FaultPlan.script([server_error(503)])
    with pytest.raises(discord.DiscordServerError):
        await http.request(send_route(), json={"content": "x"})
    # discord.py retries a reset only for errno 54/10054 (macOS/Windows), not Linux's 104
    discord_fake.faults = FaultPlan.script([reset(after=True)])
    with pytest.raises(aiohttp.ClientOSError):
        await http.request(send_route(), json={"content": "posted, reply lost"})
    assert [m["content"] for m in discord_fake.messages()] == ["posted, reply lost"]


async def test_discord_webhooks(discord_fake: FakeDiscord) -> None:
    url = discord_fake.add_webhook(DISCORD_CHANNEL)
    webhook_id, token = url.split("/")[-2:]
    async with aiohttp.ClientSession() as session:
        hook = discord.Webhook.partial(int(webhook_id), token, session=session)
        sent = await hook.send("digest", wait=True, allowed_mentions=discord.AllowedMentions.none())
        assert isinstance(sent, discord.WebhookMessage) and sent.content == "digest"
        assert sent.id == int(discord_fake.messages()[0]["id"])
        with pytest.raises(discord.HTTPException) as refused:
            await hook.send(embed=discord.Embed(title="t" * 257), wait=True)
        assert refused.value.code == 50035
        discord_fake.faults = FaultPlan.storm(1, rate_limit(0.05))
        await hook.send("after a 429", wait=True)
        discord_fake.revoke_webhook(url)
        with pytest.raises(discord.NotFound) as gone:
            await hook.send("x", wait=True)
        assert gone.value.code == 10015
    assert [m["via"] for m in discord_fake.messages()] == ["webhook", "webhook"]


async def test_discord_interaction_callback_followup_and_edit() -> None:
    clock = FakeClock()
    async with FakeDiscord(clock=clock) as fake, aiohttp.ClientSession() as session:
        interaction_id, token = fake.add_interaction(DISCORD_CHANNEL)
        callback = f"{fake.base}/interactions/{interaction_id}/{token}/callback"
        webhook = f"{fake.base}/webhooks/{fake.application_id}/{token}"
        async with session.post(webhook, json={"content": "too early"}) as early:
            assert early.status == 404
        async with session.post(
            callback, params={"with_response": "1"}, json={"type": 5, "data": {"flags": 64}}
        ) as deferred:
            answer = await deferred.json(content_type="application/json")
            assert deferred.headers["Content-Type"] == "application/json"
            assert answer["interaction"]["response_message_loading"] is True
            assert answer["interaction"]["response_message_ephemeral"] is True
        async with session.post(callback, json={"type": 4, "data": {"content": "x"}}) as twice:
            assert twice.status == 400 and (await twice.json())["code"] == 40060
        async with session.patch(
            f"{webhook}/messages/@original", json={"content": "3 papers"}
        ) as e:
            assert (await e.json())["content"] == "3 papers"
        async with session.post(webhook, params={"wait": "true"}, json={"content": "more"}) as f:
            assert f.status == 200
        assert [entry["kind"] for entry in fake.interactions.log] == [
            "callback",
            "edit",
            "followup",
        ]

        late_id, late_token = fake.add_interaction(DISCORD_CHANNEL)
        clock.now += 3.5
        late = f"{fake.base}/interactions/{late_id}/{late_token}/callback"
        async with session.post(late, json={"type": 5}) as missed:
            assert missed.status == 404 and (await missed.json())["code"] == 10062
