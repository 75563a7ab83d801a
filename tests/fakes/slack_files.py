"""Slack's external file upload, as `FakeSlack` serves it (what slack_sdk's
`files_upload_v2` calls), and the check of image blocks showing an uploaded file.

1. ``files.getUploadURLExternal`` (``filename`` and ``length`` required, ``alt_txt``
   optional): a missing argument → ``invalid_arguments``; ``length`` 0 →
   ``missing_argument`` (Slack: "typically only occurs when the length provided is 0");
   not an integer → ``invalid_arguments``; over `MAX_FILE` (1 GB, Slack's per-file limit)
   → ``file_upload_size_restricted``; ``alt_txt`` over 1000 characters →
   ``alt_txt_too_large``. Answers ``upload_url`` (``<origin>/upload/v1/<secret>``, route
   name ``"upload"`` for faults) and ``file_id`` (``F…``).
2. ``POST <upload_url>``: the raw body, or a multipart form's file part; its byte count
   must equal the ``length`` announced, else HTTP 400 (nothing stored); an unknown or
   already used URL → 404. Answers 200 ``OK - <length>`` as Slack does.
3. ``files.completeUploadExternal`` (``files`` a JSON array of ``{"id", "title"}``):
   an unknown id, or one whose bytes never arrived → ``file_not_found``; malformed
   ``files`` → ``invalid_arguments``. With ``channel_id`` (or ``channels``) the file is
   shared there (unknown channel → ``channel_not_found``, bot not a member →
   ``not_in_channel``) and a file message is posted; without, it stays private to the
   app. Completing the same file twice → ``file_not_found`` (its upload is consumed).
4. ``files.info`` (``file``): the file object, ``file_not_found`` for an unknown id.

A message (chat.postMessage, chat.postEphemeral, a response_url) whose image block shows
``slack_file: {"id": F…}`` is refused with ``invalid_blocks`` ("invalid slack file
[json-pointer:/blocks/N/slack_file]", as Slack says it) when that file is unknown, not
completed, not an image (png, jpg, jpeg, gif), or still being processed: set
`processing` to the number of messages that will be refused after each completion (real
Slack processes uploads asynchronously; slackapi/python-slack-sdk#1658).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import count
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from .slack_blocks import Rejection

if TYPE_CHECKING:
    from .slack import FakeSlack

IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif"}


@dataclass
class SlackFile:
    """One file of the fake: what was announced, what arrived, where it is shared."""

    id: str
    filename: str
    length: int
    alt_txt: str
    secret: str
    content: bytes | None = None  # the bytes POSTed to the upload URL
    media_type: str = ""
    completed: bool = False
    title: str = ""
    channels: list[str] = field(default_factory=list)
    not_ready: int = 0  # messages still refused because the file is "being processed"

    @property
    def is_image(self) -> bool:
        return self.filename.rsplit(".", 1)[-1].lower() in IMAGE_TYPES

    def info(self) -> dict[str, Any]:
        ext = self.filename.rsplit(".", 1)[-1].lower()
        return {
            "id": self.id,
            "name": self.filename,
            "title": self.title or self.filename,
            "size": self.length,
            "mimetype": IMAGE_TYPES.get(ext, "application/octet-stream"),
            "filetype": ext,
            "alt_txt": self.alt_txt,
            "is_public": bool(self.channels),
            "channels": list(self.channels),
            "url_private": f"https://files.fake.slack.com/files-pri/T0FAKE0001-{self.id}/"
            + self.filename,
        }


class SlackFiles:
    """The upload endpoints of `FakeSlack` and their records (`files`, by id)."""

    UPLOAD_ROUTE: ClassVar[str] = "upload"
    MAX_FILE: ClassVar[int] = 1_000_000_000  # Slack: files up to 1 GB
    MAX_ALT_TXT: ClassVar[int] = 1000

    def __init__(self, host: FakeSlack) -> None:
        self._host = host
        self.files: dict[str, SlackFile] = {}
        self._by_secret: dict[str, SlackFile] = {}
        self._ids = count(1)
        self.processing = 0  # messages refused after each completion (see module doc)

    # -- recordings ---------------------------------------------------------------------

    def completed(self) -> list[SlackFile]:
        return [f for f in self.files.values() if f.completed]

    # -- Web API ------------------------------------------------------------------------

    def api(self, method: str, params: Mapping[str, Any], token: str) -> web.StreamResponse:
        if method == "files.getUploadURLExternal":
            return self._get_upload_url(params)
        if method == "files.completeUploadExternal":
            return self._complete(params, token)
        if method == "files.info":
            found = self.files.get(str(params.get("file") or ""))
            if found is None or not found.completed:
                return self._host._fail("file_not_found")
            return web.json_response({"ok": True, "file": found.info()})
        return self._host._fail("unknown_method")

    def _get_upload_url(self, params: Mapping[str, Any]) -> web.StreamResponse:
        filename, length = params.get("filename"), params.get("length")
        if not filename or length is None or str(length).strip() == "":
            return self._host._fail("invalid_arguments", ["[ERROR] missing required field"])
        try:
            size = int(str(length))
        except ValueError:
            return self._host._fail("invalid_arguments", ["[ERROR] length must be an integer"])
        if size <= 0:
            return self._host._fail("missing_argument")
        if size > self.MAX_FILE:
            return self._host._fail("file_upload_size_restricted")
        alt = str(params.get("alt_txt") or "")
        if len(alt) > self.MAX_ALT_TXT:
            return self._host._fail("alt_txt_too_large")
        n = next(self._ids)
        file = SlackFile(
            id=f"F0FAKE{n:06d}",
            filename=str(filename),
            length=size,
            alt_txt=alt,
            secret=f"upsecret{n:016d}",
        )
        self.files[file.id] = file
        self._by_secret[file.secret] = file
        url = f"{self._host.origin}/upload/v1/{file.secret}"
        return web.json_response({"ok": True, "upload_url": url, "file_id": file.id})

    def _complete(self, params: Mapping[str, Any], token: str) -> web.StreamResponse:
        raw = params.get("files")
        try:
            entries = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return self._host._fail("invalid_arguments")
        if not isinstance(entries, list) or not entries:
            return self._host._fail("invalid_arguments")
        found: list[tuple[SlackFile, str]] = []
        for entry in entries:
            if not isinstance(entry, Mapping):
                return self._host._fail("invalid_arguments")
            file = self.files.get(str(entry.get("id") or ""))
            if file is None or file.content is None or file.completed:
                return self._host._fail("file_not_found")
            found.append((file, str(entry.get("title") or file.filename)))
        channels = [str(params["channel_id"])] if params.get("channel_id") else []
        channels += [c for c in str(params.get("channels") or "").split(",") if c.strip()]
        for channel in channels:
            error = self._host._channel_error(channel)
            if error is not None:
                return self._host._fail(error)
        for file, title in found:
            file.completed, file.title = True, title
            file.not_ready = self.processing
            file.channels = channels
        for channel in channels:  # a shared file is a message of its own in the channel
            comment = str(params.get("initial_comment") or "")
            self._host._accept(
                {"text": comment or " ".join(f.filename for f, _ in found)},
                channel,
                via="files.completeUploadExternal",
                token=token,
            )
        return web.json_response({"ok": True, "files": [f.info() for f, _ in found]})

    # -- the upload URL -----------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.StreamResponse:
        file = self._by_secret.get(request.match_info["secret"])
        if file is None or file.content is not None:
            return web.Response(status=404, text="upload url not found or already used")
        if request.content_type.startswith("multipart/"):
            content = b""
            reader = await request.multipart()
            async for part in reader:
                if getattr(part, "filename", None) is not None or part.name == "file":
                    content = await part.read()  # type: ignore[union-attr]
                    break
        else:
            content = await request.content.read()
        if len(content) != file.length:
            return web.Response(
                status=400,
                text=f"length mismatch: {len(content)} bytes sent, {file.length} announced",
            )
        file.content = content
        file.media_type = request.content_type
        return web.Response(text=f"OK - {len(content)}")

    # -- image blocks -------------------------------------------------------------------

    def check_blocks(self, blocks: object) -> Rejection | None:
        """``invalid_blocks`` when an image block shows a file the app cannot show (see
        the module doc); counts down the `processing` refusals of each file it names."""
        if not isinstance(blocks, list):
            return None
        errors: list[str] = []
        named: list[SlackFile] = []
        for i, block in enumerate(blocks):
            if not isinstance(block, Mapping) or block.get("type") != "image":
                continue
            ref = block.get("slack_file")
            if not isinstance(ref, Mapping):
                continue
            if ("id" in ref) == ("url" in ref):
                errors.append(f"[ERROR] provide either url or id [json-pointer:/blocks/{i}]")
                continue
            file = self.files.get(str(ref.get("id"))) if "id" in ref else self._by_url(ref)
            if file is None or not file.completed or not file.is_image or file.not_ready > 0:
                errors.append(f"[ERROR] invalid slack file [json-pointer:/blocks/{i}/slack_file]")
            if file is not None:
                named.append(file)
        for file in named:
            file.not_ready = max(0, file.not_ready - 1)
        return Rejection("invalid_blocks", tuple(errors)) if errors else None

    def _by_url(self, ref: Mapping[str, Any]) -> SlackFile | None:
        url = str(ref.get("url") or "")
        return next((f for f in self.files.values() if f.info()["url_private"] == url), None)


def sample_png(width: int = 4, height: int = 3, *, pad: int = 0) -> bytes:
    """A valid PNG (greyscale, `width` x `height`), for the tests of uploads; `pad` adds a
    private ancillary chunk of that many bytes (a big file without a big image)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(
        b"\x00" + bytes((x * 40 + y * 20) % 256 for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    extra = chunk(b"paDd", b"\x00" * pad) if pad else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + extra
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
