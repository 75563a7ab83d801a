"""The one async interface to the stores: a coroutine reaches the archive, the ledger, the
digest runs, the channel profiles and the source state only through here, and every call
runs in a worker thread.

The event loop also answers chat commands, the Discord gateway and /healthz: a database
lock or a slow disk must never stall it. The stores themselves stay synchronous (one
transaction per call, usable from the CLI and from threads); coroutines hold them as an
`Async` view, or hand a unit of work that calls several of them to `run`. No coroutine of
bot/ or handlers/ calls a store any other way (tests/test_async_stores.py walks the code;
tests/reliability/test_event_loop.py checks a digest run at runtime).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, ParamSpec, TypeVar

S = TypeVar("S")
R = TypeVar("R")
P = ParamSpec("P")


class Async(Generic[S]):
    """A store seen from a coroutine: `await view(lambda s: s.method(...))` runs the call in
    a worker thread and returns its result (or raises its StoreError). `sync` is the store
    itself, for code that already runs in a worker thread (never call it from a coroutine)."""

    __slots__ = ("sync",)

    def __init__(self, store: S) -> None:
        self.sync = store

    async def __call__(self, call: Callable[[S], R]) -> R:
        return await asyncio.to_thread(call, self.sync)


async def run(work: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """`work(*args, **kwargs)` in a worker thread: one store call, or a unit of work that
    reads and writes several stores (and decides in between) without returning to the loop."""
    return await asyncio.to_thread(work, *args, **kwargs)
