"""The services a command handler uses, injected by the composition root (bot.app)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.digest import DigestCycle
from bot.feedback import Teach
from bot.pipeline.lexicon import Lexicon
from bot.pipeline.summarize import SUMMARY_CHARS
from bot.search import Search
from bot.store.archive import Archive
from bot.store.ledger import Ledger
from bot.store.profiles import ProfileStore
from bot.store.runs import DigestRuns
from handlers.ratelimit import RateLimiter


@dataclass(slots=True)
class Services:
    """Stores and engines shared by every handler. The store calls are blocking: handlers
    run them through bot.store.aio (in a worker thread) so a slow database never stalls the
    event loop (and the front-ends acknowledge the platform before any of it runs).
    `teach` takes the channel's votes on papers (bot.feedback). `limiter`, when set, limits
    each user's commands (settings `commands:`); the handlers never fetch a URL: nothing
    here can reach the network."""

    archive: Archive
    profiles: ProfileStore
    ledger: Ledger
    runs: DigestRuns
    search: Search
    lexicon: Callable[[], Lexicon]
    digests: DigestCycle
    teach: Teach
    clock: Callable[[], datetime]
    summary_chars: int = SUMMARY_CHARS
    limiter: RateLimiter | None = None
