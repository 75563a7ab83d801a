"""Shared machinery of the fake chat servers: an aiohttp app on 127.0.0.1, faults, buckets."""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .faults import BodyKind, Fault, FaultPlan

Clock = Callable[[], float]


class FakeServer:
    """A real HTTP server on ``127.0.0.1`` and a free port, for one test.

    Every request is counted by route name (`requests`) and offered to the fault plan
    (`faults`, replaceable at any time) before the platform handler sees it; `processed`
    counts those the platform handler has acted on. Subclasses
    add routes and say how the platform shapes a 429 and a 5xx.
    Time is read from the injected `clock` (``time.monotonic`` by default).
    """

    HOST = "127.0.0.1"
    SHUTDOWN_TIMEOUT = 0.5

    def __init__(self, *, faults: FaultPlan | None = None, clock: Clock = time.monotonic) -> None:
        self.faults = faults if faults is not None else FaultPlan.none()
        self.clock = clock
        self.requests: Counter[str] = Counter()
        # requests the platform acted on, by route name (a delayed answer may still be held)
        self.processed: Counter[str] = Counter()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.in_flight = 0  # requests being handled (a delayed one may outlive its client)
        self._idle = asyncio.Event()

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>`` (valid once started)."""
        if self._runner is None:
            raise RuntimeError(f"{type(self).__name__} is not started: use `async with`")
        return f"http://{self.HOST}:{self.port}"

    async def start(self) -> Self:
        app = web.Application(middlewares=[self._make_middleware()])
        self._add_routes(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=self.SHUTDOWN_TIMEOUT)
        await runner.setup()
        site = web.TCPSite(runner, self.HOST, 0)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self

    async def settle(self) -> None:
        """Wait until no request is being handled: a request the client gave up on (a
        ``delay`` fault) may still be processed after the client went on. Bound the wait
        with ``asyncio.timeout``."""
        while self.in_flight:
            self._idle.clear()
            await self._idle.wait()

    async def close(self) -> None:
        self._closing.set()  # wakes handlers sleeping in a delay fault
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- to override --------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def _route_name(self, request: web.Request) -> str:
        """The name faults and counters use: by default the route template, as discord.py's
        ``Route.key`` spells it (``"POST /channels/{channel_id}/messages"``)."""
        resource = request.match_info.route.resource
        path = resource.canonical if resource is not None else request.path
        return f"{request.method} {path}"

    def _rate_limited(self, request: web.Request, retry_after: float) -> web.StreamResponse:
        raise NotImplementedError

    def _server_error(self, request: web.Request, status: int) -> web.StreamResponse:
        raise NotImplementedError

    # -- fault injection ----------------------------------------------------------------

    def _make_middleware(self) -> Middleware:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            name = self._route_name(request)
            self.requests[name] += 1
            fault = self.faults.next(name)
            self.in_flight += 1

            async def process(request: web.Request) -> web.StreamResponse:
                response = await handler(request)
                self.processed[name] += 1
                return response

            try:
                if fault is None:
                    return await process(request)
                return await self._inject(fault, request, process)
            finally:
                self.in_flight -= 1
                if not self.in_flight:
                    self._idle.set()

        return middleware

    async def _inject(
        self, fault: Fault, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        if fault.kind == "rate_limit":
            return self._rate_limited(request, fault.retry_after)
        if fault.kind == "server_error":
            return self._server_error(request, fault.status)
        if fault.kind == "error_body":
            return foreign_error(fault.status, fault.body)
        if fault.kind == "delay":
            if fault.after:
                response = await handler(request)
                await self._sleep(fault.seconds)
                return response
            # The whole request has arrived: read it now, so a client that gives up during
            # the delay does not stop its processing (aiohttp would fail a later read).
            await request.read()
            await self._sleep(fault.seconds)
            return await handler(request)
        if fault.kind == "hang":  # held past the client's timeout, then dropped unprocessed
            await self._sleep(fault.seconds)
            self._drop(request, hard=False)
            return web.Response(status=204)  # never reaches the client
        # reset / disconnect: no response at all
        if fault.after:
            await handler(request)
        self._drop(request, hard=fault.kind == "reset")
        return web.Response(status=204)  # never reaches the client: the transport is gone

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when the server closes (so shutdown never waits)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    @staticmethod
    def _drop(request: web.Request, *, hard: bool) -> None:
        """Close the connection without a response. `hard` sets SO_LINGER 0 so the kernel
        sends RST (the client reads ECONNRESET); otherwise a plain FIN (the client reads an
        early EOF: ``ServerDisconnectedError``)."""
        transport = request.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if hard and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


@dataclass
class TokenBucket:
    """Per-key token bucket: `burst` tokens, refilled at `per_second`; `take` answers 0.0
    when a token was available, else the seconds until the next one."""

    per_second: float
    burst: int
    clock: Clock
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: str) -> float:
        now = self.clock()
        tokens, last = self._state.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.per_second)
        if tokens >= 1.0:
            self._state[key] = (tokens - 1.0, now)
            return 0.0
        self._state[key] = (tokens, now)
        return (1.0 - tokens) / self.per_second


@dataclass
class WindowBucket:
    """Per-key fixed window, as Discord advertises it: `limit` requests per `per` seconds.
    `take` returns (allowed, remaining, reset_after)."""

    limit: int
    per: float
    clock: Clock
    _state: dict[str, tuple[float, int]] = field(default_factory=dict)

    def take(self, key: str) -> tuple[bool, int, float]:
        now = self.clock()
        start, used = self._state.get(key, (now, 0))
        if now - start >= self.per:
            start, used = now, 0
        reset_after = max(0.0, self.per - (now - start))
        if used >= self.limit:
            self._state[key] = (start, used)
            return False, 0, reset_after
        used += 1
        self._state[key] = (start, used)
        return True, self.limit - used, reset_after


_HTML = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def foreign_error(status: int, body: BodyKind) -> web.Response:
    """An error answer from something in front of the platform (load balancer, proxy,
    CDN), not in the platform's own format: see `Fault` ``error_body``."""
    reason = web.Response(status=status).reason
    if body == "empty":
        return web.Response(status=status)
    if body == "text":
        return web.Response(status=status, text=f"upstream error: {status} {reason}")
    if body == "html":
        page = _HTML.format(status=status, reason=reason)
        return web.Response(status=status, text=page, content_type="text/html")
    # truncated JSON, labelled exactly application/json (what discord.py parses)
    return web.Response(
        status=status,
        body=b'{"ok": false, "error": "internal_err',
        headers={"Content-Type": "application/json"},
    )


def whole_seconds(seconds: float) -> str:
    """A Retry-After header value: whole seconds, rounded up (Slack and Discord send ints)."""
    return str(max(0, math.ceil(seconds)))
