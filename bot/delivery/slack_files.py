"""Files in Slack messages: upload privately, then show them in the message's blocks.

Slack's upload is three calls, as slack_sdk's `files_upload_v2` makes them
(https://docs.slack.dev/reference/methods/files.getUploadURLExternal,
https://docs.slack.dev/reference/methods/files.completeUploadExternal):

1. ``files.getUploadURLExternal`` (``filename``, ``length`` in bytes, ``alt_txt``) answers
   an ``upload_url`` and a ``file_id``;
2. the bytes are POSTed to ``upload_url`` (raw, or multipart; Slack answers HTTP 200);
3. ``files.completeUploadExternal`` (``files=[{"id", "title"}]``) finishes it. Without
   ``channel_id`` "the file will be private": visible to the app only, posted nowhere.

The message then shows each file with an image block whose ``slack_file`` is ``{"id":
F…}`` (https://docs.slack.dev/reference/block-kit/composition-objects/slack-file-object:
"the user posting these blocks must have access to this file", which the uploading app
has; only png, jpg, jpeg and gif). So a message with files is still ONE
``chat.postMessage``, carrying the outbox's idempotency key in its metadata: a process
killed at any point of the upload leaves at most a private file nobody sees, never a post,
and the post itself keeps the recovery of `SlackDelivery` (look in the channel's history
before posting again). Sharing the file with ``channel_id`` instead would post a second,
separate message that has no metadata and cannot be found again: a kill between the two
would duplicate the file or lose the text.

Uploads are processed asynchronously: right after ``completeUploadExternal`` Slack may
refuse the image block with ``invalid_blocks`` ("invalid slack file", maintainers'
answers in slackapi/python-slack-sdk#1658 and slackapi/java-slack-sdk#1349: wait and try
again). `file_not_ready` recognises that refusal so the delivery treats it as transient;
the retry reuses the uploaded file (`SlackUploads` remembers it per message). Waits of
about a second, sometimes many, are reported (python-slack-sdk#1521,
java-slack-sdk#1347), so the post is retried as a `RetryLater` of `PROCESSING_WAIT`
seconds: within the message's time budget, not limited to the few attempts allowed for
failures (bot.delivery.retry).

Errors follow the delivery contract (bot.delivery.base): `DeliveryError` permanent for
what retrying cannot fix (bad token, a file Slack refuses), `RetryLater` for a 429,
transient otherwise. The upload URL is a secret (its path authorises the upload): it
never appears in an error or a log line.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.answers import describe, retry_after
from bot.delivery.explain import slack_refusal, unreachable
from bot.delivery.retry import RetryLater
from bot.errors import DeliveryError
from bot.models import Attachment

# Slack shows these in an image block (slack_file object reference).
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif"})
MAX_ALT_TXT = 1000  # files.getUploadURLExternal: alt_txt_too_large beyond 1000 characters
MAX_ALT_TEXT = 2000  # image block alt_text
MAX_SECTION_TEXT = 3000
MAX_BLOCKS = 50  # blocks in a message
UPLOAD_TIMEOUT = 60.0
PROCESSING_WAIT = 2.0  # seconds between posts refused while Slack processes the file
FILES_SCOPE = "missing_scope — add the files:write scope to the app and reinstall it"

# Refusals of the upload calls that retrying cannot fix.
PERMANENT_UPLOAD_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "invalid_arguments",
        "missing_argument",
        "alt_txt_too_large",
        "file_type_not_allowed",
        "file_upload_size_restricted",
        "file_uploads_disabled",
        "file_uploads_except_images_disabled",
        "channel_not_found",
        "not_in_channel",
        "team_access_not_granted",
    }
)


def check_files(files: Iterable[Attachment], where: str) -> None:
    """Refuse (permanently) a file Slack cannot show in a message: only PNG, JPEG and GIF
    images have an image block; an empty file cannot be uploaded."""
    for f in files:
        if f.media_type not in IMAGE_TYPES:
            raise DeliveryError(
                f"Slack cannot show {f.filename} ({f.media_type}) in the message to {where}: "
                "only PNG, JPEG or GIF images can be",
                permanent=True,
            )
        if not f.content:
            raise DeliveryError(f"{f.filename} for {where} is empty", permanent=True)


def check_room(payload: Mapping[str, Any], files: Sequence[Attachment], where: str) -> None:
    """Refuse (permanently, before uploading anything) a message whose blocks and one
    image block per file would pass Slack's MAX_BLOCKS."""
    blocks = len(payload.get("blocks") or []) or (1 if payload.get("text") else 0)
    if blocks + len(files) > MAX_BLOCKS:
        raise DeliveryError(
            f"the message to {where} has {blocks} blocks: with an image block for each of "
            f"its {len(files)} files it would pass Slack's {MAX_BLOCKS}",
            permanent=True,
        )


