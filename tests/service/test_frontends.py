"""Which chat front-ends a replica starts: Discord's gateway only where `discord.gateway` is
true (one replica, or one per shard), with the configured shard."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app import build_app
from bot.chat.discord_app import discord_client
from bot.errors import ConfigError
from bot.runner import start_frontends
from bot.settings import DiscordSettings, Settings, validate


async def test_a_replica_without_the_gateway_starts_no_discord_client(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        database=str(tmp_path / "p.db"),
        discord=DiscordSettings(bot_token="not-used", gateway=False),
    )
    app = build_app(settings)
    try:
        with caplog.at_level(logging.INFO):
            frontends = await start_frontends(settings, app.services())
    finally:
        app.close()
    assert frontends == []
    assert "discord.gateway is false" in caplog.text
    assert "not-used" not in caplog.text


def test_a_sharded_replica_connects_as_its_shard(tmp_path: Path) -> None:
    settings = Settings(database=str(tmp_path / "p.db"))
    app = build_app(settings)
    try:
        discord = DiscordSettings(bot_token="x", shard_id=1, shard_count=4)
        client = discord_client(discord, app.services())
        assert (client.shard_id, client.shard_count) == (1, 4)
        unsharded = discord_client(DiscordSettings(bot_token="x"), app.services())
        assert unsharded.shard_id is None
    finally:
        app.close()


@pytest.mark.parametrize(
    ("discord", "message"),
    [
        ({"shard_id": 0}, "give both shard_id and shard_count"),
        ({"shard_id": 4, "shard_count": 4}, "shard_id must be below shard_count"),
        ({"gateway": "sometimes"}, "discord.gateway"),
    ],
)
def test_shard_settings_are_validated(discord: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate({"discord": discord}, source_file="p.yaml", env={}, base_dir=Path("."))
