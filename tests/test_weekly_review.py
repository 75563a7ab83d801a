"""Review findings on the weekly digest (issue 19): the week's top papers are chosen by the
paper day the chart counts on; a dry run says what the real run would do; weekly digests
are for channels, never a person's profile; `paperboy digest --weekly` says what is true
of a paused channel or one without topics, and what to do."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bot.app import App, build_app
from bot.cli import cli
from bot.delivery.console import ConsoleDelivery
from bot.models import Paper
from bot.settings import ChannelSettings, Settings
from bot.weekly import ALREADY, DRY_RUN
from bot.weekly_example import END, TOPICS, synthetic_papers
from fakes.clock import Clock

FIRES = datetime(2026, 11, 27, 16, 0, 5, tzinfo=UTC)  # Friday `END`, 16:00 UTC


def channel(cid: str = "ml", **kw: Any) -> ChannelSettings:
    values: dict[str, Any] = {
        "platform": "console",
        "id": cid,
        "topics": list(TOPICS),
        "weekly": "fri 16:00",
        "max_posts": 3,
        **kw,
    }
    return ChannelSettings(**values)


@pytest.fixture
def apps() -> Iterator[list[App]]:
    opened: list[App] = []
    yield opened
    for app in opened:
        app.close()


def open_app(tmp_path: Path, apps: list[App], *chs: ChannelSettings, papers: bool = True) -> App:
    clock = Clock(FIRES)
    app = build_app(Settings(database=str(tmp_path / "p.db"), channels=list(chs)), clock=clock)
    apps.append(app)
    if papers:
        app.archive.upsert(synthetic_papers(), now=FIRES - timedelta(hours=1))
    return app


def console(tmp_path: Path) -> dict[str, ConsoleDelivery]:
    import io

    return {"console": ConsoleDelivery(io.StringIO(), files_dir=tmp_path / "console")}


async def test_a_paper_stored_long_ago_but_listed_on_hf_this_week_is_a_top_paper(
    tmp_path: Path, apps: list[App]
) -> None:
    """Its day is its HF listing day (the chart counts it this week): first stored from
    arXiv twelve days before, it is a candidate for this week's top papers too."""
    app = open_app(tmp_path, apps, channel())
    stored = datetime.combine(END - timedelta(days=12), datetime.min.time(), tzinfo=UTC)
    old = Paper(
        title="Mixture of Experts Routing Revisited: sparse experts at scale",
        abstract="A mixture of experts study of sparse expert routing and load balancing.",
        arxiv_id="2611.99999",
        authors=("C. Someone",),
        published=stored,
        first_seen=stored,
        daily_date=END - timedelta(days=1),
        upvotes=999,
        sources=("arxiv",),
    )
    app.archive.upsert([old], now=stored)
    [outcome] = await app.weekly_cycle(console(tmp_path)).run(app.profiles.all(), dry_run=True)
    assert outcome.weekly is not None
    keys = [i.paper.key for i in outcome.weekly.items]
    assert keys and keys[0] == old.key, keys  # the most upvoted paper of the week


async def test_a_dry_run_says_already_posted_and_empty_as_the_real_run_would(
    tmp_path: Path, apps: list[App]
) -> None:
    app = open_app(tmp_path, apps, channel())
    cycle = app.weekly_cycle(console(tmp_path))
    [dry] = await cycle.run(app.profiles.all(), dry_run=True)
    assert dry.status == DRY_RUN
    [real] = await cycle.run(app.profiles.all())
    assert real.status == "done"
    [again] = await cycle.run(app.profiles.all(), dry_run=True)
    assert again.status == ALREADY  # the real run would post nothing
    [real_again] = await cycle.run(app.profiles.all())
    assert real_again.status == ALREADY

    empty = replace(app.profiles.all()[0], channel_id="quiet", topics=("underwater basket",))
    [nothing] = await cycle.run([empty], dry_run=True)
    [nothing_real] = await cycle.run([empty])
    assert nothing.status == nothing_real.status == "empty"


async def test_a_persons_profile_gets_no_weekly_digest(tmp_path: Path, apps: list[App]) -> None:
    app = open_app(tmp_path, apps, channel())
    [channel_profile] = app.profiles.all()
    person = replace(channel_profile, channel_id="U0PERSON1", person=True)
    assert person.ref == "user:console:U0PERSON1"
    cycle = app.weekly_cycle(console(tmp_path))
    assert await cycle.run([person]) == []
    assert await cycle.run([person], dry_run=True) == []
    assert app.ledger.posted("user:console:U0PERSON1#weekly") == {}


