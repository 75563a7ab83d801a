"""The delivery benchmark (benchmarks/delivery.py) at toy size: every digest delivered once
through the real sender against the rate-limited fakes in their own process, and the figures
it reports are consistent (correctness only; no timing is asserted). The real run:
`python -m benchmarks --only delivery`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import delivery  # noqa: E402
from bot.delivery.pacing import CHANNELS_AT_ONCE  # noqa: E402

pytestmark = pytest.mark.slow


def test_every_digest_is_delivered_once_at_the_limits(tmp_path: Path) -> None:
    result = delivery.run(
        slack_channels=6, discord_channels=6, papers=200, latency=0.0, baseline_channels=2,
        workdir=tmp_path,
    )  # fmt: skip
    assert result["outcomes"].get("done", 0) + result["outcomes"].get("empty", 0) == 12
    assert result["failed"] == 0
    assert result["papers_planned"] > 0
    assert result["papers_confirmed"] == result["papers_planned"]
    assert result["messages"] == result["messages_expected"]
    assert result["lost_papers"] == result["lost_messages"] == 0
    assert result["duplicate_messages"] == result["duplicate_papers"] == 0
    assert result["http_429"]["discord_global"] == 0
    assert result["requests"]["discord_login"] == 1
    assert result["at_once_applied"] == CHANNELS_AT_ONCE
    assert result["limit_bound_seconds"] >= 0.0
    base = result["baseline"]
    assert base["at_once_applied"] == 1 and base["lost_papers"] == 0
    assert base["duplicate_messages"] == 0 and base["channels"] == 4
    assert base["extrapolated_seconds"] > 0
    assert list(tmp_path.iterdir()) == []  # its scratch folder is gone


def test_channels_over_the_per_channel_limits_lose_nothing(tmp_path: Path) -> None:
    """Forty papers a channel: three Slack messages each, which Slack's one a second per
    channel answers with 429s that the retry policy waits out while other channels send;
    four Discord messages each, within its channel bucket. Still every paper once."""
    result = delivery.run(
        slack_channels=3, discord_channels=3, papers=300, latency=0.0, max_posts=40,
        workdir=tmp_path,
    )  # fmt: skip
    assert result["failed"] == 0 and result["papers_planned"] > 0
    assert result["limit_bound_detail"]["busiest_slack_channel_messages"] >= 2
    assert result["papers_confirmed"] == result["papers_planned"]
    assert result["messages"] == result["messages_expected"]
    assert result["lost_papers"] == result["lost_messages"] == 0
    assert result["duplicate_messages"] == result["duplicate_papers"] == 0
    assert result["slack_busiest_channel_per_second"] <= 1.0 + 0.05
    assert result["http_429"]["discord_channel"] == result["http_429"]["discord_global"] == 0
