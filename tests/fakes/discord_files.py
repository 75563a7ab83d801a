"""Discord's multipart/form-data message bodies, as `FakeDiscord` reads them, with the
limits Discord enforces on uploaded files ("Uploading Files", discord.com/developers/docs/
reference#uploading-files).

A multipart body has a ``payload_json`` part (the JSON body) and file parts (``files[n]``;
any other name is numbered in arrival order). Checked:

- at most `MAX_FILES` (10) files → else 400 code 50035, ``files`` "Must be 10 or fewer in
  length";
- each file at most `upload_limit` bytes (10 MiB, a bot's default in a server without
  boosts) → else 413 ``{"message": "Request entity too large", "code": 40005}``;
- each ``attachments[]`` entry of the payload needs an ``id`` naming an uploaded
  ``files[id]`` → else 400 code 50035 ``ATTACHMENT_NOT_FOUND`` "Attachment data not
  found" (what Discord answers, Pycord-Development/pycord#505);
- every ``attachment://name`` an embed's image or thumbnail shows must be an uploaded
  file's name → else 400 code 50035. Stricter than Discord, which shows no image then:
  a test must notice a chart that would not appear.

Accepted files are recorded (`uploads`: the message id, name, bytes, type and description)
so a test can check that the PNG's bytes arrived.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web

_FILES_N = re.compile(r"^files\[(\d+)\]$")


@dataclass(frozen=True)
class Upload:
    """A file Discord received with a message."""

    index: int
    filename: str
    content: bytes
    content_type: str
    description: str = ""
    message_id: str = ""


class Refused(web.HTTPException):
    """An answer raised from inside a handler (aiohttp sends it as the response)."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        self.status_code = status
        # exactly application/json, no charset: discord.py parses nothing else
        super().__init__(text=json.dumps(body))
        self.headers["Content-Type"] = "application/json"


class DiscordFiles:
    """Reads multipart bodies for `FakeDiscord` and records the files of created messages."""

    MAX_FILES: ClassVar[int] = 10
    DEFAULT_UPLOAD_LIMIT: ClassVar[int] = 10 * 1024 * 1024

    def __init__(self) -> None:
        self.upload_limit = self.DEFAULT_UPLOAD_LIMIT
        self.uploads: list[Upload] = []
        self._last: list[Upload] = []

    async def read(self, request: web.Request) -> tuple[dict[str, Any], list[str]]:
        """(payload, file names) of a multipart body; raises `Refused` (413/400) or
        ValueError (no JSON object in ``payload_json``)."""
        payload: Any = {}
        files: list[Upload] = []
        reader = await request.multipart()
        async for part in reader:
            name = part.name or ""
            data = await part.read()  # type: ignore[union-attr]
            if name == "payload_json":
                payload = json.loads(data.decode("utf-8"))
                continue
            match = _FILES_N.match(name)
            index = int(match.group(1)) if match else len(files)
            filename = getattr(part, "filename", None) or name
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            files.append(Upload(index, str(filename), bytes(data), content_type))
        if not isinstance(payload, dict):
            raise ValueError("payload_json is not an object")
        # an interaction callback ({"type": 4, "data": {...}}) carries the message in data
        data = payload.get("data")
        message = data if "type" in payload and isinstance(data, dict) else payload
        self._check(message, files)
        described = {
            int(a["id"]): str(a.get("description") or "")
            for a in message.get("attachments") or []
            if isinstance(a, Mapping) and str(a.get("id", "")).isdigit()
        }
        self._last = [
            Upload(f.index, f.filename, f.content, f.content_type, described.get(f.index, ""))
            for f in files
        ]
        return payload, [f.filename for f in files]

    def attachments(self, message_id: str, names: list[str]) -> list[dict[str, Any]]:
        """The attachment objects of message `message_id` made of the files `names` (of
        the last body read), as Discord returns them; the files are recorded."""
        out: list[dict[str, Any]] = []
        last = {u.filename: u for u in self._last}
        for n, name in enumerate(names):
            upload = last.get(name)
            content = upload.content if upload is not None else b""
            kept = Upload(
                upload.index if upload is not None else n,
                name,
                content,
                upload.content_type if upload is not None else "application/octet-stream",
                upload.description if upload is not None else "",
                message_id,
            )
            self.uploads.append(kept)
            url = f"https://cdn.fake.discordapp.com/attachments/{message_id}/{n}/{name}"
            attachment: dict[str, Any] = {
                "id": str(int(message_id) + n + 1),
                "filename": name,
                "size": len(content),
                "url": url,
                "proxy_url": url.replace("cdn.", "media."),
                "content_type": kept.content_type,
            }
            if kept.description:
                attachment["description"] = kept.description
            out.append(attachment)
        self._last = []
        return out

    def of(self, message_id: str) -> list[Upload]:
        """The files received with the message `message_id`."""
        return [u for u in self.uploads if u.message_id == message_id]

    def _check(self, payload: Mapping[str, Any], files: list[Upload]) -> None:
        if len(files) > self.MAX_FILES:
            raise _invalid(
                {
                    "files": _err(
                        "BASE_TYPE_MAX_LENGTH", f"Must be {self.MAX_FILES} or fewer in length."
                    )
                }
            )
        for f in files:
            if len(f.content) > self.upload_limit:
                raise Refused(413, {"message": "Request entity too large", "code": 40005})
        indexes = {f.index for f in files}
        errors: dict[str, Any] = {}
        for i, attachment in enumerate(payload.get("attachments") or []):
            wanted = attachment.get("id") if isinstance(attachment, Mapping) else None
            if wanted is None or not str(wanted).isdigit() or int(wanted) not in indexes:
                errors[str(i)] = _err("ATTACHMENT_NOT_FOUND", "Attachment data not found")
        if errors:
            raise _invalid({"attachments": errors})
        names = {f.filename for f in files}
        for i, embed in enumerate(payload.get("embeds") or []):
            if not isinstance(embed, Mapping):
                continue
            for key in ("image", "thumbnail"):
                url = str((embed.get(key) or {}).get("url") or "")
                if url.startswith("attachment://") and url[len("attachment://") :] not in names:
                    raise _invalid(
                        {
                            "embeds": {
                                str(i): {
                                    key: {
                                        "url": _err(
                                            "ATTACHMENT_NOT_FOUND",
                                            f"No uploaded file is named {url[13:]!r}",
                                        )
                                    }
                                }
                            }
                        }
                    )


def _err(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def _invalid(errors: dict[str, Any]) -> Refused:
    return Refused(400, {"code": 50035, "message": "Invalid Form Body", "errors": errors})
