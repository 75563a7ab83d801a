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


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://paperboy@db.internal/paperboy?password=qZ8sEcr3tPw",
        "postgresql://paperboy@db.internal/paperboy?sslmode=require&sslpassword=qZ8sEcr3tPw",
        "https://api.example.org/v1/papers?api_key=qZ8sEcr3tPw&max=5",
        "https://api.example.org/v1/papers?q=moe&token=qZ8sEcr3tPw",
        "https://api.example.org/v1/papers?q=moe&access_token=qZ8sEcr3tPw#top",
    ],
)
def test_secret_query_parameters_in_urls_are_redacted(url: str) -> None:
    """Before: a password (or key, or token) given as a URL query parameter was logged."""
    text = redact(f"cannot open {url} (connection refused)")
    assert "qZ8sEcr3tPw" not in text, text
    name = url.split("qZ8sEcr3tPw")[0].rsplit("?", 1)[-1].rsplit("&", 1)[-1]
    assert name + MASK in text, text  # the parameter's name stays: where the secret was
    assert text.startswith("cannot open ") and text.endswith(" (connection refused)")
    for kept in ("sslmode=require", "max=5", "q=moe", "#top"):
        if kept in url:
            assert kept in text, text  # other parameters stay readable


def test_a_password_in_a_libpq_connection_string_is_redacted() -> None:
    text = redact("conninfo 'host=db user=paperboy password=qZ8sEcr3tPw sslpassword=k3yPassw0rd'")
    assert "qZ8sEcr3tPw" not in text and "k3yPassw0rd" not in text, text
    assert "host=db user=paperboy" in text


def test_a_database_password_given_as_a_query_parameter_is_a_configured_secret() -> None:
    """The value alone (in a driver's message, percent-decoded) is masked too."""
    out = io.StringIO()
    settings = Settings(database="postgresql://paperboy@db/paperboy?password=p%40ss-w0rd-9")
    handler = configure_logging("INFO", secrets=settings_secrets(settings), stream=out)
    try:
        url = settings.database
        logging.getLogger("bot.test").error('connecting to "%s" failed', url)
        logging.getLogger("bot.test").error("password p@ss-w0rd-9 refused")
    finally:
        logging.getLogger().removeHandler(handler)
    text = out.getvalue()
    assert "p%40ss-w0rd-9" not in text and "p@ss-w0rd-9" not in text, text
    first, second = lines(out)  # still one valid JSON object per line
    assert (
        first["message"]
        == f'connecting to "postgresql://paperboy@db/paperboy?password={MASK}" failed'
    )
    assert second["message"] == f"password {MASK} refused"
