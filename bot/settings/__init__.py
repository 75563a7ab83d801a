"""Load the YAML configuration, substitute ${ENV} secrets, validate it once into typed objects.

The typed values are in `bot.settings.models`, the reading of the file in
`bot.settings.load`; both are importable from here (`from bot.settings import Settings,
load_settings`), the names every caller uses."""

from bot.settings.load import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    MAX_DEPTH,
    MAX_VALUES,
    MIN_HIDDEN,
    bundled_demo_config,
    config_path,
    load_settings,
    substitute_env,
    validate,
)
from bot.settings.models import (
    MAX_DURATION,
    MIN_INTERVAL,
    ChannelSettings,
    CommandSettings,
    DigestSettings,
    DiscordSettings,
    Duration,
    HealthSettings,
    Settings,
    SlackSettings,
    SourceSettings,
    parse_duration,
)

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG",
    "MAX_DEPTH",
    "MAX_DURATION",
    "MAX_VALUES",
    "MIN_HIDDEN",
    "MIN_INTERVAL",
    "ChannelSettings",
    "CommandSettings",
    "DigestSettings",
    "DiscordSettings",
    "Duration",
    "HealthSettings",
    "Settings",
    "SlackSettings",
    "SourceSettings",
    "bundled_demo_config",
    "config_path",
    "load_settings",
    "parse_duration",
    "substitute_env",
    "validate",
]
