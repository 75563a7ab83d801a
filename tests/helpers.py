"""Helpers the tests share: waiting for a condition (never for a guessed time), a free local
port, Slack request signing. (The fixture restoring discord.py's route: tests/conftest.py.)"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import pytest

POLL = 0.01  # seconds between two looks at a condition: how fast a wait notices it


async def wait_until(
    predicate: Callable[[], Any | Awaitable[Any]],
    seconds: float,
    what: str = "the condition",
    *,
    give_up: Callable[[], str | None] | None = None,
    interval: float = POLL,
) -> None:
    """Wait until `predicate()` (a plain or async callable) is true, looking every
    `interval` seconds; fail the test after `seconds`, naming `what`. `give_up`
    says why waiting is pointless (a process it waits on has exited), or None: the test
    then fails at once with that reason."""
    deadline = time.monotonic() + seconds
    while True:
        found = predicate()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return
        if give_up is not None and (reason := give_up()) is not None:
            pytest.fail(f"{reason} (waiting for {what})")
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {seconds:g} s waiting for {what}")
        await asyncio.sleep(interval)


def wait_until_sync(
    predicate: Callable[[], Any],
    seconds: float,
    what: str = "the condition",
    *,
    interval: float = POLL,
) -> None:
    """`wait_until` for a thread (no event loop): block until `predicate()` is true."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {seconds:g} s waiting for {what}")
        time.sleep(interval)


def exited(proc: Any, name: str = "the process") -> Callable[[], str | None]:
    """A `give_up` for `wait_until`: the reason to stop waiting once `proc` (an asyncio or
    a Popen process) has exited."""

    def reason() -> str | None:
        code = getattr(proc, "returncode", None)
        return None if code is None else f"{name} exited ({code})"

    return reason


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a process that must bind it itself)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def slack_signature(secret: str, body: str | bytes, timestamp: int | str) -> str:
    """Slack's request signature: ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    raw = body if isinstance(body, bytes) else body.encode()
    base = f"v0:{timestamp}:".encode() + raw
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_slack_headers(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers of a form-encoded Slack request signed now (or at `timestamp`)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": slack_signature(secret, body, ts),
    }


def slash_command(
    team: str, channel: str, text: str, response_url: str, *, user: str = "U0USER"
) -> str:
    """The form body Slack posts for `/papers <text>` typed in `channel`."""
    return urlencode(
        {
            "team_id": team,
            "channel_id": channel,
            "user_id": user,
            "command": "/papers",
            "text": text,
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )
