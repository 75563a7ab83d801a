"""Delivery failures said as a user can act on them: where the platform was unreachable and
why (`Discord unreachable at 127.0.0.1:9 posting to discord:1 (connection refused: …)`,
not `ClientConnectorError`), and which configuration key a platform's refusal points at
(Slack's `invalid_auth` names `slack.bot_token`, as Discord's 401 names
`discord.bot_token`). Shared by the deliveries; pure functions of the exception or code."""

from __future__ import annotations

from bot.errors import DeliveryError, is_dns_failure, unreachable_text

# Slack's error codes (chat.postMessage, conversations.history) and what to check.
_TOKEN = "check slack.bot_token (the bot's xoxb- token, from OAuth & Permissions)"
SLACK_HINTS = {
    "invalid_auth": _TOKEN,
    "not_authed": _TOKEN,
    "token_revoked": _TOKEN + "; the app was uninstalled or the token rotated",
    "token_expired": _TOKEN + "; the token expired",
    "account_inactive": _TOKEN + "; the bot's account is deactivated",
    "channel_not_found": "check the channel id; a private channel needs the app invited",
    "not_in_channel": "invite the app to the channel (/invite @Paperboy)",
    "is_archived": "the channel is archived: unarchive it or remove it from the configuration",
    "missing_scope": "add the chat:write scope to the app and reinstall it",
    "team_access_not_granted": "the token has no access to this workspace: check slack.bot_token",
}


def slack_refusal(error: str) -> str:
    """Slack's error code, with what to check when it points at the configuration:
    `invalid_auth — check slack.bot_token (…)`."""
    hint = SLACK_HINTS.get(error)
    return f"{error} — {hint}" if hint else error


def unreachable(service: str, error: BaseException, what: str = "") -> DeliveryError:
    """The DeliveryError for `error`, raised by the network library when `service` could
    not be reached: transient, and `offline` (not retried now) when the host's name did not
    resolve."""
    return DeliveryError(unreachable_text(service, error, what), offline=is_dns_failure(error))
