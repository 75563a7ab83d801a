"""Load the YAML configuration, substitute ${ENV} secrets, validate it once into typed objects."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from rapidfuzz import process

from bot.errors import ConfigError
from bot.models import Platform, Profile
from bot.store.db import database_problem

DEFAULT_CONFIG = Path("config/paperboy.yaml")
CONFIG_ENV = "PAPERBOY_CONFIG"
_ENV_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_DURATION = re.compile(r"^\s*(?P<n>\d+)\s*(?P<unit>[smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION = timedelta(days=3660)  # ten years: any window or interval longer is a typo
MIN_INTERVAL = timedelta(minutes=1)
# A configuration is a small tree: deeper nesting or more values (YAML aliases can expand a
# short file into billions of nodes) is refused before anything walks it.
MAX_DEPTH = 32
MAX_VALUES = 100_000
MIN_HIDDEN = 4  # shorter environment values are not hidden in error messages (too many hits)


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
    """A channel's profile as seeded from the configuration (see README: which wins)."""

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
        )

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
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{label}: duplicate entries {', '.join(dupes)}")
        return self

    def secrets(self) -> list[str]:
        """Every configured secret value, for log redaction."""
        values = [self.slack.bot_token, self.slack.app_token, self.slack.signing_secret]
        values += [self.discord.bot_token] + [c.url for c in self.channels]
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]


