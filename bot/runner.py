"""`paperboy run`: wire the service, the chat front-ends and the health endpoint, run until
SIGTERM/SIGINT, shut down cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from aiohttp import web

from bot.app import build_app, build_deliveries, utc_now
from bot.chat.discord_app import start_discord
from bot.chat.slack_app import start_slack
from bot.delivery.base import Delivery
from bot.errors import PaperboyError, StoreError
from bot.health import start_health
from bot.service import Frontend, Service
from bot.settings import Settings
from bot.sources.retrieve import AnyRetriever
from bot.store.db import integrity_problem
from handlers.services import Services

log = logging.getLogger(__name__)


async def start_frontends(settings: Settings, services: Services) -> list[Frontend]:
    """Every chat front-end that has credentials. A platform without them, or whose
    credentials are refused, is reported once and left out; the others run. Discord's
    gateway is left to another replica when `discord.gateway` is false."""
    frontends: list[Frontend] = []
    starters: list[tuple[str, bool, Callable[[], Awaitable[Frontend]]]] = [
        (
            "Slack",
            settings.slack.bot_token is not None,
            lambda: start_slack(settings.slack, services),
        ),
        (
            "Discord",
            settings.discord.bot_token is not None,
            lambda: start_discord(settings.discord, services),
        ),
    ]
    for name, configured, start in starters:
        if not configured:
            log.info("%s /papers off: no bot token configured", name, extra={"event": "frontend"})
            continue
        if name == "Discord" and not settings.discord.gateway:
            log.info(
                "Discord /papers off on this replica: discord.gateway is false "
                "(another replica runs the gateway); posting is on",
                extra={"event": "frontend"},
            )
            continue
        try:
            frontends.append(await start())
        except Exception as e:  # one platform failing must not stop the others
            reason = str(e) if isinstance(e, PaperboyError) else f"{e.__class__.__name__}: {e}"
            log.error("%s /papers off: %s", name, reason, extra={"event": "frontend"})
    return frontends


async def close_deliveries(deliveries: Iterable[Delivery]) -> None:
    """Close every delivery's HTTP session (each on its own: one failing to close does
    not leave the others open)."""
    for delivery in deliveries:
        try:
            await delivery.aclose()
        except Exception:
            log.exception("closing a delivery failed", extra={"event": "stop"})


async def serve(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    stop: asyncio.Event | None = None,
) -> int:
    """Run until `stop` is set or SIGTERM/SIGINT arrives; return the exit status (0 after
    a clean shutdown). Raises PaperboyError when the database cannot be opened or is
    damaged (SQLite: bot.store.db.integrity_problem)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    app = build_app(settings, clock=clock)
    # A damaged SQLite file is refused at start, as `paperboy status` reports it (every
    # page read once), rather than found by the first digest that reads a damaged page.
    problem = await asyncio.to_thread(integrity_problem, app.engine)
    if problem is not None:
        app.close()
        raise StoreError(problem)
    # which channels the configuration created, changed, removed or restored
    log.info(app.seed_report.summary(), extra={"event": "start"})
    health: web.AppRunner | None = None
    deliveries: dict[str, Delivery] = {}
    try:
        deliveries = build_deliveries(settings)
        async with AnyRetriever() as retriever:
            service = Service(app, deliveries, retriever, clock)
            service.frontends = await start_frontends(settings, app.services())
            if settings.health.port is not None:
                health = await start_health(
                    app,
                    lambda: service.scheduler.running,
                    settings.health.host,
                    settings.health.port,
                )
                log.info(
                    "health endpoint on http://%s:%d/healthz",
                    settings.health.host,
                    settings.health.port,
                    extra={"event": "start"},
                )
            await service.start()
            await stop.wait()
            log.info("shutting down", extra={"event": "stop"})
            await service.stop()
    finally:
        if health is not None:
            await health.cleanup()
        await close_deliveries(deliveries.values())
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        app.close()
    return 0
