"""Console delivery: print the plain-text digest (the demo channel, `make run`)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TextIO

from bot.errors import DeliveryError
from bot.models import Attachment, Digest, Message, Profile
from bot.pipeline.render.text import render_text

DEFAULT_FILES_DIR = Path("data/console")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ConsoleDelivery:
    """Writes each message to a text stream (stdout by default); never fails to "post".

    A message's files are written beside it, into `files_dir` (``data/console/`` by
    default, created when needed), one file per attachment named after the channel, the
    message's idempotency key and the file's name (so sending the same message again
    rewrites the same file); the text output then names each file's path and its alt text
    (``[image: data/console/…-trend.png — MoE: 14 papers this week, up from 6]``). A file
    that cannot be written is a permanent `DeliveryError` naming the path and the reason.
    """

    def __init__(self, stream: TextIO | None = None, *, files_dir: Path | None = None) -> None:
        self._stream = stream
        self._files_dir = files_dir if files_dir is not None else DEFAULT_FILES_DIR

    def render(self, digest: Digest) -> list[Message]:
        return render_text(digest)

    async def send(
        self, channel: Profile, message: Message, *, idempotency_key: str, maybe_sent: bool = False
    ) -> str:
        lines = [str(message.payload.get("text", ""))]
        for f in message.files:
            path = self._write(channel, f, idempotency_key)
            alt = f" — {f.alt.strip()}" if f.alt.strip() else ""
            lines.append(f"[image: {path}{alt}]")
        stream = self._stream or sys.stdout
        stream.write("\n".join(lines) + "\n")
        stream.flush()
        return f"console:{idempotency_key}"

    def _write(self, channel: Profile, f: Attachment, idempotency_key: str) -> Path:
        name = "-".join(
            _safe(part) for part in (channel.ref, idempotency_key[:16], Path(f.filename).name)
        )
        path = self._files_dir / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f.content)
        except OSError as e:
            raise DeliveryError(
                f"cannot write {f.filename} for {channel.ref} to {path}: {e.strerror or e}",
                permanent=True,
            ) from None
        return path

    async def aclose(self) -> None:
        return None


def _safe(part: str) -> str:
    return _UNSAFE.sub("_", part).strip("._") or "file"
