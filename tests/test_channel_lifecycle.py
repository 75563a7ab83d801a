"""Channels and sources come and go (issue 17 item 2), end to end through the `paperboy`
command and the service: a channel removed from the configuration gets no digest and, put
back, gets what it missed and nothing twice; pause / resume / remove from the shell; `move`
keeps the history; a source removed from the configuration is neither fetched nor failing;
a database the old demo shared with the user's configuration cleans itself up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.app import build_app
from bot.cli import cli
from bot.service import Service
from bot.settings.load import bundled_demo_config, load_settings
from bot.sources.retrieve import AnyRetriever

TOPICS = "[mixture of experts, speech, multi-task learning]"


class Setup:
    """A configuration file in a temporary folder, rewritten by the test, and the command."""

    def __init__(self, tmp_path: Path, fixtures: Path) -> None:
        self.path = tmp_path / "paperboy.yaml"
        self.database = tmp_path / "p.db"
        self.fixtures = fixtures

    def write(self, channels: list[str], sources: list[str] | None = None) -> None:
        lines = [f"database: {self.database}", "channels:"]
        lines += [f"  - {{platform: console, id: {c}, topics: {TOPICS}}}" for c in channels]
        if sources is not None:
            lines.append("sources:")
            lines += [f"  - {s}" for s in sources]
        self.path.write_text("\n".join(lines) + "\n")

    def __call__(self, *args: str, code: int = 0) -> str:
        result = CliRunner().invoke(cli, ["--config", str(self.path), *args])
        assert result.exit_code == code, result.output
        return result.output

    def ingest(self, fixture: str) -> None:
        self("ingest", str(self.fixtures / fixture))

    def digest(self, *args: str) -> dict[str, str]:
        """Each channel's outcome line of `paperboy digest`, by channel ref."""
        out = self("digest", *args)
        return {
            line.partition(":")[0] + ":" + line.split(":")[1]: line.split(": ", 1)[1]
            for line in out.splitlines()
            if line.startswith("console:")
        }


@pytest.fixture
def setup(tmp_path: Path, fixtures_dir: Path) -> Setup:
    return Setup(tmp_path, fixtures_dir)


def test_removed_from_the_config_no_digest_put_back_nothing_reposted(setup: Setup) -> None:
    setup.write(["a", "b"])
    setup.ingest("dump_layout_a.txt")
    assert setup.digest() == {"console:a": "posted 1 paper(s)", "console:b": "posted 1 paper(s)"}

    setup.write(["a"])  # b leaves the configuration
    listing = setup("channels")
    assert "console:b — configuration, removed from the configuration" in listing
    assert "its profile and posted history are kept" in listing
    assert setup.digest() == {"console:a": "nothing new"}
    setup.ingest("dump_layout_b.txt")  # new papers while b is out
    assert setup.digest() == {"console:a": "posted 2 paper(s)"}
    assert "failing: nothing" in setup("status")

    setup.write(["a", "b"])  # put back
    assert "console:b — configuration, active" in setup("channels")
    # b gets what came while it was out (its window resumes where it stopped), and nothing
    # it already had, even asked to look back a month
    assert setup.digest() == {"console:a": "nothing new", "console:b": "posted 2 paper(s)"}
    assert setup.digest("--backfill", "30d") == {
        "console:a": "nothing new",
        "console:b": "nothing new",
    }


def test_pause_and_resume_from_the_shell(setup: Setup) -> None:
    setup.write(["a", "b"])
    setup.ingest("dump_layout_a.txt")
    setup.digest()
    out = setup("channels", "pause", "console:a")
    assert out.startswith("console:a paused: no digests until")
    assert setup("channels", "pause", "a") == "console:a already was paused\n"  # bare id
    setup.ingest("dump_layout_b.txt")
    assert setup.digest() == {"console:b": "posted 2 paper(s)"}  # none for a, not an error
    assert setup.digest("--dry-run") == {"console:b": "would post 0 paper(s)"}
    status = setup("status")
    assert "console:a (paused): last digest" in status and "failing: nothing" in status
    assert "next digest: none (paused: paperboy channels resume console:a)" in setup("channels")
    setup.write(["a", "b"])  # the configuration does not undo a pause
    assert "console:a" not in setup.digest()

    assert setup("channels", "resume", "console:a").startswith("console:a resumed: next digest")
    # nothing was lost while paused: the window resumes where it stopped
    assert setup.digest() == {"console:a": "posted 2 paper(s)", "console:b": "nothing new"}
    assert setup.digest("--backfill", "30d")["console:a"] == "nothing new"


