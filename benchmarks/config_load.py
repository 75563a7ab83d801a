"""Scenario: load a configuration file with many channels, as every `paperboy` command does
(`load_settings`: read, parse the YAML with its guards, substitute `${ENV}`, validate into
Settings). The file is written the way people write one: each channel a block mapping
with its topics, an exclusion, a schedule and a time zone, no YAML aliases. Reports the
load time (median of runs), the file's size, and `refused`: the error when the file was
refused (the code before issue 18 refused 10,000 channels as an alias bomb)."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.measure import PeakMemory, Timing
from benchmarks.synth import Corpus
from bot.errors import ConfigError
from bot.settings import load_settings

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "europe/paris")
SCHEDULES = ("0 9 * * mon-fri", "30 8 * * *", "0 17 * * fri")


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_text(channels: int, *, seed: int = 8) -> str:
    """A configuration with `channels` Slack and Discord channels (one source, secrets
    from the environment)."""
    lines = [
        "database: ${DATABASE_URL:-data/paperboy.db}",
        "log_level: INFO",
        "sources:",
        "  - name: hf-daily",
        "    kind: hf-daily",
        '    url: "https://huggingface.co/api/daily_papers?date={date}"',
        "    days: 2",
        "slack:",
        "  bot_token: ${SLACK_BOT_TOKEN}",
        "channels:",
    ]
    for i, p in enumerate(Corpus(seed).profiles(channels)):
        discord = i % 3 == 2
        lines += [
            f"  - platform: {'discord' if discord else 'slack'}",
            f'    id: "{100000000000000000 + i}"' if discord else f"    id: {p.channel_id}",
            f"    name: {p.name}",
            f"    topics: [{', '.join(_quoted(t) for t in p.topics)}]",
            f"    exclude: [{', '.join(_quoted(t) for t in p.exclude)}]",
            f"    max_posts: {5 + i % 10}",
            f'    schedule: "{SCHEDULES[i % len(SCHEDULES)]}"',
            f"    timezone: {ZONES[i % len(ZONES)]}",
        ]
    return "\n".join(lines) + "\n"


def run(
    *, channels: int, runs: int = 3, seed: int = 8, workdir: Path | None = None
) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="paperboy-bench-config-", dir=workdir))
    try:
        path = tmp / "paperboy.yaml"
        path.write_text(config_text(channels, seed=seed), encoding="utf-8")
        env = {"SLACK_BOT_TOKEN": "xoxb-bench"}
        timing = Timing()
        peak = PeakMemory()
        loaded, refused = 0, None
        for r in range(runs):
            with peak if r == runs - 1 else _Null():
                start = time.perf_counter()
                try:
                    loaded = len(load_settings(str(path), env=env, cwd=tmp).channels)
                except ConfigError as e:  # the code before refused large files
                    refused = str(e).splitlines()[0].removeprefix(f"{path}: ")
                timing.runs.append(time.perf_counter() - start)
        assert refused is not None or loaded == channels, (loaded, channels)
        return {
            "scenario": "config",
            "channels": channels,
            "file_bytes": path.stat().st_size,
            "wall": timing.as_dict(),
            "loaded": loaded,
            "refused": refused,
            "peak_rss": peak.peak,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