def substitute_env(
    node: Any,
    env: Mapping[str, str],
    path: str = "",
    unset: dict[str, str] | None = None,
    used: dict[str, str] | None = None,
) -> Any:
    """Replace `${NAME}` / `${NAME:-default}` in every string of a parsed YAML tree.

    A value that is exactly one reference to an unset variable without default becomes
    None (an unconfigured credential), and is recorded in `unset` (key path -> variable
    name) so that a validation error about that key can name the variable; inside a longer
    string it is a ConfigError. A tree nested deeper than MAX_DEPTH or holding more than
    MAX_VALUES values is a ConfigError too. `used` collects the substituted values (value ->
    variable name), so that error messages can hide them.
    """
    budget = [MAX_VALUES]

    def walk(node: Any, path: str, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise ConfigError(
                f"more than {MAX_VALUES:,} values (YAML aliases expanding?); "
                "a configuration is much smaller"
            )
        if isinstance(node, dict | list) and depth >= MAX_DEPTH:
            raise ConfigError(f"{path or '(top level)'}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            return {
                k: walk(v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(node)]
        return _substitute(node, env, path, unset, used)

    return walk(node, path, 0)


def _substitute(
    node: Any,
    env: Mapping[str, str],
    path: str,
    unset: dict[str, str] | None,
    used: dict[str, str] | None,
) -> Any:
    if not isinstance(node, str) or "${" not in node:
        return node
    whole = _ENV_REF.fullmatch(node)
    if whole and whole["name"] not in env and whole["default"] is None:
        if unset is not None:
            unset[path] = whole["name"]
        return None

    def repl(m: re.Match[str]) -> str:
        if m["name"] in env:
            if used is not None:
                used[env[m["name"]]] = m["name"]
            return env[m["name"]]
        if m["default"] is not None:
            return m["default"]
        raise ConfigError(f"{path}: environment variable {m['name']} is not set")

    return _ENV_REF.sub(repl, node)


def _loc(parts: tuple[int | str, ...]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] | None = Settings
    for part in loc[:-1]:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        ann = field.annotation if field else None
        args = getattr(ann, "__args__", ()) or (ann,)
        model = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return [k for k in model.model_fields if k != "source_file"] if model else []


def _describe(err: Mapping[str, Any], unset: Mapping[str, str]) -> str:
    """One validation error as `key.path: what is wrong`, naming the unset environment
    variables of that key (or of the keys inside it) that left a value empty."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    text = _explain(err, loc)
    key = _loc(loc)
    causes = [
        f"{path}: the environment variable {name} is not set"
        for path, name in unset.items()
        if key and (path == key or path.startswith((f"{key}.", f"{key}[")))
    ]
    return f"{text} ({'; '.join(causes)})" if causes else text


def _explain(err: Mapping[str, Any], loc: tuple[int | str, ...]) -> str:
    where = _loc(loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        hint = process.extractOne(str(loc[-1]), _known_keys(loc), score_cutoff=60)
        did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
        return f"{where}: unknown key{did_you_mean}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] in {"missing"}:
        return f"{where}: required key is missing"
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
    return f"{where}: {msg}{shown}"


def _resolve_paths(data: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    sources = data.get("sources")
    if not isinstance(sources, list):
        return data
    resolved = []
    for i, src in enumerate(sources):
        if isinstance(src, dict) and isinstance(src.get("path"), str):
            try:
                path = Path(src["path"]).expanduser()
            except RuntimeError:  # `~name` of a user this system does not know
                raise ConfigError(
                    f"sources[{i}].path: cannot expand {src['path'][:80]!r} (unknown user)"
                ) from None
            src = {**src, "path": str(base_dir / path)}
        resolved.append(src)
    return {**data, "sources": resolved}


def validate(
    raw: Any, *, source_file: str, env: Mapping[str, str], base_dir: Path | None = None
) -> Settings:
    """Validate a parsed YAML document. Raises ConfigError naming the file and key paths.

    Relative source `path`s are taken relative to `base_dir` (the config file's folder).
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source_file}: expected a mapping of keys at the top level")
    unset: dict[str, str] = {}
    used: dict[str, str] = {}
    try:
        data = substitute_env(raw, env, unset=unset, used=used)
        if base_dir is not None:
            data = _resolve_paths(data, base_dir)
        return Settings.model_validate({**data, "source_file": source_file})
    except ConfigError as e:
        raise ConfigError(_hide(f"{source_file}: {e}", used)) from None
    except ValidationError as e:
        lines = [_describe(err, unset) for err in e.errors()]
        raise ConfigError(
            _hide(f"{source_file}: invalid configuration\n  " + "\n  ".join(lines), used)
        ) from None


def _hide(message: str, used: Mapping[str, str]) -> str:
    """`message` with every value that came from the environment shown as `${NAME}`: an
    error about a misplaced secret must not print it."""
    for value in sorted((v for v in used if len(v) >= MIN_HIDDEN), key=len, reverse=True):
        message = message.replace(value, f"${{{used[value]}}}")
    return message


def bundled_demo_config() -> str:
    """Text of the demo configuration shipped inside the package."""
    return resources.files("bot").joinpath("data/demo.yaml").read_text(encoding="utf-8")


def config_path(explicit: str | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """Which file to load: --config, else $PAPERBOY_CONFIG, else config/paperboy.yaml, else None
    (meaning the bundled demo config)."""
    if explicit:
        return Path(explicit)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    default = cwd / DEFAULT_CONFIG
    return default if default.is_file() else None


def load_settings(
    explicit: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Find, read and validate the configuration. Raises ConfigError (exit status 2)."""
    env = os.environ if env is None else env
    path = config_path(explicit, env, cwd or Path.cwd())
    if path is None:
        text, name = bundled_demo_config(), "<bundled demo config>"
        base_dir = Path(str(resources.files("bot").joinpath("data")))
    else:
        name, base_dir = str(path), path.resolve().parent
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ConfigError(f"{name}: configuration file not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(
                f"{name}: cannot read configuration ({e.__class__.__name__})"
            ) from None
    try:
        raw = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"{name}: not valid YAML: nested too deeply") from None
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as e:
        # PyYAML's constructors raise these for an explicit tag whose value does not read
        # as it (`!!int 0x`, `!!float` with no value, `!!timestamp soon`, `!!bool maybe`).
        raise ConfigError(
            f"{name}: not valid YAML: a value does not read as its !!tag ({type(e).__name__})"
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "malformed YAML"
        raise ConfigError(f"{name}: not valid YAML{where}: {problem}") from None
    return validate(raw, source_file=name, env=env, base_dir=base_dir)
