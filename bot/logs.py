"""Structured logging: one JSON object per line, secrets redacted everywhere.

Events are logged with `log.info("digest posted", extra={"event": "digest", ...})`; the
formatter writes the message, the level, the logger and every extra field. Redaction runs
on the whole formatted line — message, fields and exception text — so a token that ends up
in an exception message from a library is masked too.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO
from urllib.parse import unquote

from bot.settings import Settings

MASK = "[redacted]"
MIN_SECRET = 6  # shorter configured values are not treated as secrets (too many false hits)
# Secret shapes, whether or not they are configured: Slack tokens, Slack and Discord webhook
# URLs, Discord bot tokens (three dot-separated base64url parts).
_PATTERNS = (
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{8,}"),
    re.compile(r"xapp-[A-Za-z0-9-]{8,}"),
    re.compile(r"https://hooks\.slack(?:-gov)?\.com/[^\s\"'<>]+"),
    re.compile(r"https://(?:\w+\.)?discord(?:app)?\.com/api/(?:v\d+/)?webhooks/[^\s\"'<>]+"),
    re.compile(r"\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}\b"),
    re.compile(r"(?i)(authorization:\s*(?:bot|bearer)\s+)\S+"),
    # A URL's query parameter whose name ends in a secret word (`?password=`, `&sslpassword=`,
    # `api_key=`, `access_token=`, as bot.sources.retrieve.redact_url), and a libpq
    # connection string's `password=`/`sslpassword=`. The value ends at `&`, `#`, a space or
    # a quote; in a JSON line an escaped backslash (`\\`) is part of it, an escaped quote
    # (`\"`) is not, so the line stays valid JSON.
    re.compile(
        r"(?i)((?:[?&;][\w.-]*?(?:token|key|secret|sig|signature|password|passwd|pwd"
        r"|credentials?|auth)|(?:^|(?<=[\s'\"]))(?:ssl)?password)=)"
        r"(?:\\\\|\\(?!\")|[^&#\s\"'<>\\])+"
    ),
)
# Fields of LogRecord itself: everything else in __dict__ came in through `extra`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every configured secret value and every secret-shaped string masked."""
    for secret in sorted((s for s in secrets if len(s) >= MIN_SECRET), key=len, reverse=True):
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text


def settings_secrets(settings: Settings) -> list[str]:
    """Every secret value in the settings: tokens, signing secret, webhook URLs, and the
    database URL's password (in its user info or as `?password=`/`?sslpassword=`), also
    percent-decoded (as a driver's message may show it)."""
    found = [
        s.get_secret_value()
        for s in (
            settings.slack.bot_token,
            settings.slack.app_token,
            settings.slack.signing_secret,
            settings.discord.bot_token,
            *(c.url for c in settings.channels),
        )
        if s is not None
    ]
    if m := re.match(r"^[\w+]+://[^:/@]+:(?P<pw>[^@]+)@", settings.database):
        found.append(m["pw"])
    _, _, query = settings.database.partition("?")  # ?password=… and ?sslpassword=…
    found += re.findall(r"(?i)(?:^|[&;])(?:ssl)?password=([^&;#]+)", query)
    return found + [unquote(s) for s in found if unquote(s) != s]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extra fields, exception."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False, default=str), self._secrets)


def configure_logging(
    level: str, *, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record to `stream` (stderr) as redacted JSON lines at `level`.
    Returns the handler (tests remove it again)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Library chatter at INFO (every HTTP request, every scheduler tick) drowns the events.
    for noisy in ("alembic", "apscheduler", "aiohttp.access", "discord", "slack_bolt", "slack_sdk"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler
