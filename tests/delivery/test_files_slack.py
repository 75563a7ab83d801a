"""A message with a file through Slack, over real HTTP to the fake: uploaded privately
(files.getUploadURLExternal, the upload URL, files.completeUploadExternal without a
channel), then shown by the one chat.postMessage that carries the idempotency key; a
process killed at any point of it leaves exactly one post."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.delivery.retry import RetryPolicy, send_with_retry
from bot.delivery.slack import SlackDelivery, slack_client
from bot.delivery.slack_files import PROCESSING_WAIT
from bot.errors import DeliveryError
from bot.models import Attachment, Message, Profile
from fakes.faults import FaultPlan, disconnect, reset, server_error
from fakes.slack import FakeSlack
from fakes.slack_files import sample_png

CHANNEL = "C0WEEKLY01"
PROFILE = Profile(platform="slack", channel_id=CHANNEL)
PNG = sample_png()
ALT = "MoE: 14 papers this week, up from 6"
CHART = Attachment("trend.png", PNG, alt=ALT)
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*This week in MoE*"}}]
MESSAGE = Message({"text": "This week in MoE", "blocks": BLOCKS}, keys=("p1",), files=(CHART,))


async def instant(_seconds: float) -> None:
    return None


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels=[CHANNEL]) as fake:
        yield fake


def delivery(fake: FakeSlack) -> SlackDelivery:
    return SlackDelivery(slack_client(fake.token, fake.url, timeout=5))


async def send(fake: FakeSlack, message: Message = MESSAGE, **kw: Any) -> str:
    d = delivery(fake)
    try:
        return await d.send(PROFILE, message, idempotency_key=kw.pop("key", "k1"), **kw)
    finally:
        await d.aclose()


def shown_file(message: dict[str, Any]) -> str:
    images = [b for b in message["blocks"] if b["type"] == "image"]
    assert len(images) == 1
    return str(images[0]["slack_file"]["id"])


async def test_the_file_is_uploaded_privately_and_the_post_shows_it(slack: FakeSlack) -> None:
    ts = await send(slack)
    [posted] = slack.messages(CHANNEL)
    assert posted["ts"] == ts and posted["via"] == "chat.postMessage"
    assert posted["blocks"][0] == BLOCKS[0]  # the message's own blocks first
    image = posted["blocks"][-1]
    assert image["alt_text"] == ALT
    [file] = slack.files.completed()
    assert image["slack_file"] == {"id": file.id}
    assert file.content == PNG and file.length == len(PNG) and file.alt_txt == ALT
    assert file.filename == "trend.png" and file.channels == []  # private: not shared
    assert posted["metadata"]["event_payload"]["idempotency_key"] == "k1"
    assert slack.requests["files.getUploadURLExternal"] == 1
    assert slack.requests["upload"] == 1 and slack.requests["files.completeUploadExternal"] == 1


async def test_a_text_only_message_gets_its_text_as_a_block_before_the_image(
    slack: FakeSlack,
) -> None:
    await send(slack, Message({"text": "weekly *digest*"}, files=(CHART,)))
    [posted] = slack.messages(CHANNEL)
    assert posted["blocks"][0]["text"]["text"] == "weekly *digest*"
    assert posted["text"] == "weekly *digest*"
    assert posted["blocks"][1]["type"] == "image"


async def test_a_file_slack_cannot_show_is_refused_before_anything_is_sent(
    slack: FakeSlack,
) -> None:
    pdf = Attachment("report.pdf", b"%PDF-1.4", media_type="application/pdf")
    with pytest.raises(DeliveryError) as info:
        await send(slack, Message({"text": "x"}, files=(pdf,)))
    assert info.value.permanent
    assert "PNG, JPEG or GIF" in str(info.value) and "report.pdf" in str(info.value)
    assert slack.requests["files.getUploadURLExternal"] == 0 and slack.messages() == []


async def test_a_refused_upload_is_permanent_and_names_slacks_reason(slack: FakeSlack) -> None:
    slack.files.MAX_FILE = len(PNG) - 1  # type: ignore[misc]  # this workspace restricts sizes
    with pytest.raises(DeliveryError) as info:
        await send(slack)
    assert info.value.permanent and "file_upload_size_restricted" in str(info.value)
    assert slack.messages() == []


async def test_an_image_block_showing_an_unknown_file_is_refused_by_the_fake(
    slack: FakeSlack,
) -> None:
    """The fake's own check: a post cannot show a file that was never completed."""
    image = {"type": "image", "slack_file": {"id": "F0NOTHERE1"}, "alt_text": "x"}
    with pytest.raises(DeliveryError) as info:
        await send(slack, Message({"text": "x", "blocks": [image]}), key="k-unknown")
    assert "invalid_blocks" in str(info.value)
    assert slack.messages() == []


