"""What is not a regular file or a URL is refused at once, never waited on: a FIFO (whose
open blocks until a writer comes), a character device (/dev/zero, endless), a directory.

The CLI cases run `paperboy ingest` as a real process, with a deadline far beyond what a
refusal takes: a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.sources.retrieve import AnyRetriever, FileRetriever

DEADLINE = 30.0  # seconds; a refusal takes milliseconds


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "papers.fifo"
    os.mkfifo(path)
    yield path
    # Should a reader be stuck opening it (the bug), a writer's open releases it.
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def _paperboy(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "c.yaml"
    config.write_text(f"database: {tmp_path / 'p.db'}\n")
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "ingest", *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


async def test_a_fifo_is_refused_at_once_not_waited_on(fifo: Path) -> None:
    for location in (str(fifo), fifo.as_uri()):
        with pytest.raises(SourceError, match="not a regular file") as caught:
            await asyncio.wait_for(AnyRetriever().fetch(location), DEADLINE)
        assert "FIFO" in str(caught.value)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
async def test_a_device_is_refused_at_once() -> None:
    with pytest.raises(SourceError, match="not a regular file") as caught:
        await asyncio.wait_for(FileRetriever().fetch("/dev/zero"), DEADLINE)
    assert "character device" in str(caught.value)


def test_cli_ingest_of_a_fifo_exits_1_with_a_clear_message(tmp_path: Path, fifo: Path) -> None:
    done = _paperboy(tmp_path, str(fifo))
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "not a regular file" in done.stdout and "FIFO" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_cli_ingest_of_a_device_exits_1(tmp_path: Path) -> None:
    done = _paperboy(tmp_path, "/dev/zero")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "not a regular file" in done.stdout
