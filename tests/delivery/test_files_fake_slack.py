"""The fake Slack's upload endpoints refuse what Slack refuses (raw HTTP, no delivery code),
so the delivery tests that pass against it mean something."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from fakes.slack import FakeSlack
from fakes.slack_files import sample_png

CHANNEL = "C0FILES001"
PNG = sample_png()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels=[CHANNEL]) as fake:
        yield fake


async def call(fake: FakeSlack, method: str, **form: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {fake.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.url + method, data=form, headers=headers) as resp,
    ):
        data: dict[str, Any] = await resp.json()
        return data


async def upload(url: str, body: bytes) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.post(url, data=body) as resp:
        return resp.status, await resp.text()


async def test_get_upload_url_needs_a_name_and_a_length(slack: FakeSlack) -> None:
    assert (await call(slack, "files.getUploadURLExternal", filename="a.png"))[
        "error"
    ] == "invalid_arguments"
    assert (await call(slack, "files.getUploadURLExternal", length="3"))[
        "error"
    ] == "invalid_arguments"
    zero = await call(slack, "files.getUploadURLExternal", filename="a.png", length="0")
    assert zero["error"] == "missing_argument"
    huge = await call(slack, "files.getUploadURLExternal", filename="a.png", length=str(10**9 + 1))
    assert huge["error"] == "file_upload_size_restricted"
    long_alt = await call(
        slack, "files.getUploadURLExternal", filename="a.png", length="3", alt_txt="x" * 1001
    )
    assert long_alt["error"] == "alt_txt_too_large"


async def test_the_bytes_must_match_the_length_and_a_url_serves_once(slack: FakeSlack) -> None:
    got = await call(slack, "files.getUploadURLExternal", filename="a.png", length=str(len(PNG)))
    status, text = await upload(got["upload_url"], PNG[:-1])
    assert status == 400 and "length mismatch" in text
    assert (await upload(got["upload_url"], PNG)) == (200, f"OK - {len(PNG)}")
    assert (await upload(got["upload_url"], PNG))[0] == 404  # used


async def test_complete_needs_the_bytes_and_keeps_the_file_private(slack: FakeSlack) -> None:
    got = await call(slack, "files.getUploadURLExternal", filename="a.png", length=str(len(PNG)))
    files = json.dumps([{"id": got["file_id"], "title": "chart"}])
    early = await call(slack, "files.completeUploadExternal", files=files)
    assert early["error"] == "file_not_found"
    await upload(got["upload_url"], PNG)
    done = await call(slack, "files.completeUploadExternal", files=files)
    assert done["ok"] and done["files"][0]["channels"] == []
    assert (await call(slack, "files.completeUploadExternal", files=files))[
        "error"
    ] == "file_not_found"
    info = await call(slack, "files.info", file=got["file_id"])
    assert info["file"]["mimetype"] == "image/png" and not info["file"]["is_public"]
    assert slack.messages() == []


async def test_complete_with_a_channel_shares_the_file_as_a_message(slack: FakeSlack) -> None:
    got = await call(slack, "files.getUploadURLExternal", filename="a.png", length=str(len(PNG)))
    await upload(got["upload_url"], PNG)
    files = json.dumps([{"id": got["file_id"]}])
    refused = await call(slack, "files.completeUploadExternal", files=files, channel_id="C0NONE")
    assert refused["error"] == "channel_not_found"
    done = await call(slack, "files.completeUploadExternal", files=files, channel_id=CHANNEL)
    assert done["files"][0]["channels"] == [CHANNEL]
    assert [m["via"] for m in slack.messages(CHANNEL)] == ["files.completeUploadExternal"]


async def test_a_post_or_a_response_url_showing_an_unknown_file_is_invalid_blocks(
    slack: FakeSlack,
) -> None:
    image = {"type": "image", "slack_file": {"id": "F0UNKNOWN1"}, "alt_text": "chart"}
    posted = await call(
        slack, "chat.postMessage", channel=CHANNEL, text="t", blocks=json.dumps([image])
    )
    assert posted["error"] == "invalid_blocks"
    assert "invalid slack file [json-pointer:/blocks/0/slack_file]" in str(posted)
    url = slack.response_url(CHANNEL)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"text": "t", "blocks": [image]}) as resp,
    ):
        assert (resp.status, await resp.text()) == (400, "invalid_blocks")
    both = {**image, "slack_file": {"id": "F0UNKNOWN1", "url": "https://x"}}
    posted = await call(
        slack, "chat.postMessage", channel=CHANNEL, text="t", blocks=json.dumps([both])
    )
    assert posted["error"] == "invalid_blocks" and "either url or id" in str(posted)
    assert slack.messages() == [] and slack.responses() == []


async def test_a_file_that_is_not_an_image_cannot_be_shown(slack: FakeSlack) -> None:
    got = await call(slack, "files.getUploadURLExternal", filename="a.txt", length="2")
    await upload(got["upload_url"], b"hi")
    await call(slack, "files.completeUploadExternal", files=json.dumps([{"id": got["file_id"]}]))
    image = {"type": "image", "slack_file": {"id": got["file_id"]}, "alt_text": "chart"}
    posted = await call(
        slack, "chat.postMessage", channel=CHANNEL, text="t", blocks=json.dumps([image])
    )
    assert posted["error"] == "invalid_blocks"
