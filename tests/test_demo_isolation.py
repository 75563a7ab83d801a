"""The demo never leaks into the real setup (issue 17 item 1): `make run` (the bundled demo
configuration) keeps its own database, so a user's own configuration without a `database:`
line starts clean — `channels`, `digest --dry-run`, `status` and `run` know nothing of the
demo's channel or sources. Driven through the `paperboy` command, in a fresh working
directory, as a new user would."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import bot.cli.digest_cmd
import bot.runner
from bot.cli import cli
from bot.digest import ChannelOutcome
from bot.errors import SourceError
from bot.service import Service
from bot.settings.load import load_settings
from bot.sources.base import Fetched, Validators
from bot.sources.retrieve import AnyRetriever

USER_CONFIG = """\
sources:
  - name: my-dump
    kind: dump
    path: {dump}
channels:
  - platform: console
    id: mine
    name: mine
    topics: [mixture of experts]
"""


class OfflineRetriever(AnyRetriever):
    """The real retriever, offline: every http(s) fetch fails at once (the demo's
    hf-daily source then fails, as it does for a user without network)."""

    async def fetch(self, location: str, validators: Validators | None = None) -> Fetched:
        if location.startswith(("http://", "https://")):
            raise SourceError("offline (test)", retryable=True)
        return await super().fetch(location, validators)


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture
def fresh_clone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixtures_dir: Path
) -> tuple[Path, Path]:
    """A working directory where `make run` (`paperboy cycle` on the bundled demo) ran,
    offline; returns it and the fixture dump the user's own configuration reads."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAPERBOY_CONFIG", raising=False)
    monkeypatch.setattr(bot.cli.digest_cmd, "AnyRetriever", OfflineRetriever)
    code, out = _invoke("cycle")
    assert "console:demo" in out, out  # the demo posted to its console channel
    assert "could not fetch hf-daily" in out, out
    assert code == 0, out
    return tmp_path, fixtures_dir / "dump_layout_a.txt"


def test_the_demo_keeps_its_own_database(fresh_clone: tuple[Path, Path]) -> None:
    work, _ = fresh_clone
    assert (work / "data" / "demo.db").is_file()
    assert not (work / "data" / "paperboy.db").exists()
    assert load_settings(None, env={}, cwd=work).database == "data/demo.db"


def test_a_users_configuration_knows_nothing_of_the_demo(
    fresh_clone: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    work, dump = fresh_clone
    (work / "config").mkdir()
    (work / "config" / "paperboy.yaml").write_text(USER_CONFIG.format(dump=dump))
    assert load_settings(None, env={}, cwd=work).database == "data/paperboy.db"

    code, out = _invoke("channels")
    assert code == 0, out
    assert "console:mine" in out and "demo" not in out, out

    code, out = _invoke("digest", "--dry-run")
    assert code == 0, out
    assert "console:mine" in out and "demo" not in out, out

    code, out = _invoke("status")
    assert code == 0, out  # nothing failing: the demo's offline hf-daily is not ours
    assert "hf-daily" not in out and "demo" not in out and "sample" not in out, out
    assert "failing: nothing" in out

    # `paperboy run`: what it schedules and catches up on, then SIGTERM
    jobs: list[str] = []
    caught: list[ChannelOutcome] = []

    class Recording(Service):
        async def start(self, *, catch_up: bool = True) -> None:
            await super().start(catch_up=False)
            jobs.extend(job.id for job in self.scheduler.get_jobs())
            caught.extend(await self.catch_up())
            os.kill(os.getpid(), signal.SIGTERM)

    def offline(*args: Any, **kwargs: Any) -> OfflineRetriever:
        return OfflineRetriever()

    monkeypatch.setattr(bot.runner, "Service", Recording)
    monkeypatch.setattr(bot.runner, "AnyRetriever", offline)
    code, out = _invoke("run")
    assert code == 0, out
    assert sorted(jobs) == ["digest:console:mine", "fetch:my-dump", "sync-jobs", "weekly-recovery"]
    assert {o.profile.ref for o in caught} <= {"console:mine"}
    assert not (work / "data" / "paperboy.db").samefile(work / "data" / "demo.db")
