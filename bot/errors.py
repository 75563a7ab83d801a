"""The one exception hierarchy of Paperboy; foreign errors are translated at the boundary."""

from __future__ import annotations


class PaperboyError(Exception):
    """Base of every error Paperboy raises on purpose; its message is safe to show a user."""


class ConfigError(PaperboyError):
    """The configuration file is missing, unreadable or invalid (exit status 2)."""


class SourceError(PaperboyError):
    """A source could not be retrieved or its content is not a feed/dump/API answer.

    `retryable` tells the caller whether a later attempt may succeed (network, 5xx, 429).
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class StoreError(PaperboyError):
    """The archive database failed or has an unexpected schema."""


class DeliveryError(PaperboyError):
    """A message could not be delivered.

    `permanent` is True when retrying cannot help (bad token, unknown channel, no access);
    the channel is then reported and skipped until the operator fixes it.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
