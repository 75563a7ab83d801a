"""The Slack front-end as `paperboy run` serves it over HTTP, in its own process, for the
ack benchmark: `python -m benchmarks.slack_server DB SLACK_API_URL SIGNING_SECRET URL_FILE`.

Builds the App on the archive at DB, the bolt app (`build_slack_app`) with its Web API
client pointed at the fake Slack, serves it (`serve_http`) on 127.0.0.1 and a free port,
writes the events URL to URL_FILE and serves until SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from bot.app import build_app
from bot.chat.slack_app import build_slack_app
from bot.chat.slack_transport import EVENTS_PATH, serve_http
from bot.settings import Settings, SlackSettings

TOKEN = "xoxb-fake-token"


async def serve(db: str, api_url: str, secret: str, url_file: Path) -> None:
    slack = SlackSettings(bot_token=TOKEN, signing_secret=secret, api_url=api_url, http_port=0)
    app = build_app(Settings(database=db, slack=slack))
    try:
        bolt = build_slack_app(slack, app.services())
        runner = await serve_http(bolt, "127.0.0.1", 0)
        host, port = runner.addresses[0][:2]
        await asyncio.to_thread(url_file.write_text, f"http://{host}:{port}{EVENTS_PATH}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        await stop.wait()
        await runner.cleanup()
    finally:
        app.close()


if __name__ == "__main__":
    db, api_url, secret, url_file = sys.argv[1:5]
    asyncio.run(serve(db, api_url, secret, Path(url_file)))
