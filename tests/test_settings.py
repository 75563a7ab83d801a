"""Configuration: discovery order, ${ENV} substitution, validation errors that name the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import load_settings, parse_duration


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "paperboy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_demo_config_is_valid_and_used_by_default(tmp_path: Path) -> None:
    settings = load_settings(None, env={}, cwd=tmp_path)
    assert settings.source_file == "<bundled demo config>"
    assert {s.kind for s in settings.sources} == {"hf-daily", "dump"}
    sample = next(s for s in settings.sources if s.kind == "dump")
    assert sample.path is not None and sample.path.is_file()


def test_discovery_order(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "paperboy.yaml").write_text("database: from-default.db\n")
    env_file = _write(tmp_path, "database: from-env.db\n")
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text("database: explicit.db\n")
    env = {"PAPERBOY_CONFIG": str(env_file)}
    assert load_settings(str(explicit), env=env, cwd=tmp_path).database == "explicit.db"
    assert load_settings(None, env=env, cwd=tmp_path).database == "from-env.db"
    assert load_settings(None, env={}, cwd=tmp_path).database == "from-default.db"


def test_env_substitution_and_secrets_are_hidden(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "slack:\n  bot_token: ${SLACK_BOT_TOKEN}\n  app_token: ${MISSING_TOKEN}\n"
        "database: ${DB_PATH:-data/default.db}\n",
    )
    settings = load_settings(str(path), env={"SLACK_BOT_TOKEN": "xoxb-secret-123"}, cwd=tmp_path)
    assert settings.slack.bot_token is not None
    assert settings.slack.bot_token.get_secret_value() == "xoxb-secret-123"
    assert settings.slack.app_token is None  # unset credential = not configured
    assert settings.database == "data/default.db"
    assert "xoxb-secret-123" not in repr(settings)
    assert settings.secrets() == ["xoxb-secret-123"]


def test_relative_source_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "sources:\n  - {name: local, kind: dump, path: dumps/a.txt}\n")
    settings = load_settings(str(path), env={}, cwd=Path("/"))
    assert settings.sources[0].path == tmp_path / "dumps" / "a.txt"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("databse: x.db\n", "databse: unknown key (did you mean 'database'?)"),
        (
            "sources:\n  - {name: a, kind: rss, url: 'https://x/feed', intervall: 1h}\n",
            "sources[0].intervall: unknown key (did you mean 'interval'?)",
        ),
        ("sources:\n  - {name: a, kind: rsss, url: 'https://x'}\n", "sources[0].kind:"),
        ("sources:\n  - {name: a, kind: rss}\n", "give exactly one of 'url' or 'path'"),
        (
            "sources:\n  - {name: a, kind: rss, url: 'https://x/feed', interval: 0}\n",
            "sources[0].interval: fetch at most once a minute",
        ),
        (
            "channels:\n  - {platform: slack, id: C1, max_posts: many}\n",
            "channels[0].max_posts: Input should be a valid integer",
        ),
        ("channels:\n  - {platform: slack, id: C1, topcs: [moe]}\n", "did you mean 'topics'"),
        ("channels:\n  - {platform: slack, id: C1, timezone: Mars/Base}\n", "unknown time zone"),
        ("channels:\n  - {platform: slack, id: C1, lookback: soon}\n", "channels[0].lookback"),
        ("channels:\n  - {platform: slack-webhook, id: C1}\n", "needs 'url'"),
        ("slack:\n  bot_tokn: x\n", "slack.bot_tokn: unknown key (did you mean 'bot_token'?)"),
        ("- just\n- a list\n", "expected a mapping"),
        ("database: [unclosed\n", "not valid YAML at line"),
        ("database: '${X}/a.db'\n", "environment variable X is not set"),
    ],
)
def test_invalid_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), env={}, cwd=tmp_path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert expected in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sources:\n  - {name: a, kind: rss, url: '${NOPE}'}\n",
            "sources[0]: give exactly one of 'url' or 'path' "
            "(sources[0].url: the environment variable NOPE is not set)",
        ),
        (
            "database: ${DB_FILE}\n",
            "database: Input should be a valid string "
            "(database: the environment variable DB_FILE is not set)",
        ),
        (
            "channels:\n  - {platform: slack-webhook, id: C1, url: '${HOOK_URL}'}\n",
            "(channels[0].url: the environment variable HOOK_URL is not set)",
        ),
    ],
)
def test_an_unset_variable_is_named_in_the_error(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text + "slack:\n  bot_token: ${UNRELATED_TOKEN}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), env={}, cwd=tmp_path)
    assert expected in str(info.value)
    assert "UNRELATED_TOKEN" not in str(info.value)  # an unset credential is no error


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_settings(str(tmp_path / "nope.yaml"), env={}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("value", "seconds"), [("90s", 90), ("30m", 1800), ("1h", 3600), ("7d", 604800), (5, 5)]
)
def test_durations(value: object, seconds: int) -> None:
    assert parse_duration(value) == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", [-1, "9" * 30 + "d", 1e308, float("inf"), float("nan"), "3661d"])
def test_negative_infinite_and_absurd_durations_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "paperboy.example.yaml"


def test_the_documented_example_config_is_valid() -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-example",
        "SLACK_APP_TOKEN": "xapp-example",
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/x",
        "DISCORD_BOT_TOKEN": "token",
        "DISCORD_APPLICATION_ID": "123",
    }
    settings = load_settings(str(EXAMPLE), env=env)
    assert [c.platform for c in settings.channels] == ["slack", "discord", "slack-webhook"]
    assert settings.slack.bot_token is not None
    assert settings.slack.bot_token.get_secret_value() == "xoxb-example"
    assert (settings.commands.per_minute, settings.commands.burst) == (10, 5)


def test_the_commands_block_limits_chat_and_can_turn_it_off(tmp_path: Path) -> None:
    assert load_settings(None, env={}, cwd=tmp_path).commands.per_minute == 10  # on by default
    path = _write(tmp_path, "commands: {per_minute: 0, burst: 1}\n")
    assert load_settings(str(path), env={}, cwd=tmp_path).commands.per_minute == 0
    for bad, key in (("{burst: 0}", "commands.burst"), ("{per_minte: 3}", "per_minute")):
        with pytest.raises(ConfigError, match=key):
            load_settings(str(_write(tmp_path, f"commands: {bad}\n")), env={}, cwd=tmp_path)


def test_the_example_config_names_the_missing_webhook_secret() -> None:
    with pytest.raises(ConfigError, match=r"channels\[2\].*url"):
        load_settings(str(EXAMPLE), env={})
