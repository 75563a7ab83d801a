"""The fake Slack and Discord of tests/fakes with their rate limits enforced, in their own
process, for the delivery benchmark: `python -m benchmarks.platform_fakes SETUP_JSON`.

SETUP_JSON names the channels, the limits, the latency and two files: `ready` gets the
URLs and tokens once both servers listen; on SIGTERM the servers stop and `recorded`
gets what they received (each message's channel, papers or nonce, and arrival time on
`time.monotonic`, which is system-wide on Linux, so the parent can compare it with its own),
and the 429 and request counts. In their own process the platforms' work (parsing,
validation) is not on the sender's CPU, as on the real platforms."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from fakes.discord import FakeDiscord  # noqa: E402
from fakes.slack import FakeSlack  # noqa: E402


async def serve(setup: dict[str, Any]) -> None:
    limits = setup["limits"]
    async with (
        FakeSlack(channels=setup["slack_channels"]) as slack,
        FakeDiscord(channels=setup["discord_channels"]) as dc,
    ):
        slack.enforce_rate(per_second=limits["slack_per_second"], burst=limits["slack_burst"])
        dc.enforce_global(
            per_second=limits["discord_global_per_second"], burst=limits["discord_global_burst"]
        )
        dc.enforce_rate(limit=limits["discord_channel_limit"], per=limits["discord_channel_per"])
        slack.latency = dc.latency = float(setup["latency"])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        ready = {
            "slack_url": slack.url,
            "slack_token": slack.token,
            "discord_base": dc.base,
            "discord_token": dc.token,
        }
        await asyncio.to_thread(_write, Path(setup["ready"]), ready)
        await stop.wait()
        await asyncio.to_thread(_write, Path(setup["recorded"]), recorded(slack, dc))


def _write(path: Path, data: dict[str, Any]) -> None:
    """`data` as JSON at `path`, whole or not at all (the parent polls for it)."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data))
    partial.rename(path)


def recorded(slack: FakeSlack, dc: FakeDiscord) -> dict[str, Any]:
    """What the platforms received, as plain data."""
    slack_messages = [
        {
            "channel": m["channel"],
            "papers": ((m.get("metadata") or {}).get("event_payload") or {}).get("papers", []),
            "at": at,
        }
        for m, at in zip(slack.messages(), slack.created, strict=True)
    ]
    discord_messages = [
        {"channel": m["channel_id"], "nonce": m.get("nonce"), "at": at}
        for m, at in zip(dc.messages(), dc.created, strict=True)
    ]
    return {
        "slack": slack_messages,
        "discord": discord_messages,
        "http_429": {
            "slack_channel": slack.rate_limited,
            "discord_channel": dc.rate_limited,
            "discord_global": dc.global_limited,
        },
        "requests": {
            "slack_post": slack.requests["chat.postMessage"],
            "discord_total": sum(dc.requests.values()),
            "discord_post": dc.requests[FakeDiscord.SEND_MESSAGE],
            "discord_login": dc.requests["GET /users/@me"],
        },
    }


if __name__ == "__main__":
    asyncio.run(serve(json.loads(Path(sys.argv[1]).read_text())))
