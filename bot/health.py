"""The optional HTTP health endpoint of `paperboy run`: GET /healthz."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from bot.app import App
from bot.status import collect_status
from bot.store.db import describe


async def start_health(app: App, alive: Callable[[], bool], host: str, port: int) -> web.AppRunner:
    """Serve GET /healthz on host:port: 200 with the status JSON while `alive()` (the
    scheduler runs and the database answers), else 503. A failing channel or source is
    listed but does not make the process unhealthy: restarting would not fix it."""

    async def healthz(_: web.Request) -> web.Response:
        try:
            status = await asyncio.to_thread(collect_status, app)
        except Exception as e:
            # what is wrong and what to do, in one line, as `paperboy status` says it
            # (describe: never the driver's message, which may carry SQL and paper text)
            problem = " ".join(describe(e).split())
            return web.json_response(
                {
                    "ok": False,
                    "error": f"database: {problem}",
                    "database": problem,
                    "failing": ["database"],
                    "degraded": True,
                },
                status=503,
            )
        ok = alive()
        return web.json_response({"ok": ok, **status.as_json()}, status=200 if ok else 503)

    web_app = web.Application()
    web_app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
