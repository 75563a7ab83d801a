"""The weekly digest end to end (issue 19), against the fake Slack and Discord over real
HTTP and a real SQLite database: the service's weekly job fires on the channel's
schedule in its zone (injected clock) → the trend chart is drawn → uploaded → the message
shows it; exactly once per channel and week (a second firing, a rerun, a process killed
mid-upload and restarted); a missed week caught up at start; `paperboy digest --weekly`;
a bad weekly schedule in the configuration."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import bot.store.ledger as ledger_module
from bot.app import App, build_app, build_deliveries
from bot.cli import cli
from bot.delivery.console import ConsoleDelivery
from bot.delivery.discord import DiscordDelivery, use_api_base
from bot.delivery.slack import SlackDelivery, slack_client
from bot.outbox import Outbox
from bot.schedule import weekly_trigger
from bot.service import WEEKLY_GRACE, WEEKLY_RECOVERY, Service
from bot.settings import ChannelSettings, Settings
from bot.sources.retrieve import FileRetriever
from bot.store.owner import this_process
from bot.store.runs import STALE_RUN
from bot.weekly import ALREADY, CLAIMED, WeeklyCycle, weekly_channel
from bot.weekly_example import END, TOPICS, synthetic_papers
from fakes.clock import Clock
from fakes.discord import FakeDiscord
from fakes.faults import FaultPlan, delay, reset
from fakes.slack import FakeSlack
from helpers import wait_until

SLACK_CHANNEL = "C0WEEKLY01"
DISCORD_CHANNEL = "1200000000000000077"
ZONE = "Europe/Berlin"  # UTC+1 in November: "fri 16:00" is 15:00 UTC
FIRES = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # Friday 27 November 16:00 in Berlin
WEEK_KEY = "week:2026-W48"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def channel(platform: str, cid: str, **kw: Any) -> ChannelSettings:
    values: dict[str, Any] = {
        "platform": platform,
        "id": cid,
        "name": "ml-papers",
        "topics": list(TOPICS),
        "timezone": ZONE,
        "weekly": "fri 16:00",
        "max_posts": 5,
        **kw,
    }
    return ChannelSettings(**values)


@pytest.fixture
def apps() -> Iterator[list[App]]:
    opened: list[App] = []
    yield opened
    for app in opened:
        app.close()


def open_app(tmp_path: Path, apps: list[App], clock: Clock, *chs: ChannelSettings) -> App:
    app = build_app(Settings(database=str(tmp_path / "p.db"), channels=list(chs)), clock=clock)
    apps.append(app)
    if not app.archive.count():
        app.archive.upsert(synthetic_papers(), now=FIRES - timedelta(hours=1))
    return app


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels=[SLACK_CHANNEL]) as fake:
        yield fake


def slack_delivery(fake: FakeSlack) -> SlackDelivery:
    return SlackDelivery(slack_client(fake.token, fake.url, timeout=5))


def shown_file_id(message: dict[str, Any]) -> str:
    [image] = [b for b in message["blocks"] if b["type"] == "image"]
    return str(image["slack_file"]["id"])


def posted_weekly(app: App, ref: str) -> dict[str, datetime]:
    return app.ledger.posted(weekly_channel(ref))


# --- Slack ---------------------------------------------------------------------------------


async def test_the_weekly_job_fires_on_schedule_and_posts_the_chart_on_slack_once(
    tmp_path: Path, apps: list[App], slack: FakeSlack
) -> None:
    ref = f"slack:{SLACK_CHANNEL}"
    clock = Clock(FIRES - timedelta(days=1))
    app = open_app(tmp_path, apps, clock, channel("slack", SLACK_CHANNEL))
    svc = Service(app, {"slack": slack_delivery(slack)}, FileRetriever(), clock)
    await svc.sync_jobs()
    job = svc.scheduler.get_job(f"weekly:{ref}")
    assert job is not None and job.name == f"weekly {ref}"
    [profile] = app.profiles.all()
    assert profile.weekly == "0 16 * * fri"
    assert weekly_trigger(profile).next_at_or_after(clock.now) == FIRES  # 16:00 in Berlin

    assert await svc.scheduled_weekly(ref) is None  # a day early: outside its schedule
    clock.now = FIRES + timedelta(seconds=3)
    outcome = await svc.scheduled_weekly(ref)
    assert outcome is not None and outcome.status == "done", outcome
    [message] = slack.messages(SLACK_CHANNEL)
    assert message["ts"] == outcome.ref
    # the chart: drawn, uploaded privately, shown by the message's image block
    [file] = slack.files.completed()
    assert shown_file_id(message) == file.id and file.channels == []
    assert file.content.startswith(PNG_SIGNATURE) and outcome.chart is not None
    assert file.content == outcome.chart.content
    assert "mixture of experts:" in file.alt_txt and "this week" in file.alt_txt
    # the message: the week's header, the trend in words, the top papers
    assert message["blocks"][0]["text"]["text"].startswith("This week in #ml-papers: 21 Nov")
    text = str(message["blocks"])
    assert "papers this week" in text and "Study" in text
    assert message["metadata"]["event_payload"]["papers"] == [WEEK_KEY]
    assert set(posted_weekly(app, ref)) == {WEEK_KEY}
    assert app.ledger.posted(ref) == {}  # the daily ledger of the channel is untouched

    # exactly once: a second firing (another replica), a catch-up, a run on request
    again = await svc.scheduled_weekly(ref)
    assert again is not None and again.status == CLAIMED
    [caught_up] = await svc.catch_up_weekly()
    assert caught_up.status == CLAIMED
    cycle = app.weekly_cycle({"slack": slack_delivery(slack)})
    [rerun] = await cycle.run(app.profiles.all())
    assert rerun.status == ALREADY
    assert len(slack.messages(SLACK_CHANNEL)) == 1
    assert slack.requests["files.getUploadURLExternal"] == 1


async def test_a_process_killed_mid_upload_posts_the_week_once_after_a_restart(
    tmp_path: Path,
    apps: list[App],
    slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first process is killed while the chart's bytes are on the wire: it recorded
    the week's message as being sent and nothing after (a killed process cleans nothing
    up). Restarted three hours later, the catch-up takes the dead run over and sends the
    very same message again, looked for first: one post, showing a completed file."""
    me = this_process()
    assert me is not None, "processes cannot be told apart here (no /proc)"
    host, boot, ns, _pid, _start = me.split("/")
    dead = f"{host}/{boot}/{ns}/999999999/1"  # a process that no longer exists

    ref = f"slack:{SLACK_CHANNEL}"
    clock = Clock(FIRES + timedelta(seconds=3))
    app = open_app(tmp_path, apps, clock, channel("slack", SLACK_CHANNEL))
    slack.faults = FaultPlan.script([delay(60.0)], only={"upload"})

    async def nothing(*_args: Any, **_kw: Any) -> None:
        return None

    with monkeypatch.context() as killed:  # what the dead process never got to do
        killed.setattr(ledger_module, "this_process", lambda: dead)
        killed.setattr(Outbox, "abandon", nothing)
        killed.setattr(Outbox, "release", nothing)
        killed.setattr(WeeklyCycle, "_finish", nothing)
        svc = Service(app, {"slack": slack_delivery(slack)}, FileRetriever(), clock)
        task = asyncio.ensure_future(svc.scheduled_weekly(ref))
        await wait_until(lambda: slack.requests["upload"] >= 1, 30.0, "the chart's upload")
        task.cancel()  # SIGKILL: the upload never finishes, nothing is posted
        await asyncio.gather(task, return_exceptions=True)
    assert slack.messages(SLACK_CHANNEL) == []
    assert posted_weekly(app, ref) == {}
    [left] = app.ledger.rows(weekly_channel(ref), [WEEK_KEY]).values()
    assert not left.posted and left.message_key is not None  # left SENDING by the dead run

    clock.now = FIRES + timedelta(hours=3)  # restarted; the dead run's claim is stale
    restarted = Service(app, {"slack": slack_delivery(slack)}, FileRetriever(), clock)
    [outcome] = await restarted.catch_up_weekly()
    assert outcome.status == "done", outcome
    assert slack.requests["conversations.history"] >= 1  # looked for before posting again
    [message] = slack.messages(SLACK_CHANNEL)
    assert message["metadata"]["event_payload"]["idempotency_key"] == left.message_key
    assert slack.files.files[shown_file_id(message)].completed
    assert set(posted_weekly(app, ref)) == {WEEK_KEY}
    [again] = await restarted.app.weekly_cycle({"slack": slack_delivery(slack)}).run(
        app.profiles.all()
    )
    assert again.status == ALREADY and len(slack.messages(SLACK_CHANNEL)) == 1


