"""Console delivery: print the plain-text digest (the demo channel, `make run`)."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.models import Digest, Message, Profile
from bot.pipeline.render.text import render_text


class ConsoleDelivery:
    """Writes each message to a text stream (stdout by default); never fails to "post"."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def render(self, digest: Digest) -> list[Message]:
        return render_text(digest)

    async def send(
        self, channel: Profile, message: Message, *, idempotency_key: str, maybe_sent: bool = False
    ) -> str:
        stream = self._stream or sys.stdout
        stream.write(str(message.payload.get("text", "")) + "\n")
        stream.flush()
        return f"console:{idempotency_key}"

    async def aclose(self) -> None:
        return None
