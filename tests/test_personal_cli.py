"""Personal alerts from the shell (issue 19): `paperboy channels` lists persons apart from
the channels, `paperboy digest --channel user:slack:U…` runs one person's digest (a DM on
the fake Slack, served from another thread over real HTTP), `channels pause` takes a
person's ref; and the pure rule of what a person's home channel already posted today."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.app import build_app
from bot.cli import cli
from bot.models import Profile
from bot.pipeline.personal import homes_to_read, posted_at_home_today
from bot.settings import load_settings
from fakes.slack import FakeSlack

SAMPLE = Path(__file__).resolve().parents[1] / "bot" / "data" / "sample-dump.txt"
CHANNEL, ANNA = "C0PAPERS01", "U0ANNA0001"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    loop = asyncio.new_event_loop()
    fake = FakeSlack(channels=[CHANNEL])
    fake.dms.add_user(ANNA, channels=[CHANNEL])
    loop.run_until_complete(fake.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.close(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


def test_channels_lists_persons_apart_and_digest_runs_one_person(
    tmp_path: Path, slack: FakeSlack
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"database: {tmp_path / 'p.db'}\n"
        f"slack: {{bot_token: {slack.token}, api_url: '{slack.url}'}}\n"
        "channels:\n"
        f"  - {{platform: slack, id: {CHANNEL}, topics: [speech]}}\n"
    )
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "ingest", str(SAMPLE)]).exit_code == 0
    app = build_app(load_settings(str(config)))
    try:
        now = app.clock()
        app.profiles.ensure_person("slack", ANNA, home=f"slack:{CHANNEL}", now=now)
        app.profiles.add_topic("slack", ANNA, "mixture of experts", now=now)
    finally:
        app.close()

    shown = runner.invoke(cli, ["--config", str(config), "channels"])
    assert shown.exit_code == 0, shown.output
    channels, _, persons = shown.output.partition("personal alerts by direct message (1):")
    assert f"slack:{CHANNEL}" in channels and ANNA not in channels
    assert f"user:slack:{ANNA}" in persons and "mixture of experts" in persons
    assert f"home:          slack:{CHANNEL}" in persons and "left out" in persons

    one = runner.invoke(cli, ["--config", str(config), "digest", "--channel", f"user:slack:{ANNA}"])
    assert one.exit_code == 0, one.output
    assert f"user:slack:{ANNA}" in one.output and "posted" in one.output
    assert slack.dms.messages_to(ANNA) and slack.messages(CHANNEL) == []

    paused = runner.invoke(
        cli, ["--config", str(config), "channels", "pause", f"user:slack:{ANNA}"]
    )
    assert paused.exit_code == 0, paused.output
    after = runner.invoke(cli, ["--config", str(config), "channels"])
    assert "paused" in after.output.partition("personal alerts")[2]


def person(**kw: object) -> Profile:
    values: dict[str, object] = {
        "platform": "slack",
        "channel_id": ANNA,
        "person": True,
        "home": f"slack:{CHANNEL}",
        "timezone": "America/New_York",
        **kw,
    }
    return Profile(**values)  # type: ignore[arg-type]


def test_what_the_home_channel_posted_today_is_left_out_in_the_persons_own_day() -> None:
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 22:00 on the 23rd in New York
    posted = {
        "a": datetime(2026, 11, 23, 14, 0, tzinfo=UTC),  # 09:00 the 23rd, New York: today
        "b": datetime(2026, 11, 23, 4, 0, tzinfo=UTC),  # 23:00 the 22nd there: yesterday
        "c": now - timedelta(minutes=1),
    }
    assert posted_at_home_today(person(), posted, now) == {"a", "c"}
    assert posted_at_home_today(person(include_channel_posts=True), posted, now) == set()
    assert posted_at_home_today(person(home=None), posted, now) == set()
    channel = Profile(platform="slack", channel_id=CHANNEL)
    assert posted_at_home_today(channel, posted, now) == set()
    homes = homes_to_read([person(), person(include_channel_posts=True, home="slack:C2"), channel])
    assert homes == {f"slack:{CHANNEL}"}


def test_channels_pause_resume_remove_name_a_person_by_their_user_ref(tmp_path: Path) -> None:
    """Every message about a person names them `user:<platform>:<id>`, and the command it
    suggests works as printed (also when the person was named without `user:`)."""
    config = tmp_path / "c.yaml"
    config.write_text(f"database: {tmp_path / 'p.db'}\n")
    app = build_app(load_settings(str(config)))
    try:
        app.profiles.ensure_person("console", "U0PERSON1", home="console:general", now=app.clock())
    finally:
        app.close()
    ref = "user:console:U0PERSON1"
    runner = CliRunner()

    def channels(*args: str) -> str:
        done = runner.invoke(cli, ["--config", str(config), "channels", *args])
        assert done.exit_code == 0, done.output
        return done.output

    paused = channels("pause", ref)
    assert paused.startswith(f"{ref} paused"), paused
    assert f"`paperboy channels resume {ref}`" in paused
    assert f"{ref} already was paused" in channels("pause", "console:U0PERSON1")
    resumed = channels("resume", ref)  # the command the answer suggested
    assert resumed.startswith(f"{ref} resumed"), resumed
    removed = channels("remove", "console:U0PERSON1")
    assert removed.startswith(f"{ref} removed") and f"resume {ref}`" in removed, removed
    for text in (paused, resumed, removed):
        assert " console:U0PERSON1" not in text and not text.startswith("console:")
    assert f"{ref} resumed" in channels("resume", ref)