def alt_text(f: Attachment) -> str:
    """The words standing for the image (the file name when it has none)."""
    return (f.alt.strip() or f.filename)[:MAX_ALT_TEXT]


def image_blocks(files: Sequence[Attachment], file_ids: Sequence[str]) -> list[dict[str, Any]]:
    """An image block per uploaded file, showing it by its Slack id."""
    return [
        {"type": "image", "slack_file": {"id": file_id}, "alt_text": alt_text(f)}
        for f, file_id in zip(files, file_ids, strict=True)
    ]


def with_blocks(payload: Mapping[str, Any], extra: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`payload` with `extra` blocks after its own. A text-only payload gets its text as a
    section block first (with blocks, Slack shows `text` only as the notification)."""
    out = dict(payload)
    blocks = list(payload.get("blocks") or [])
    text = str(payload.get("text") or "")
    if not blocks and text:
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION_TEXT]}}]
    out["blocks"] = blocks + list(extra)
    if not text:
        out["text"] = " ".join(alt_text_of(b) for b in extra) or "(image)"
    return out


def alt_text_of(block: Mapping[str, Any]) -> str:
    return str(block.get("alt_text") or "")


def in_words(payload: Mapping[str, Any], files: Sequence[Attachment]) -> dict[str, Any]:
    """`payload` with each file said in words (where a file cannot travel: Slack incoming
    webhooks, a failed upload): a context block "Chart: <alt text>" per file."""
    lines = [f"{f.filename}: {f.alt.strip() or 'an image'}" for f in files]
    extra = [
        {"type": "context", "elements": [{"type": "plain_text", "text": line[:MAX_ALT_TEXT]}]}
        for line in lines
    ]
    out = with_blocks(payload, extra)
    if not payload.get("text"):
        out["text"] = "\n".join(lines)
    return out


def file_not_ready(data: object, payload: Mapping[str, Any]) -> bool:
    """Whether an ``invalid_blocks`` refusal points only at image blocks showing a
    ``slack_file`` (a file Slack has not finished processing): worth retrying."""
    if not isinstance(data, Mapping) or data.get("error") != "invalid_blocks":
        return False
    meta = data.get("response_metadata")
    messages = meta.get("messages") if isinstance(meta, Mapping) else None
    messages = messages or data.get("errors")
    if not isinstance(messages, list) or not messages:
        return False
    blocks = payload.get("blocks") or []
    shown = {
        i
        for i, b in enumerate(blocks)
        if isinstance(b, Mapping) and b.get("type") == "image" and b.get("slack_file")
    }
    for message in messages:
        text = str(message)
        at = text.rpartition("[json-pointer:/blocks/")[2].split("/", 1)[0].rstrip("]")
        if not at.isdigit() or int(at) not in shown:
            return False
    return True


def still_processing(where: str) -> RetryLater:
    """The post to `where` showed a file Slack has not finished processing: try again in
    PROCESSING_WAIT seconds (see `file_not_ready`)."""
    return RetryLater(
        f"Slack is still processing the file of the post to {where} (invalid_blocks on its image)",
        retry_after=PROCESSING_WAIT,
    )


class SlackUploads:
    """Uploads files privately with an AsyncWebClient (the delivery's, or the chat
    front-end's) and remembers, per message key, the files already uploaded, so a retry
    of the post reuses them instead of uploading again."""

    MAX_REMEMBERED: ClassVar[int] = 1000

    def __init__(self, client: AsyncWebClient, *, timeout: float = UPLOAD_TIMEOUT) -> None:
        self._client = client
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._done: dict[str, tuple[str, ...]] = {}

    def forget(self, key: str) -> None:
        """The message was posted (or given up): its files are no longer needed here."""
        self._done.pop(key, None)

    async def upload(self, files: Sequence[Attachment], *, key: str, where: str) -> list[str]:
        """The Slack ids of `files`, uploaded privately (each at most once per `key` while
        the process lives). Raises `DeliveryError` as the delivery contract says."""
        check_files(files, where)
        known = self._done.get(key)
        if known is not None and len(known) == len(files):
            return list(known)
        ids = [await self._one(f, where) for f in files]
        if len(self._done) >= self.MAX_REMEMBERED:
            self._done.pop(next(iter(self._done)))
        self._done[key] = tuple(ids)
        return ids

    async def _one(self, f: Attachment, where: str) -> str:
        what = f"uploading {f.filename} for {where}"
        got = await self._call(
            "files.getUploadURLExternal",
            {"filename": f.filename, "length": str(len(f.content)), "alt_txt": f.alt[:MAX_ALT_TXT]},
            what,
        )
        upload_url, file_id = got.get("upload_url"), got.get("file_id")
        if not isinstance(upload_url, str) or not isinstance(file_id, str):
            raise DeliveryError(f"Slack answered files.getUploadURLExternal without a URL {what}")
        await self._post_bytes(upload_url, f, what)
        await self._call(
            "files.completeUploadExternal",
            {"files": json.dumps([{"id": file_id, "title": f.filename}])},
            what,
        )
        return file_id

    async def _post_bytes(self, upload_url: str, f: Attachment, what: str) -> None:
        """POST the bytes to the upload URL (raw body). The URL is a secret: errors name
        only the host's answer."""
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.post(  # a stream: a large bytes body would block the event loop
                    upload_url, data=io.BytesIO(f.content), headers={"Content-Type": f.media_type}
                ) as resp,
            ):
                status = resp.status
                body = (await resp.read()).decode("utf-8", "replace")
                headers = resp.headers.copy()
        except (TimeoutError, aiohttp.ClientError) as e:
            raise unreachable("Slack's file upload", e, what) from None
        if status < 300:
            return
        if status == 429:
            wait = retry_after(headers) or 0.0
            raise RetryLater(f"Slack rate limited {what} (429)", retry_after=wait)
        raise DeliveryError(
            f"Slack's file upload answered HTTP {status} {what}: {describe(body)}",
            permanent=400 <= status < 500 and status != 408,
        )

    async def _call(self, method: str, data: dict[str, str], what: str) -> dict[str, Any]:
        try:
            response = await self._client.api_call(method, data=data)
        except SlackApiError as e:
            raise refusal(e, method, what) from None
        except (TimeoutError, aiohttp.ClientError) as e:
            raise unreachable("Slack", e, what) from None
        except AttributeError:  # slack_sdk's validate() on an HTTP 200 text body
            raise DeliveryError(f"Slack answered {method} without JSON {what}") from None
        return response.data if isinstance(response.data, dict) else {}


def refusal(e: SlackApiError, method: str, what: str) -> DeliveryError:
    """The DeliveryError for a refused upload call (429 → RetryLater)."""
    response = e.response
    status = int(getattr(response, "status_code", 0) or 0)
    headers = getattr(response, "headers", None) or {}
    data = getattr(response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    if status == 429:
        wait = retry_after(headers) or 0.0
        return RetryLater(f"Slack rate limited {method} {what} (429)", retry_after=wait)
    if error and status == 200:
        said = FILES_SCOPE if error == "missing_scope" else slack_refusal(str(error))
        return DeliveryError(
            f"Slack refused {method} {what}: {said}",
            permanent=str(error) in PERMANENT_UPLOAD_ERRORS,
        )
    detail = str(error) if error else describe(data if isinstance(data, str) else None)
    return DeliveryError(
        f"Slack answered HTTP {status or '(unreadable)'} to {method} {what}: {detail}",
        permanent=400 <= status < 500 and status != 408,
    )
