"""Structured logs: one JSON object per line, secrets never written."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.logs import MASK, configure_logging, redact, settings_secrets
from bot.settings import ChannelSettings, Settings, SlackSettings

SLACK_TOKEN = "xoxb-1111-2222-abcdefghijkl"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"
SIGNING = "8f14e45fceea167a5a36dedd4bea2543"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    settings = Settings(
        database="postgresql://paperboy:hunter2pw@db/paperboy",
        slack=SlackSettings(bot_token=SecretStr(SLACK_TOKEN), signing_secret=SecretStr(SIGNING)),
        channels=[ChannelSettings(platform="slack-webhook", id="h", url=SecretStr(WEBHOOK))],
    )
    handler = configure_logging("INFO", secrets=settings_secrets(settings), stream=out)
    yield out
    logging.getLogger().removeHandler(handler)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_one_json_object_per_event_with_fields(stream: io.StringIO) -> None:
    logging.getLogger("bot.test").info("digest done", extra={"event": "digest", "posted": 3})
    (entry,) = lines(stream)
    assert entry["message"] == "digest done"
    assert entry["event"] == "digest" and entry["posted"] == 3 and entry["level"] == "INFO"


def test_configured_secrets_are_redacted_in_messages_and_exceptions(stream: io.StringIO) -> None:
    log = logging.getLogger("bot.test")
    log.warning("posting to %s with %s", WEBHOOK, SLACK_TOKEN, extra={"event": "post"})
    try:
        raise RuntimeError(f"signature {SIGNING} refused; db password hunter2pw")
    except RuntimeError:
        log.exception("failed")
    text = stream.getvalue()
    for secret in (SLACK_TOKEN, WEBHOOK, SIGNING, "hunter2pw", "XXXXsecretXXXX"):
        assert secret not in text
    assert text.count(MASK) >= 5
    assert len(lines(stream)) == 2


def test_secret_shapes_are_redacted_even_when_not_configured() -> None:
    text = redact(
        "tokens xoxp-9999-8888-zzzzzzzz xapp-1-A111-222-abcdef "
        "https://discord.com/api/webhooks/123/abcDEF Authorization: Bot abc.def.ghi"
    )
    assert "xoxp-9999" not in text and "xapp-1-A111" not in text
    assert "webhooks/123" not in text and "abc.def.ghi" not in text
    assert "Authorization: Bot " + MASK in text