async def test_a_file_still_being_processed_is_retried_without_uploading_again(
    slack: FakeSlack,
) -> None:
    """Slack processes uploads asynchronously: the first posts are refused with
    invalid_blocks on the image; the retries, more than the attempts allowed for failures
    and each after PROCESSING_WAIT, reuse the uploaded file."""
    slack.files.processing = 8
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    d = delivery(slack)
    try:
        ts = await send_with_retry(
            lambda: d.send(PROFILE, MESSAGE, idempotency_key="k2"),
            what=PROFILE.ref,
            sleep=sleep,
            policy=RetryPolicy(attempts=6),
        )
    finally:
        await d.aclose()
    [posted] = slack.messages(CHANNEL)
    assert posted["ts"] == ts
    assert slack.requests["chat.postMessage"] == 9 and waits == [PROCESSING_WAIT] * 8
    assert slack.requests["files.getUploadURLExternal"] == 1  # uploaded once
    assert shown_file(posted) == slack.files.completed()[0].id


@pytest.mark.parametrize(
    ("route", "fault"),
    [
        ("files.getUploadURLExternal", server_error(503)),
        ("upload", disconnect()),  # the connection dropped during the upload POST
        ("upload", reset()),
        ("files.completeUploadExternal", server_error(500)),
    ],
)
async def test_a_transient_failure_mid_upload_then_a_retry_posts_exactly_once(
    slack: FakeSlack, route: str, fault: Any
) -> None:
    slack.faults = FaultPlan.script([fault], only={route})
    d = delivery(slack)
    try:
        await send_with_retry(
            lambda: d.send(PROFILE, MESSAGE, idempotency_key="k3"),
            what=PROFILE.ref,
            sleep=instant,
        )
    finally:
        await d.aclose()
    [posted] = slack.messages(CHANNEL)
    [file] = slack.files.completed()
    assert shown_file(posted) == file.id and file.content == PNG
    assert slack.faults.total == 1


async def test_a_process_killed_mid_upload_leaves_one_post_after_the_next_run(
    slack: FakeSlack,
) -> None:
    """The first process dies while its bytes are on the wire (the connection drops, the
    process never comes back); the next run resends the message (the outbox marks it
    maybe_sent): nothing was posted, so it is posted once, with a file of its own."""
    slack.faults = FaultPlan.script([disconnect()], only={"upload"})
    with pytest.raises(DeliveryError):
        await send(slack, key="k4")
    assert slack.messages() == []
    await send(slack, key="k4", maybe_sent=True)
    [posted] = slack.messages(CHANNEL)
    assert shown_file(posted) in {f.id for f in slack.files.completed()}


async def test_a_process_killed_after_the_post_before_its_answer_does_not_post_again(
    slack: FakeSlack,
) -> None:
    """The post happened, its answer was lost and the process died: the next run finds
    the post by its key in the channel's history and uploads nothing."""
    slack.faults = FaultPlan.script([reset(after=True)], only={"chat.postMessage"})
    with pytest.raises(DeliveryError) as info:
        await send(slack, key="k5")
    assert not info.value.permanent
    assert len(slack.messages(CHANNEL)) == 1
    uploads = slack.requests["files.getUploadURLExternal"]
    ts = await send(slack, key="k5", maybe_sent=True)
    [posted] = slack.messages(CHANNEL)
    assert posted["ts"] == ts
    assert slack.requests["files.getUploadURLExternal"] == uploads  # nothing uploaded again


