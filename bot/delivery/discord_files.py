"""Files in Discord messages: one multipart/form-data request, the file shown in the embed.

Discord's "Uploading Files" (https://discord.com/developers/docs/reference#uploading-files):
the JSON body goes in the ``payload_json`` part, each file in a ``files[n]`` part, and
``attachments: [{"id": n, "filename", "description"}]`` in the JSON describes ``files[n]``
(``description`` is the alt text). An embed shows an uploaded image with
``image.url = "attachment://<filename>"``. The same form is accepted by "Create Message",
"Execute Webhook", interaction responses and follow-ups. At most 10 files per message;
a bot's upload limit is 10 MiB per file in a server without boosts (Discord lowered the
default from 25 MiB to 10 MiB in 2024); beyond it Discord answers 413 code 40005
"Request entity too large" (discord/discord-api-docs#6058).

Pure except `form` (an aiohttp.FormData value). The nonce and `enforce_nonce` of the bot
delivery travel in ``payload_json`` as in the JSON body, so a repeated send of a message
with a file is dropped by Discord as for any message.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from bot.errors import DeliveryError
from bot.models import Attachment

MAX_FILES = 10
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # bytes per file, a server without boosts
MAX_DESCRIPTION = 1024  # attachment description (alt text)
MAX_EMBEDS = 10


def attachment_url(f: Attachment) -> str:
    return f"attachment://{f.filename}"


def with_files(payload: Mapping[str, Any], files: Sequence[Attachment]) -> dict[str, Any]:
    """`payload` with ``attachments`` describing `files` (id n is ``files[n]``) and each
    image shown by an embed (``attachment://name``) unless an embed already shows it: in
    the last embed when it has no image, else in a new embed."""
    out = dict(payload)
    out["attachments"] = [
        {"id": n, "filename": f.filename, "description": f.alt.strip()[:MAX_DESCRIPTION]}
        for n, f in enumerate(files)
    ]
    embeds = [dict(e) for e in payload.get("embeds") or [] if isinstance(e, Mapping)]
    shown = {str((e.get("image") or {}).get("url", "")) for e in embeds}
    for f in files:
        if not f.media_type.startswith("image/") or attachment_url(f) in shown:
            continue
        if embeds and not embeds[-1].get("image"):
            embeds[-1]["image"] = {"url": attachment_url(f)}
        elif len(embeds) < MAX_EMBEDS:
            embeds.append({"image": {"url": attachment_url(f)}})
    if embeds:
        out["embeds"] = embeds
    return out


def check_files(files: Sequence[Attachment], where: str) -> None:
    """Refuse (permanently) what Discord would refuse whatever the server: more than
    MAX_FILES files, two files of the same name (``attachment://`` could not tell them
    apart), an empty file. The size is left to Discord (a boosted server takes more)."""
    if len(files) > MAX_FILES:
        raise DeliveryError(
            f"Discord takes at most {MAX_FILES} files in a message; the one to {where} "
            f"has {len(files)}",
            permanent=True,
        )
    names = [f.filename for f in files]
    if len(set(names)) != len(names):
        raise DeliveryError(
            f"two files of the message to {where} have the same name", permanent=True
        )
    for f in files:
        if not f.content:
            raise DeliveryError(f"{f.filename} for {where} is empty", permanent=True)


def form(payload: Mapping[str, Any], files: Sequence[Attachment]) -> aiohttp.FormData:
    """The multipart body: ``payload_json`` (with `with_files` applied) and ``files[n]``."""
    body = aiohttp.FormData()
    body.add_field(
        "payload_json", json.dumps(with_files(payload, files)), content_type="application/json"
    )
    for n, f in enumerate(files):
        # a stream, not bytes: aiohttp warns that a large bytes body blocks the event loop
        content = io.BytesIO(f.content)
        body.add_field(f"files[{n}]", content, filename=f.filename, content_type=f.media_type)
    return body


def too_large(files: Sequence[Attachment], where: str, detail: str) -> DeliveryError:
    """Discord's 413 said in words: the limit and the sizes sent (permanent: the same
    files will be refused again)."""
    sizes = ", ".join(f"{f.filename} is {mib(len(f.content))}" for f in files)
    return DeliveryError(
        f"Discord refused the files of the message to {where} as too large (413 {detail}): "
        f"a bot may upload at most {mib(DEFAULT_UPLOAD_LIMIT)} per file to a server without "
        f"boosts; {sizes}",
        permanent=True,
    )


def mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"