# --- the command line ---------------------------------------------------------------------


def config_with(tmp_path: Path, *channels: dict[str, Any]) -> Path:
    path = tmp_path / "paperboy.yaml"
    data = {"database": str(tmp_path / "p.db"), "channels": list(channels)}
    path.write_text(yaml.safe_dump(data))
    return path


def run(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--config", str(config), "digest", "--weekly", *args])


def test_digest_weekly_for_a_person_says_weekly_digests_are_for_channels(tmp_path: Path) -> None:
    config = config_with(tmp_path, {"platform": "console", "id": "ml", "topics": ["moe"]})
    app = build_app(Settings(database=str(tmp_path / "p.db")))
    try:
        app.profiles.ensure_person("console", "U0PERSON1", home="console:ml", now=app.clock())
        app.profiles.add_topic("console", "U0PERSON1", "moe", now=app.clock())
    finally:
        app.close()
    for named in ("user:console:U0PERSON1", "U0PERSON1"):
        result = run(config, "--channel", named)
        assert result.exit_code == 2, result.output
        assert "weekly digests are for channels" in result.output
        assert "user:console:U0PERSON1 is a person's profile" in result.output


def test_digest_weekly_says_a_channel_is_paused_and_how_to_resume_it(tmp_path: Path) -> None:
    config = config_with(
        tmp_path, {"platform": "console", "id": "team", "topics": ["moe"], "weekly": "fri 16:00"}
    )
    runner = CliRunner()
    paused = runner.invoke(cli, ["--config", str(config), "channels", "pause", "team"])
    assert paused.exit_code == 0, paused.output
    for args, code in (((), 0), (("--channel", "team"), 2)):
        result = run(config, *args)
        assert result.exit_code == code, result.output
        assert "console:team is paused" in result.output, result.output
        assert "resume" in result.output
        assert "no channel has a weekly digest" not in result.output
        assert "no channel 'team'" not in result.output


def test_digest_weekly_says_a_channel_follows_no_topics_and_how_to_subscribe(
    tmp_path: Path,
) -> None:
    config = config_with(tmp_path, {"platform": "console", "id": "team", "weekly": "fri 16:00"})
    for args, code in (((), 0), (("--channel", "team"), 2)):
        result = run(config, *args)
        assert result.exit_code == code, result.output  # named: it cannot run as asked
        assert "console:team follows no topics" in result.output, result.output
        assert "subscribe" in result.output
        assert "no channel has a weekly digest" not in result.output


def test_digest_weekly_without_any_weekly_schedule_says_how_to_set_one(tmp_path: Path) -> None:
    config = config_with(tmp_path, {"platform": "console", "id": "team", "topics": ["moe"]})
    result = run(config)
    assert result.exit_code == 0
    assert "no channel has a weekly digest" in result.output and "weekly:" in result.output


# --- what the docs and the command say about "the week's one digest" -----------------------

ROOT = Path(__file__).resolve().parents[1]


def test_the_weekly_docs_state_the_run_on_request_and_discords_nonce_window_as_they_are() -> None:
    text = " ".join((ROOT / "docs" / "weekly.md").read_text().split())
    assert "or a restart while it was uploading) posts nothing more" not in text
    assert "that week's scheduled post then finds it posted and posts nothing" in text
    assert "nonce's window (a few minutes)" in text and "RELIABILITY.md" in text
    assert "at most one extra copy of the week's message" in text


def test_digest_weekly_says_the_scheduled_post_will_find_the_week_posted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = config_with(
        tmp_path, {"platform": "console", "id": "ml", "topics": list(TOPICS), "weekly": "fri 16:00"}
    )
    app = build_app(Settings(database=str(tmp_path / "p.db")))
    try:
        today = datetime.now(UTC).date()
        app.archive.upsert(synthetic_papers(end=today), now=datetime.now(UTC))
    finally:
        app.close()
    dry = run(config, "--dry-run")
    assert "would post the weekly digest" in dry.output, dry.output
    assert "its scheduled post this week would then find it posted" in dry.output
    first = run(config)
    assert "posted the weekly digest" in first.output, first.output
    assert "its scheduled post this week finds it posted and posts nothing" in first.output
    again = run(config, "--dry-run")
    assert "was posted already" in again.output and "would post" not in again.output
