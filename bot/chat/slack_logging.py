"""What the Slack front-end may log: never a token, a signing secret or a response_url.

`redact` removes known secrets from a text (a traceback, an error body). `bolt_logger` is
the base logger given to bolt's AsyncApp, with a filter that rewrites any record (of bolt,
of its Socket Mode client, of slack_sdk's response_url client) showing a token or a
response_url. The Slack front-end's modules all log as `bot.chat.slack_app`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret replaced by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


# What bolt, the Socket Mode client and slack_sdk's response_url client may log of a
# request: tokens, the legacy verification token and response_urls (each a capability to
# post in the channel).
_TOKEN = re.compile(r"\b(xox[a-z]|xapp)-[\w-]+")
_FIELD = re.compile(r"""(\b(?:token|response_url)(?:=|['"]?\s*:\s*['"]?))[^&'"\s,}]+""")
_HOOK = re.compile(r"""(/(?:commands|actions|services)/)[^&'"\s,}]+""")
_SDK_LOGGERS = ("slack_sdk.webhook.async_client",)  # logs the response_url at DEBUG


class _Withheld(logging.Filter):
    """Rewrites log records so request bodies and URLs never leak a token or a
    response_url. Installed on the base logger given to AsyncApp (bolt's own loggers copy
    its filters) and on slack_sdk's response_url client logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _TOKEN.sub(r"\1-***", message)
        cleaned = _HOOK.sub(r"\1***", _FIELD.sub(r"\1***", cleaned))
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def _withheld(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    if not any(isinstance(f, _Withheld) for f in logger.filters):
        logger.addFilter(_Withheld())
    return logger


def bolt_logger() -> logging.Logger:
    for name in _SDK_LOGGERS:
        _withheld(name)
    return _withheld("bot.chat.slack_app.bolt")  # its name from before the module split
