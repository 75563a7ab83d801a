"""A message with a file through Discord (bot API and webhooks), over real HTTP to the
fake: one multipart request (payload_json + files[0]), the image shown in the embed by
``attachment://``, Discord's limits refused with errors that say them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.delivery.discord import DiscordDelivery, use_api_base
from bot.delivery.retry import send_with_retry
from bot.delivery.webhook import DiscordWebhookDelivery
from bot.errors import DeliveryError
from bot.models import Attachment, Message, Profile
from fakes.discord import FakeDiscord
from fakes.faults import FaultPlan, reset
from fakes.slack_files import sample_png

pytestmark = pytest.mark.usefixtures("discord_route")

CHANNEL = "1200000000000000042"
PROFILE = Profile(platform="discord", channel_id=CHANNEL)
PNG = sample_png()
ALT = "MoE: 14 papers this week, up from 6"
CHART = Attachment("trend.png", PNG, alt=ALT)
EMBED = {"title": "This week in MoE", "description": "The week's top papers"}
MESSAGE = Message({"embeds": [EMBED]}, keys=("p1",), files=(CHART,))


async def instant(_seconds: float) -> None:
    return None


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(channels=[CHANNEL]) as fake:
        use_api_base(fake.base)
        yield fake


async def send(fake: FakeDiscord, message: Message = MESSAGE, key: str = "k1") -> str:
    d = DiscordDelivery(fake.token, timeout=5, pace=None)
    try:
        return await d.send(PROFILE, message, idempotency_key=key)
    finally:
        await d.aclose()


async def test_the_file_is_attached_and_shown_in_the_embed(discord_fake: FakeDiscord) -> None:
    message_id = await send(discord_fake)
    [posted] = discord_fake.messages(CHANNEL)
    assert posted["id"] == message_id and posted["nonce"] == "k1"
    assert posted["embeds"][0]["title"] == EMBED["title"]
    assert posted["embeds"][0]["image"] == {"url": "attachment://trend.png"}
    assert [a["filename"] for a in posted["attachments"]] == ["trend.png"]
    [upload] = discord_fake.files.of(message_id)
    assert upload.content == PNG and upload.description == ALT
    assert upload.content_type == "image/png" and upload.index == 0


async def test_an_embed_with_its_own_image_gets_the_chart_in_a_new_embed(
    discord_fake: FakeDiscord,
) -> None:
    embed = {**EMBED, "image": {"url": "https://example.org/logo.png"}}
    await send(discord_fake, Message({"embeds": [embed]}, files=(CHART,)))
    [posted] = discord_fake.messages(CHANNEL)
    assert [e.get("image") for e in posted["embeds"]] == [
        {"url": "https://example.org/logo.png"},
        {"url": "attachment://trend.png"},
    ]


async def test_a_repeated_send_with_a_file_is_dropped_by_its_nonce(
    discord_fake: FakeDiscord,
) -> None:
    """The answer of the first post is lost; the retry carries the same nonce: one
    message, one upload kept."""
    discord_fake.faults = FaultPlan.script([reset(after=True)], only={FakeDiscord.SEND_MESSAGE})
    d = DiscordDelivery(discord_fake.token, timeout=5, pace=None)
    try:
        await send_with_retry(
            lambda: d.send(PROFILE, MESSAGE, idempotency_key="k2"),
            what=PROFILE.ref,
            sleep=instant,
        )
    finally:
        await d.aclose()
    assert len(discord_fake.messages(CHANNEL)) == 1 and discord_fake.nonce_hits == 1


async def test_a_file_over_the_upload_limit_is_a_permanent_error_naming_it(
    discord_fake: FakeDiscord,
) -> None:
    big = Attachment("trend.png", sample_png(pad=10 * 1024 * 1024), alt=ALT)
    with pytest.raises(DeliveryError) as info:
        await send(discord_fake, Message({"embeds": [EMBED]}, files=(big,)))
    text = str(info.value)
    assert info.value.permanent
    assert "413" in text and "10.0 MiB per file" in text and "trend.png is 10.0 MiB" in text
    assert discord_fake.messages() == []


async def test_more_than_ten_files_are_refused_before_sending(discord_fake: FakeDiscord) -> None:
    files = tuple(Attachment(f"c{n}.png", PNG) for n in range(11))
    with pytest.raises(DeliveryError) as info:
        await send(discord_fake, Message({"content": "x"}, files=files))
    assert info.value.permanent and "at most 10 files" in str(info.value)
    assert discord_fake.requests[FakeDiscord.SEND_MESSAGE] == 0


async def raw_post(fake: FakeDiscord, form: aiohttp.FormData) -> tuple[int, Any]:
    headers = {"Authorization": f"Bot {fake.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{fake.base}/channels/{CHANNEL}/messages", data=form, headers=headers) as r,
    ):
        return r.status, await r.json()


def form_of(payload: str, files: dict[str, bytes]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("payload_json", payload, content_type="application/json")
    for name, content in files.items():
        form.add_field(name, content, filename="trend.png", content_type="image/png")
    return form


async def test_the_fake_refuses_an_attachment_without_its_file(discord_fake: FakeDiscord) -> None:
    payload = '{"content": "x", "attachments": [{"id": 1, "filename": "trend.png"}]}'
    status, body = await raw_post(discord_fake, form_of(payload, {"files[0]": PNG}))
    assert status == 400 and body["code"] == 50035
    assert body["errors"]["attachments"]["0"]["_errors"][0]["code"] == "ATTACHMENT_NOT_FOUND"


async def test_the_fake_refuses_an_embed_showing_a_file_not_sent(
    discord_fake: FakeDiscord,
) -> None:
    payload = '{"embeds": [{"title": "t", "image": {"url": "attachment://other.png"}}]}'
    status, body = await raw_post(discord_fake, form_of(payload, {"files[0]": PNG}))
    assert status == 400 and "embeds" in body["errors"]
    assert discord_fake.messages() == []


async def test_the_fake_refuses_eleven_files_and_a_file_too_large(
    discord_fake: FakeDiscord,
) -> None:
    files = {f"files[{n}]": PNG for n in range(11)}
    status, body = await raw_post(discord_fake, form_of('{"content": "x"}', files))
    assert status == 400 and "files" in body["errors"]
    discord_fake.files.upload_limit = len(PNG) - 1
    status, body = await raw_post(discord_fake, form_of('{"content": "x"}', {"files[0]": PNG}))
    assert (status, body) == (413, {"message": "Request entity too large", "code": 40005})


async def test_a_discord_webhook_carries_the_file_too(discord_fake: FakeDiscord) -> None:
    url = discord_fake.add_webhook(CHANNEL)
    hook = DiscordWebhookDelivery({PROFILE.ref: url})
    try:
        message_id = await hook.send(PROFILE, MESSAGE, idempotency_key="w1")
    finally:
        await hook.aclose()
    [posted] = discord_fake.messages(CHANNEL)
    assert posted["via"] == "webhook" and posted["id"] == message_id
    assert posted["embeds"][0]["image"] == {"url": "attachment://trend.png"}
    [upload] = discord_fake.files.of(message_id)
    assert upload.content == PNG and upload.description == ALT


async def test_a_discord_webhook_says_the_upload_limit(discord_fake: FakeDiscord) -> None:
    url = discord_fake.add_webhook(CHANNEL)
    discord_fake.files.upload_limit = len(PNG) - 1
    hook = DiscordWebhookDelivery({PROFILE.ref: url})
    try:
        with pytest.raises(DeliveryError) as info:
            await hook.send(PROFILE, MESSAGE, idempotency_key="w2")
    finally:
        await hook.aclose()
    assert info.value.permanent and "10.0 MiB per file" in str(info.value)
    assert url.rsplit("/", 1)[-1] not in str(info.value)  # the webhook's token stays secret
