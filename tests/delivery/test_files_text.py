"""Where a file cannot travel or has no platform: a Slack incoming webhook gets the
message with the file said in words; the console writes the file beside its text."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.delivery.console import ConsoleDelivery
from bot.delivery.webhook import SlackWebhookDelivery
from bot.errors import DeliveryError
from bot.models import Attachment, Message, Profile
from fakes.slack import FakeSlack
from fakes.slack_files import sample_png

PNG = sample_png()
ALT = "MoE: 14 papers this week, up from 6"
CHART = Attachment("trend.png", PNG, alt=ALT)


async def test_a_slack_webhook_gets_the_alt_text_in_words() -> None:
    async with FakeSlack(channels=["C0HOOK0001"]) as slack:
        url = slack.add_webhook("C0HOOK0001")
        profile = Profile(platform="slack-webhook", channel_id="C0HOOK0001")
        hook = SlackWebhookDelivery({profile.ref: url})
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Weekly*"}}]
        message = Message({"text": "Weekly", "blocks": blocks}, files=(CHART,))
        try:
            await hook.send(profile, message, idempotency_key="k")
        finally:
            await hook.aclose()
        [posted] = slack.messages("C0HOOK0001")
    assert posted["via"] == "webhook"
    assert posted["blocks"][0] == blocks[0]
    words = posted["blocks"][-1]
    assert words["type"] == "context"
    assert words["elements"][0]["text"] == f"trend.png: {ALT}"
    assert not any(b["type"] == "image" for b in posted["blocks"])
    assert slack.requests["files.getUploadURLExternal"] == 0


async def test_the_console_writes_the_file_beside_its_text(tmp_path: Path) -> None:
    out = io.StringIO()
    console = ConsoleDelivery(out, files_dir=tmp_path / "console")
    profile = Profile(platform="console", channel_id="demo")
    message = Message({"text": "This week in MoE"}, files=(CHART,))
    ref = await console.send(profile, message, idempotency_key="abc123")
    [written] = (tmp_path / "console").iterdir()
    assert written.read_bytes() == PNG and written.name.endswith("-trend.png")
    assert "console_demo" in written.name and "abc123" in written.name
    assert out.getvalue() == f"This week in MoE\n[image: {written} — {ALT}]\n"
    assert ref == "console:abc123"
    # the same message again rewrites the same file
    await console.send(profile, message, idempotency_key="abc123")
    assert list((tmp_path / "console").iterdir()) == [written]


async def test_a_file_name_cannot_escape_the_console_directory(tmp_path: Path) -> None:
    console = ConsoleDelivery(io.StringIO(), files_dir=tmp_path / "c")
    evil = Attachment("../../etc/passwd.png", PNG)
    await console.send(
        Profile(platform="console", channel_id="x"),
        Message({"text": "t"}, files=(evil,)),
        idempotency_key="k",
    )
    [written] = (tmp_path / "c").iterdir()
    assert written.name.endswith("passwd.png") and written.parent == tmp_path / "c"


async def test_a_console_directory_that_cannot_be_written_is_a_clear_error(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    console = ConsoleDelivery(io.StringIO(), files_dir=blocker / "console")
    with pytest.raises(DeliveryError) as info:
        await console.send(
            Profile(platform="console", channel_id="x"),
            Message({"text": "t"}, files=(CHART,)),
            idempotency_key="k",
        )
    assert info.value.permanent and "cannot write trend.png" in str(info.value)
