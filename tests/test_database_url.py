"""A malformed `database:` URL is a configuration error (exit status 2) that names the key
and what to write instead, never a traceback, and never shows the password, not even a
piece of one (a password with an unencoded `@` is split by URL parsers: the part after it
was shown as the host)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.errors import ConfigError
from bot.settings import load_settings

PASSWORD = "Pw9firstHALF"
SECOND = "secondHALFq7"
BAD = {
    "port not a number": f"postgresql://u:{PASSWORD}@db.internal:notaport/papers",
    "IPv6 host without ]": f"postgresql://u:{PASSWORD}@[::1/papers",
    "IPv6 host without ], with port": f"postgresql://u:{PASSWORD}@[::1:5432/papers",
    "unencoded @ in the password": f"postgresql://u:{PASSWORD}@{SECOND}@db.internal/papers",
    "unencoded @, port": f"postgres://u:{PASSWORD}@{SECOND}@db.internal:5432/papers",
    "port out of range": f"postgresql://u:{PASSWORD}@db.internal:99999/papers",
    "unsupported database": f"mysql://u:{PASSWORD}@db.internal/papers",
    "query password, bad port": f"postgresql://db.internal:x/papers?password={PASSWORD}",
}


def _leaks(text: str) -> list[str]:
    return [s for s in (PASSWORD, SECOND, "Pw9", "HALF") if s in text]


@pytest.mark.parametrize("url", list(BAD.values()), ids=list(BAD))
def test_malformed_database_url_is_a_config_error_without_the_password(
    tmp_path: Path, url: str
) -> None:
    path = tmp_path / "paperboy.yaml"
    path.write_text(f"database: '{url}'\n")
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), env={}, cwd=tmp_path)
    message = str(info.value)
    assert "database" in message and not _leaks(message), message
    for command in (["status"], ["digest", "--dry-run"]):
        result = CliRunner().invoke(cli, ["--config", str(path), *command])
        assert result.exit_code == 2, (command, result.output, result.exception)
        assert "database" in result.output and not _leaks(result.output), result.output
        assert "Traceback" not in result.output and "ValueError" not in result.output


def test_a_database_url_from_the_environment_is_checked_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "paperboy.yaml"
    path.write_text("database: ${DATABASE_URL}\n")
    url = BAD["unencoded @ in the password"]
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), env={"DATABASE_URL": url}, cwd=tmp_path)
    assert "database" in str(info.value) and not _leaks(str(info.value))


def test_migrate_db_refuses_a_malformed_target_without_the_password(tmp_path: Path) -> None:
    source = tmp_path / "p.db"
    config = tmp_path / "paperboy.yaml"
    config.write_text(f"database: {source}\n")
    assert CliRunner().invoke(cli, ["--config", str(config), "status"]).exit_code == 0
    for name in ("port not a number", "unencoded @ in the password", "IPv6 host without ]"):
        result = CliRunner().invoke(cli, ["migrate-db", str(source), BAD[name]])
        assert result.exit_code == 2, (name, result.output, result.exception)
        assert "POSTGRES_URL" in result.output and not _leaks(result.output), result.output


@pytest.mark.parametrize(
    "database",
    [
        "data/paperboy.db",
        ":memory:",
        "sqlite:///tmp/x.db",
        "postgresql://u:p%40ss@db.internal:5432/papers",
        "postgresql://u@[::1]:5432/papers",
        "postgresql://u:pw@/papers?host=/var/run/postgresql",
        "postgresql+psycopg://u:pw@db.internal/papers?options=-csearch_path%3Dx",
    ],
)
def test_well_formed_databases_are_accepted(tmp_path: Path, database: str) -> None:
    path = tmp_path / "paperboy.yaml"
    path.write_text(f"database: '{database}'\n")
    assert load_settings(str(path), env={}, cwd=tmp_path).database == database