async def test_a_process_killed_at_any_request_of_the_upload_posts_once(
    slack: FakeSlack,
) -> None:
    """Killed (cancelled) at each request in turn: the next run always ends with exactly
    one post showing a completed file."""
    routes = ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    for n, route in enumerate(routes):
        channel = f"C0KILL{n:04d}"
        slack.add_channel(channel)
        profile = Profile(platform="slack", channel_id=channel)
        slack.faults = FaultPlan.script([disconnect(after=True)], only={route})
        d = delivery(slack)
        try:
            with pytest.raises(DeliveryError):
                await d.send(profile, MESSAGE, idempotency_key=f"kill{n}")
        finally:
            await d.aclose()
        d = delivery(slack)
        try:
            await d.send(profile, MESSAGE, idempotency_key=f"kill{n}", maybe_sent=True)
        finally:
            await d.aclose()
        [posted] = slack.messages(channel)
        assert slack.files.files[shown_file(posted)].completed


async def test_the_upload_url_never_appears_in_errors_or_logs(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # as bot.logs.configure_logging sets it: slack_sdk's DEBUG lines dump whole answers
    caplog.set_level(logging.WARNING, logger="slack_sdk")
    faults = [disconnect(), reset(), *[server_error(502)] * 10]
    slack.faults = FaultPlan.script(faults, only={"upload"})
    d = delivery(slack)
    try:
        with pytest.raises(DeliveryError) as info:
            await send_with_retry(
                lambda: d.send(PROFILE, MESSAGE, idempotency_key="k6"),
                what=PROFILE.ref,
                sleep=instant,
                policy=RetryPolicy(attempts=3),
            )
    finally:
        await d.aclose()
    secrets = [f.secret for f in slack.files.files.values()]
    assert secrets
    shown = str(info.value) + caplog.text
    assert not any(s in shown for s in secrets) and slack.token not in shown
    assert "502" in str(info.value)


async def test_two_messages_with_files_at_once_each_show_their_own(slack: FakeSlack) -> None:
    other = Attachment("other.png", sample_png(6, 2), alt="other")
    d = delivery(slack)
    try:
        await asyncio.gather(
            d.send(PROFILE, MESSAGE, idempotency_key="a"),
            d.send(
                PROFILE, Message({"text": "b"}, keys=("p2",), files=(other,)), idempotency_key="b"
            ),
        )
    finally:
        await d.aclose()
    by_text = {m["text"]: slack.files.files[shown_file(m)] for m in slack.messages(CHANNEL)}
    assert by_text["This week in MoE"].content == PNG
    assert by_text["b"].content == other.content


async def test_a_token_without_files_write_says_which_scope_to_add(slack: FakeSlack) -> None:
    slack.revoke(slack.token, error="missing_scope")
    with pytest.raises(DeliveryError) as info:
        await send(slack)
    assert info.value.permanent and "files:write" in str(info.value)
    assert slack.messages() == []


async def test_a_message_with_no_room_for_its_image_is_refused_before_uploading(
    slack: FakeSlack,
) -> None:
    blocks = [{"type": "divider"}] * 50
    with pytest.raises(DeliveryError) as info:
        await send(slack, Message({"text": "full", "blocks": blocks}, files=(CHART,)))
    assert info.value.permanent and "Slack's 50" in str(info.value)
    assert slack.requests["files.getUploadURLExternal"] == 0


async def test_a_file_of_megabytes_arrives_whole(slack: FakeSlack) -> None:
    big = Attachment("trend.png", sample_png(pad=3 * 1024 * 1024), alt=ALT)
    await send(slack, Message({"text": "big"}, files=(big,)))
    [file] = slack.files.completed()
    assert file.content == big.content and file.length == len(big.content)
