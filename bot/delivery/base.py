"""The delivery port: render a digest for one platform and send its messages."""

from __future__ import annotations

from typing import Protocol

from bot.models import Digest, Message, Profile


class Delivery(Protocol):
    """Posts to one kind of channel.

    Contract: `render` is pure. `send` posts one message to `channel` and returns the
    platform's reference for it (Slack ts, Discord message id, …) only once the platform
    confirmed it. It makes one attempt, with no hidden retries (the caller retries each
    message under one policy, `bot.delivery.retry`), and otherwise raises
    `bot.errors.DeliveryError`: `permanent=True` when retrying cannot help (bad token,
    unknown channel, no access), `bot.delivery.retry.RetryLater` when the platform named
    its wait (429), else transient (5xx, timeout, connection lost). Whatever the answer's
    body (a proxy's HTML page, nothing, truncated JSON), it raises nothing else.
    It never logs or raises a secret. `idempotency_key` is stable for the same message
    content, so a platform that supports it (Discord nonce) can drop a repeated send;
    `maybe_sent` says an earlier attempt (perhaps by a process that died) may have posted
    it, so a platform without such a key (Slack) looks for it before posting.
    """

    def render(self, digest: Digest) -> list[Message]: ...

    async def send(
        self, channel: Profile, message: Message, *, idempotency_key: str, maybe_sent: bool = False
    ) -> str: ...

    async def aclose(self) -> None: ...