def test_remove_from_the_shell_and_bring_back(setup: Setup) -> None:
    setup.write(["a", "b"])
    setup.ingest("dump_layout_a.txt")
    setup.digest()
    out = setup("channels", "remove", "console:b")
    assert out.startswith("console:b removed: no more digests; its profile and posted history")
    assert "note: console:b is still in the configuration" in out
    assert setup.digest("--backfill", "30d") == {"console:a": "nothing new"}
    listing = setup("channels")
    assert "console:b — configuration, removed\n" in listing
    assert "(paperboy channels resume console:b)" in listing
    assert "is removed; resume it first" in setup("channels", "pause", "console:b", code=2)
    setup("channels", "resume", "console:b")
    assert setup.digest("--backfill", "30d")["console:b"] == "nothing new"
    assert "no channel console:zz (known: console:a, console:b)" in setup(
        "channels", "remove", "console:zz", code=2
    )
    assert "give PLATFORM:ID" in setup("channels", "remove", "zz", code=2)


def test_move_keeps_the_history(setup: Setup) -> None:
    setup.write(["old"])
    setup.ingest("dump_layout_a.txt")
    assert setup.digest() == {"console:old": "posted 1 paper(s)"}
    refused = setup("channels", "move", "console:old", "console:new", code=2)
    assert "console:old is still in the configuration" in refused
    setup.write(["new"])  # the operator renames it in the configuration first
    out = setup("channels", "move", "console:old", "console:new")
    assert out.startswith("moved console:old to console:new with its profile, posted history")
    listing = setup("channels")
    assert "console:new — configuration, active" in listing and "console:old" not in listing
    assert setup.digest("--backfill", "30d") == {"console:new": "nothing new"}  # not reposted
    setup.ingest("dump_layout_b.txt")
    assert setup.digest() == {"console:new": "posted 2 paper(s)"}  # its window carried over


def _jobs(config: Path, *, clock: datetime) -> tuple[list[str], list[str]]:
    """The jobs `paperboy run` schedules for `config` and the channels whose scheduled
    digest would run at `clock` (started and stopped in-process, nothing fetched)."""

    async def main() -> tuple[list[str], list[str]]:
        app = build_app(load_settings(str(config)), clock=lambda: clock)
        try:
            async with AnyRetriever() as retriever:
                service = Service(app, {}, retriever, lambda: clock)
                await service.start(catch_up=False)
                jobs = sorted(job.id for job in service.scheduler.get_jobs())
                refs = [p.ref for p in app.profiles.channels()]
                running = [r for r in refs if await service._profile(r) is not None]
                await service.stop()
                return jobs, running
        finally:
            app.close()

    return asyncio.run(main())


def test_a_source_removed_from_the_config_is_neither_fetched_nor_failing(setup: Setup) -> None:
    good = f"{{name: good, kind: dump, path: {setup.fixtures / 'dump_layout_a.txt'}}}"
    broken = f"{{name: broken, kind: dump, path: {setup.database.parent / 'missing.txt'}}}"
    setup.write(["a", "b"], [good, broken])
    setup("ingest", code=1)
    assert "failing: source broken" in setup("status", code=1)

    setup.write(["a", "b"], [good])
    status = setup("status")
    assert "broken" not in status and "good: last fetch" in status
    assert "failing: nothing" in status
    setup("channels", "pause", "console:b")
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a Tuesday, at the digest time
    jobs, running = _jobs(setup.path, clock=now)
    # nothing for b, or broken (weekly-recovery: the service's own, bot.service)
    assert jobs == ["digest:console:a", "fetch:good", "sync-jobs", "weekly-recovery"]
    assert running == ["console:a"]


def test_a_database_the_old_demo_shared_forgets_the_demo(setup: Setup, tmp_path: Path) -> None:
    """Before the demo had its own database, `make run` left console:demo and its sources
    in data/paperboy.db: the user's configuration marks the demo channel removed, and the
    demo's sources are no longer reported."""
    demo = tmp_path / "demo.yaml"
    text = bundled_demo_config().replace("database: data/demo.db", f"database: {setup.database}")
    text = text.replace("path: sample-dump.txt", f"path: {setup.fixtures / 'missing.txt'}")
    offline = f"file://{tmp_path}/missing-{{date}}.json"  # failing, as offline, at once
    text = text.replace("https://huggingface.co/api/daily_papers?date={date}", offline)
    assert offline in text
    demo.write_text(text)
    assert CliRunner().invoke(cli, ["--config", str(demo), "ingest"]).exit_code == 1
    setup.write(["mine"], [f"{{name: mine, kind: dump, path: {setup.fixtures}/dump_layout_a.txt}}"])
    setup("ingest")
    listing = setup("channels")
    assert "console:demo (demo) — configuration, removed from the configuration" in listing
    status = setup("status")
    assert "sample" not in status and "hf-daily" not in status and "console:demo" not in status
    assert setup.digest() == {"console:mine": "posted 1 paper(s)"}