async def test_killed_mid_upload_and_restarted_within_the_stale_time_posts_the_week_once(
    tmp_path: Path,
    apps: list[App],
    slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review finding: restarted 20 minutes after the kill, the dead run's claim is still
    RUNNING and not stale, so the start's catch-up finds it claimed. The service's
    periodic weekly recovery takes it over once STALE_RUN has passed: one post, within a
    few hours, and nothing more after it."""
    me = this_process()
    assert me is not None, "processes cannot be told apart here (no /proc)"
    host, boot, ns, _pid, _start = me.split("/")
    dead = f"{host}/{boot}/{ns}/999999999/1"

    ref = f"slack:{SLACK_CHANNEL}"
    clock = Clock(FIRES + timedelta(seconds=3))
    app = open_app(tmp_path, apps, clock, channel("slack", SLACK_CHANNEL))
    slack.faults = FaultPlan.script([delay(60.0)], only={"upload"})

    async def nothing(*_args: Any, **_kw: Any) -> None:
        return None

    with monkeypatch.context() as killed:
        killed.setattr(ledger_module, "this_process", lambda: dead)
        killed.setattr(Outbox, "abandon", nothing)
        killed.setattr(Outbox, "release", nothing)
        killed.setattr(WeeklyCycle, "_finish", nothing)
        svc = Service(app, {"slack": slack_delivery(slack)}, FileRetriever(), clock)
        task = asyncio.ensure_future(svc.scheduled_weekly(ref))
        await wait_until(lambda: slack.requests["upload"] >= 1, 30.0, "the chart's upload")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert slack.messages(SLACK_CHANNEL) == []

    clock.now = FIRES + timedelta(minutes=20)  # restarted: the claim is not stale yet
    restarted = Service(app, {"slack": slack_delivery(slack)}, FileRetriever(), clock)
    [outcome] = await restarted.catch_up_weekly()
    assert outcome.status == CLAIMED
    posted_at: list[datetime] = []
    while clock.now < FIRES + timedelta(hours=6):  # the recovery job, every 10 minutes
        clock.now += timedelta(minutes=10)
        for done in await restarted.recover_weekly():
            assert done.status == "done", done
            posted_at.append(clock.now)
    assert len(posted_at) == 1
    assert FIRES + STALE_RUN < posted_at[0] <= FIRES + STALE_RUN + timedelta(minutes=10)
    assert len(slack.messages(SLACK_CHANNEL)) == 1
    assert set(posted_weekly(app, ref)) == {WEEK_KEY}
    run = app.runs.last(weekly_channel(ref))
    assert run is not None and run.status == "done" and run.scheduled_for == FIRES


async def test_the_weekly_recovery_reads_nothing_once_the_week_is_over_or_beyond_the_grace(
    tmp_path: Path, apps: list[App], slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(FIRES + timedelta(seconds=2))
    app = open_app(tmp_path, apps, clock, channel("slack", SLACK_CHANNEL))
    svc = Service(app, {"slack": slack_delivery(slack)}, FileRetriever(), clock)
    outcome = await svc.scheduled_weekly(f"slack:{SLACK_CHANNEL}")
    assert outcome is not None and outcome.status == "done"
    reads: list[int] = []
    dead_claims = WeeklyCycle.dead_claims

    async def counted(self: WeeklyCycle, due: Any) -> Any:
        reads.append(len(due))
        return await dead_claims(self, due)

    monkeypatch.setattr(WeeklyCycle, "dead_claims", counted)
    clock.now += timedelta(minutes=10)
    assert await svc.recover_weekly() == []
    assert reads == []  # posted by this process: known over
    other = Service(app, {"slack": slack_delivery(slack)}, FileRetriever(), clock)
    assert await other.recover_weekly() == [] and reads == [1]  # read once, then known
    assert await other.recover_weekly() == [] and reads == [1]
    clock.now = FIRES + WEEKLY_GRACE + timedelta(minutes=1)
    fresh = Service(app, {"slack": slack_delivery(slack)}, FileRetriever(), clock)
    assert await fresh.recover_weekly() == [] and reads == [1]  # beyond the grace
    assert len(slack.messages(SLACK_CHANNEL)) == 1


async def test_the_service_schedules_the_weekly_recovery(
    tmp_path: Path, apps: list[App], slack: FakeSlack
) -> None:
    clock = Clock(FIRES - timedelta(days=1))
    app = open_app(tmp_path, apps, clock, channel("slack", SLACK_CHANNEL))
    svc = Service(app, {"slack": slack_delivery(slack)}, FileRetriever(), clock)
    await svc.start(catch_up=False)
    try:
        job = svc.scheduler.get_job("weekly-recovery")
        assert job is not None and job.trigger.interval == WEEKLY_RECOVERY
    finally:
        await svc.stop()


async def test_a_weekly_run_missed_while_down_is_caught_up_within_a_day(
    tmp_path: Path, apps: list[App], slack: FakeSlack
) -> None:
    ref = f"slack:{SLACK_CHANNEL}"
    clock = Clock(FIRES + timedelta(days=3))  # Monday: beyond the grace
    app = open_app(tmp_path, apps, clock, channel("slack", SLACK_CHANNEL))
    svc = Service(app, {"slack": slack_delivery(slack)}, FileRetriever(), clock)
    assert await svc.catch_up_weekly() == []
    clock.now = FIRES + timedelta(hours=18)  # Saturday morning: caught up
    [outcome] = await svc.catch_up_weekly()
    assert outcome.status == "done" and outcome.weekly is not None
    assert outcome.weekly.end == END and outcome.weekly.week == "2026-W48"  # Friday's week
    assert len(slack.messages(SLACK_CHANNEL)) == 1
    assert set(posted_weekly(app, ref)) == {WEEK_KEY}


async def test_weekly_jobs_follow_schedules_changed_from_chat(
    tmp_path: Path, apps: list[App], slack: FakeSlack
) -> None:
    ref = f"slack:{SLACK_CHANNEL}"
    clock = Clock(FIRES - timedelta(days=1))
    app = open_app(tmp_path, apps, clock, channel("slack", SLACK_CHANNEL, weekly=None))
    svc = Service(app, {"slack": slack_delivery(slack)}, FileRetriever(), clock)
    await svc.sync_jobs()
    assert svc.scheduler.get_job(f"weekly:{ref}") is None
    assert app.profiles.set_weekly("slack", SLACK_CHANNEL, "sat 9:30", now=clock.now)
    await svc.sync_jobs()
    job = svc.scheduler.get_job(f"weekly:{ref}")
    assert job is not None and str(job.trigger).endswith("in Europe/Berlin")
    [profile] = app.profiles.all()
    assert profile.weekly == "30 9 * * sat"
    with pytest.raises(ValueError, match="fri 16:00"):
        app.profiles.set_weekly("slack", SLACK_CHANNEL, "someday", now=clock.now)
    assert app.profiles.set_weekly("slack", SLACK_CHANNEL, None, now=clock.now)
    await svc.sync_jobs()
    assert svc.scheduler.get_job(f"weekly:{ref}") is None


# --- Discord -------------------------------------------------------------------------------


@pytest.fixture
async def discord_fake(discord_route: None) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(channels=[DISCORD_CHANNEL]) as fake:
        use_api_base(fake.base)
        yield fake


async def test_the_weekly_digest_on_discord_shows_the_chart_in_its_embed_once(
    tmp_path: Path, apps: list[App], discord_fake: FakeDiscord
) -> None:
    ref = f"discord:{DISCORD_CHANNEL}"
    clock = Clock(FIRES + timedelta(seconds=2))
    app = open_app(tmp_path, apps, clock, channel("discord", DISCORD_CHANNEL))
    delivery = DiscordDelivery(discord_fake.token, timeout=5, pace=None)
    try:
        svc = Service(app, {"discord": delivery}, FileRetriever(), clock)
        await svc.sync_jobs()
        assert svc.scheduler.get_job(f"weekly:{ref}") is not None
        outcome = await svc.scheduled_weekly(ref)
        assert outcome is not None and outcome.status == "done", outcome
        [message] = discord_fake.messages(DISCORD_CHANNEL)
        [embed] = message["embeds"]
        assert outcome.chart is not None
        assert embed["image"] == {"url": f"attachment://{outcome.chart.filename}"}
        [attachment] = message["attachments"]
        assert attachment["filename"] == outcome.chart.filename
        [upload] = discord_fake.files.of(message["id"])
        assert upload.content == outcome.chart.content
        assert upload.content.startswith(PNG_SIGNATURE)
        assert "papers this week" in upload.description
        assert "papers this week" in message["content"]
        assert "**1.**" in embed["description"]
        again = await svc.scheduled_weekly(ref)
        assert again is not None and again.status == CLAIMED
        assert len(discord_fake.messages(DISCORD_CHANNEL)) == 1
    finally:
        await delivery.aclose()


# --- console -------------------------------------------------------------------------------


async def test_the_weekly_digest_on_the_console_writes_the_png_beside_its_text(
    tmp_path: Path, apps: list[App]
) -> None:
    ref = "console:ml-papers"
    clock = Clock(FIRES + timedelta(seconds=2))
    app = open_app(tmp_path, apps, clock, channel("console", "ml-papers"))
    out = io.StringIO()
    files = tmp_path / "console"
    svc = Service(app, {"console": ConsoleDelivery(out, files_dir=files)}, FileRetriever(), clock)
    outcome = await svc.scheduled_weekly(ref)
    assert outcome is not None and outcome.status == "done" and outcome.chart is not None
    [png] = list(files.iterdir())
    assert png.read_bytes() == outcome.chart.content
    text = out.getvalue()
    assert text.startswith("This week in #ml-papers: 21 Nov – 27 Nov 2026")
    assert "Trend: mixture of experts:" in text and "Top papers of the week:" in text
    assert f"[image: {png}" in text
    again = await svc.scheduled_weekly(ref)
    assert again is not None and again.status == CLAIMED
    assert out.getvalue() == text and len(list(files.iterdir())) == 1
    assert set(posted_weekly(app, ref)) == {WEEK_KEY}


# --- the command line and the configuration -------------------------------------------------


def write_config(tmp_path: Path, **channel_values: Any) -> Path:
    values = {
        "platform": "console",
        "id": "ml-papers",
        "topics": list(TOPICS),
        "weekly": "fri 16:00",
        **channel_values,
    }
    path = tmp_path / "paperboy.yaml"
    path.write_text(yaml.safe_dump({"database": str(tmp_path / "p.db"), "channels": [values]}))
    return path


def test_paperboy_digest_weekly_posts_this_weeks_digest_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the console writes its files under data/console/
    config = write_config(tmp_path)
    today = datetime.now(UTC).date()
    app = build_app(Settings(database=str(tmp_path / "p.db")))
    try:
        papers = synthetic_papers(end=today)
        app.archive.upsert(papers, now=datetime.now(UTC) - timedelta(minutes=5))
    finally:
        app.close()
    runner = CliRunner()
    dry = runner.invoke(cli, ["--config", str(config), "digest", "--weekly", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "console:ml-papers: would post the weekly digest of week" in dry.output
    assert not (tmp_path / "data" / "console").exists()
    first = runner.invoke(cli, ["--config", str(config), "digest", "--weekly"])
    assert first.exit_code == 0, first.output
    assert "This week in #ml-papers" in first.output and "papers this week" in first.output
    assert "console:ml-papers: posted the weekly digest of week" in first.output
    [png] = list((tmp_path / "data" / "console").iterdir())
    assert png.read_bytes().startswith(PNG_SIGNATURE)
    again = runner.invoke(
        cli, ["--config", str(config), "digest", "--weekly", "--channel", "ml-papers"]
    )
    assert again.exit_code == 0, again.output
    assert "was posted already" in again.output and "This week in" not in again.output


def test_paperboy_digest_weekly_says_how_to_turn_it_on_when_no_channel_has_it(
    tmp_path: Path,
) -> None:
    config = tmp_path / "paperboy.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": str(tmp_path / "p.db"),
                "channels": [{"platform": "console", "id": "c", "topics": ["moe"]}],
            }
        )
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "digest", "--weekly"])
    assert result.exit_code == 0 and 'weekly: "fri 16:00"' in result.output


@pytest.mark.parametrize("bad", ["friday at four", "fri 25:00", "0 16 31 2 *"])
def test_a_bad_weekly_schedule_in_the_configuration_is_a_clear_error(
    tmp_path: Path, bad: str
) -> None:
    config = write_config(tmp_path, weekly=bad)
    result = CliRunner().invoke(cli, ["--config", str(config), "digest", "--weekly"])
    assert result.exit_code == 2, result.output
    assert "weekly" in result.output and "fri 16:00" in result.output


# --- webhooks, replicas, and the daily digest beside the weekly one -------------------------


async def test_webhooks_get_the_weekly_digest_slack_in_words_discord_with_the_file(
    tmp_path: Path, apps: list[App], slack: FakeSlack, discord_fake: FakeDiscord
) -> None:
    slack_url = slack.add_webhook(SLACK_CHANNEL)
    discord_url = discord_fake.add_webhook(DISCORD_CHANNEL)
    clock = Clock(FIRES + timedelta(seconds=2))
    app = open_app(
        tmp_path,
        apps,
        clock,
        channel("slack-webhook", "team", url=slack_url),
        channel("discord-webhook", "lab", url=discord_url),
    )
    deliveries = build_deliveries(app.settings)
    try:
        outcomes = await app.weekly_cycle(deliveries).run(app.profiles.all())
    finally:
        for d in deliveries.values():
            await d.aclose()
    assert [o.status for o in outcomes] == ["done", "done"], outcomes
    [on_slack] = slack.messages(SLACK_CHANNEL)
    assert on_slack["via"] == "webhook"
    assert not any(b["type"] == "image" for b in on_slack["blocks"])  # no upload possible
    assert "papers this week" in str(on_slack["blocks"][-1])  # the chart in words
    [on_discord] = discord_fake.messages(DISCORD_CHANNEL)
    [upload] = discord_fake.files.of(on_discord["id"])
    assert upload.content.startswith(PNG_SIGNATURE)
    assert on_discord["embeds"][0]["image"]["url"].startswith("attachment://trends-")


async def test_two_replicas_firing_at_once_post_the_week_once(
    tmp_path: Path, apps: list[App], slack: FakeSlack
) -> None:
    ref = f"slack:{SLACK_CHANNEL}"
    clock = Clock(FIRES + timedelta(seconds=1))
    first = open_app(tmp_path, apps, clock, channel("slack", SLACK_CHANNEL))
    second = open_app(tmp_path, apps, clock, channel("slack", SLACK_CHANNEL))
    one = Service(first, {"slack": slack_delivery(slack)}, FileRetriever(), clock)
    two = Service(second, {"slack": slack_delivery(slack)}, FileRetriever(), clock)
    a, b = await asyncio.gather(one.scheduled_weekly(ref), two.scheduled_weekly(ref))
    assert a is not None and b is not None
    assert sorted([a.status, b.status]) == [CLAIMED, "done"]
    assert len(slack.messages(SLACK_CHANNEL)) == 1


async def test_the_daily_digest_and_the_weekly_one_never_collide(
    tmp_path: Path, apps: list[App], slack: FakeSlack
) -> None:
    """The daily digest at 09:00 posts papers of the week; the weekly digest at 16:00 may
    show them again (a summary of the week), and neither ledger holds the other's keys."""
    ref = f"slack:{SLACK_CHANNEL}"
    clock = Clock(datetime(2026, 11, 27, 8, 0, 2, tzinfo=UTC))  # Friday 09:00 in Berlin
    app = open_app(
        tmp_path, apps, clock, channel("slack", SLACK_CHANNEL, schedule="0 9 * * *", lookback="7d")
    )
    svc = Service(app, {"slack": slack_delivery(slack)}, FileRetriever(), clock)
    daily = await svc.scheduled_digest(ref)
    assert daily is not None and daily.status == "done" and daily.posted
    clock.now = FIRES + timedelta(seconds=2)
    weekly = await svc.scheduled_weekly(ref)
    assert weekly is not None and weekly.status == "done" and weekly.weekly is not None
    assert {i.paper.key for i in weekly.weekly.items} & set(daily.posted)  # shown again
    assert set(app.ledger.posted(ref)) == set(daily.posted)
    assert set(posted_weekly(app, ref)) == {WEEK_KEY}
    last = slack.messages(SLACK_CHANNEL)[-1]
    assert last["metadata"]["event_payload"]["papers"] == [WEEK_KEY]
    assert any(b["type"] == "image" for b in last["blocks"])


async def test_channels_due_at_the_same_time_share_one_cycle_and_post_once_each(
    tmp_path: Path, apps: list[App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Their jobs fire together: the first runs one cycle for all of them (the charts'
    counts made once), the others get their outcome from it; a later firing finds every
    run claimed without counting or drawing anything."""
    clock = Clock(FIRES + timedelta(seconds=1))
    names = ("alpha", "beta", "gamma")
    app = open_app(tmp_path, apps, clock, *(channel("console", n) for n in names))
    out = io.StringIO()
    console = ConsoleDelivery(out, files_dir=tmp_path / "console")
    svc = Service(app, {"console": console}, FileRetriever(), clock)
    plans: list[int] = []
    plan = WeeklyCycle._plan

    async def counted(self: WeeklyCycle, profiles: Any, *args: Any) -> Any:
        plans.append(len(profiles))
        return await plan(self, profiles, *args)

    monkeypatch.setattr(WeeklyCycle, "_plan", counted)
    outcomes = await asyncio.gather(*(svc.scheduled_weekly(f"console:{n}") for n in names))
    assert [o.status if o else None for o in outcomes] == ["done", "done", "done"]
    assert [o.profile.channel_id if o else None for o in outcomes] == list(names)
    assert plans == [3]  # one cycle for the three
    assert out.getvalue().count("This week in #ml-papers") == 3
    later = await svc.scheduled_weekly("console:beta")
    assert later is not None and later.status == CLAIMED
    assert plans == [3]  # nothing counted or drawn again
    assert out.getvalue().count("This week in #ml-papers") == 3


async def test_discord_a_process_killed_after_its_post_before_the_answer_posts_once(
    tmp_path: Path,
    apps: list[App],
    discord_fake: FakeDiscord,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Discord made the message (chart attached) but its answer was lost, and the process
    was killed while waiting to retry. The next run sends the same message again under the
    same nonce: Discord drops the repeat, the week is confirmed, one message."""
    me = this_process()
    assert me is not None, "processes cannot be told apart here (no /proc)"
    host, boot, ns, _pid, _start = me.split("/")
    ref = f"discord:{DISCORD_CHANNEL}"
    clock = Clock(FIRES + timedelta(seconds=2))
    app = open_app(tmp_path, apps, clock, channel("discord", DISCORD_CHANNEL))
    discord_fake.faults = FaultPlan.script([reset(after=True)], only={FakeDiscord.SEND_MESSAGE})
    waiting = asyncio.Event()

    async def killed_while_waiting(_seconds: float) -> None:
        waiting.set()
        await asyncio.Event().wait()  # never: the process is killed here

    async def nothing(*_args: Any, **_kw: Any) -> None:
        return None

    def cycle(sleep: Any) -> WeeklyCycle:
        return WeeklyCycle(
            archive=app.archive,
            ledger=app.ledger,
            runs=app.runs,
            feedback=app.feedback,
            lexicon=app.lexicons,
            deliveries={"discord": delivery},
            clock=clock,
            sleep=sleep,
        )

    delivery = DiscordDelivery(discord_fake.token, timeout=5, pace=None)
    try:
        with monkeypatch.context() as dead:
            dead.setattr(ledger_module, "this_process", lambda: f"{host}/{boot}/{ns}/999999999/1")
            dead.setattr(Outbox, "abandon", nothing)
            dead.setattr(Outbox, "release", nothing)
            dead.setattr(WeeklyCycle, "_finish", nothing)
            task = asyncio.ensure_future(cycle(killed_while_waiting).run(app.profiles.all()))
            await asyncio.wait_for(waiting.wait(), 30.0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert len(discord_fake.messages(DISCORD_CHANNEL)) == 1  # made, never confirmed
        assert posted_weekly(app, ref) == {}
        [outcome] = await cycle(asyncio.sleep).run(app.profiles.all())
        assert outcome.status == "done", outcome
        [message] = discord_fake.messages(DISCORD_CHANNEL)
        assert discord_fake.nonce_hits == 1 and outcome.ref == message["id"]
        assert len(discord_fake.files.of(message["id"])) == 1
        assert set(posted_weekly(app, ref)) == {WEEK_KEY}
    finally:
        await delivery.aclose()
