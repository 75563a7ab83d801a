"""Retrieval (I/O) of source bytes: HTTP with retries, throttling, conditional GET; files."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Self
from urllib.parse import urlsplit
from urllib.request import url2pathname

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential, wait_random

from bot import __version__
from bot.errors import SourceError, is_dns_failure, network_cause
from bot.models import redact_url as redact_url  # where the sources and their callers look
from bot.sources.base import Fetched, Validators

log = logging.getLogger(__name__)

USER_AGENT = f"paperboy-bot/{__version__} (+https://github.com/paperboy-bot/paperboy)"
MAX_BYTES = 50 * 1024 * 1024
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` value (delta-seconds or HTTP-date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class HostThrottle:
    """Keeps a minimum interval between requests to the same host; other hosts wait never.

    Slots are reserved before sleeping, so concurrent callers are spaced too. Time comes
    only from the injected `clock` and `sleep`.
    """

    # arXiv's robots policy and API terms: "no more than one request every three seconds",
    # for every arXiv host we read (listing pages, the export API and the RSS feeds).
    ARXIV: ClassVar[Mapping[str, float]] = MappingProxyType(
        {"arxiv.org": 3.0, "export.arxiv.org": 3.0, "rss.arxiv.org": 3.0}
    )

    def __init__(
        self, intervals: Mapping[str, float] = ARXIV, *, clock: Clock, sleep: Sleep
    ) -> None:
        self._intervals = {host.lower(): seconds for host, seconds in intervals.items()}
        self._clock = clock
        self._sleep = sleep
        self._next_slot: dict[str, float] = {}

    async def wait(self, host: str) -> None:
        """Return when a request to `host` may be sent."""
        host = host.lower()
        interval = self._intervals.get(host)
        if not interval:
            return
        now = self._clock()
        start = max(now, self._next_slot.get(host, now))
        self._next_slot[host] = start + interval
        if start > now:
            await self._sleep(start - now)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries of 5xx, 429, timeouts and network errors.

    `attempts` counts the first try. Backoff is exponential (`backoff` * 2^n, at most
    `max_backoff`) plus up to `backoff` seconds of jitter; a `Retry-After` overrides it,
    capped at `max_retry_after`.
    """

    attempts: int = 4
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_retry_after: float = 120.0


class _Transient(SourceError):
    """A failure worth retrying now; `retry_after` is the server's wish, in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message, retryable=True)
        self.retry_after = retry_after


class _Closing:
    """`async with` support for a class with `aclose()`."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class HttpRetriever(_Closing):
    """Fetches http(s) URLs; a `bot.sources.base.Retriever`.

    Owns one aiohttp session, opened on the first fetch and closed by `aclose()` (or by
    `async with`). Raises `SourceError` for every failure; `retryable` is True for
    5xx/429/timeouts/network errors that persisted through `retry.attempts` tries, and for
    a host name that does not resolve (offline), which is not retried: it fails at once.
    Error messages carry the status and the URL passed through `redact_url`.
    """

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),
        host_intervals: Mapping[str, float] = HostThrottle.ARXIV,
        max_bytes: int = MAX_BYTES,
        user_agent: str = USER_AGENT,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._retry = retry
        self._throttle = HostThrottle(host_intervals, clock=clock, sleep=sleep)
        self._max_bytes = max_bytes
        self._user_agent = user_agent
        self._sleep = sleep
        self._backoff = wait_exponential(multiplier=retry.backoff, max=retry.max_backoff)
        self._jitter = wait_random(0, retry.backoff)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    async def aclose(self) -> None:
        """Close the session; the retriever cannot fetch afterwards."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, location: str, validators: Validators | None = None) -> Fetched:
        """GET `location` conditionally; a 304 gives `Fetched(not_modified=True)`."""
        try:
            parts = urlsplit(location)
            host = parts.hostname
        except ValueError:
            host = None
        if not host or parts.scheme.lower() not in ("http", "https"):
            raise SourceError(f"not an http(s) URL: {redact_url(location)}")
        headers = {}
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(location, host, headers, validators)
        except _Transient as e:
            raise SourceError(
                f"{e} (gave up after {self._retry.attempts} attempts)", retryable=True
            ) from e
        raise AssertionError("unreachable: tenacity neither returned nor raised")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, self._retry.max_retry_after)
        return self._backoff(state) + self._jitter(state)

    @staticmethod
    def _log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning("retrying in %.1fs (attempt %d): %s", delay, state.attempt_number, exc)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("HttpRetriever is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, headers={"User-Agent": self._user_agent}
            )
        return self._session

    async def _attempt(
        self, url: str, host: str, headers: dict[str, str], sent: Validators | None
    ) -> Fetched:
        shown = redact_url(url)
        await self._throttle.wait(host)
        try:
            async with self._get_session().get(url, headers=headers) as resp:
                if resp.status == 304:
                    return Fetched(url, b"", validators=_validators(resp, sent), not_modified=True)
                if resp.status == 429 or resp.status >= 500:
                    wait = retry_after_seconds(
                        resp.headers.get("Retry-After"), now=_response_date(resp)
                    )
                    raise _Transient(f"HTTP {resp.status} from {shown}", wait)
                if resp.status >= 300:
                    raise SourceError(f"HTTP {resp.status} from {shown}")
                body = await self._read_capped(resp, shown)
                content_type = resp.headers.get("Content-Type")
                new_validators = _validators(resp, None)
        except (aiohttp.InvalidURL, aiohttp.TooManyRedirects, aiohttp.NonHttpUrlClientError) as e:
            raise SourceError(f"cannot follow {shown}: {type(e).__name__}") from e
        except TimeoutError as e:
            raise _Transient(f"timed out fetching {shown}") from e
        except aiohttp.ClientResponseError as e:
            # Raised only for an answer that is not valid HTTP (statuses are checked above).
            # Its text holds the raw URL (secrets included) and the server's bytes: keep the
            # parser's reason only ("Bad status line").
            reason = (e.message or "").split(":", 1)[0].strip().splitlines()[:1]
            detail = f" ({reason[0][:80]})" if reason else ""
            raise _Transient(f"not a valid HTTP answer from {shown}{detail}") from e
        except aiohttp.ClientError as e:
            # in words ("connection refused: …"), not the exception's text (it may hold the
            # raw URL); a name that does not resolve (offline) is said once, not retried
            message = f"network error fetching {shown}: {network_cause(e)}"
            if is_dns_failure(e):
                raise SourceError(message, retryable=True) from e
            raise _Transient(message) from e
        if not body:
            raise SourceError(f"empty response from {shown}", retryable=True)
        return Fetched(url, body, content_type=content_type, validators=new_validators)

    async def _read_capped(self, resp: aiohttp.ClientResponse, shown: str) -> bytes:
        too_big = SourceError(f"response from {shown} exceeds {self._max_bytes} bytes")
        if resp.content_length is not None and resp.content_length > self._max_bytes:
            raise too_big
        body = bytearray()
        async for chunk in resp.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > self._max_bytes:
                raise too_big
        return bytes(body)


def _validators(resp: aiohttp.ClientResponse, sent: Validators | None) -> Validators:
    """The response's validators; on a 304, those sent fill in what it does not repeat."""
    sent = sent or Validators()
    return Validators(
        etag=resp.headers.get("ETag") or sent.etag,
        last_modified=resp.headers.get("Last-Modified") or sent.last_modified,
    )


def _response_date(resp: aiohttp.ClientResponse) -> datetime:
    """The server's `Date` (so an HTTP-date Retry-After needs no local clock), else now."""
    try:
        date = parsedate_to_datetime(resp.headers.get("Date", ""))
    except (TypeError, ValueError):
        return datetime.now(UTC)
    return date if date.tzinfo else date.replace(tzinfo=UTC)


class FileRetriever:
    """Reads local paths and `file://` URLs in a worker thread; a `Retriever`.

    Validators: the ETag is a pseudo-ETag `"<mtime_ns hex>-<size hex>"` of the file, so
    fetching with the validators of the previous fetch reports `not_modified` while the
    file is unchanged (same mtime and size). Raises `SourceError` (not retryable) for a
    missing, unreadable, empty or oversized file, a directory, and anything that is not a
    regular file (a FIFO, a device, a socket), at once: they are never opened for
    blocking reads. Holds nothing open.
    """

    def __init__(self, *, max_bytes: int = MAX_BYTES) -> None:
        self._max_bytes = max_bytes

    async def fetch(self, location: str, validators: Validators | None = None) -> Fetched:
        path = _local_path(location)
        etag, content = await asyncio.to_thread(self._read, path, validators)
        if content is None:
            return Fetched(location, b"", None, Validators(etag=etag), not_modified=True)
        return Fetched(location, content, None, Validators(etag=etag))

    def _read(self, path: Path, validators: Validators | None) -> tuple[str, bytes | None]:
        try:
            # Look before opening: opening a FIFO blocks until a writer comes, a device may
            # act on open. O_NONBLOCK covers a path swapped in between; fstat decides.
            _refuse_special(path, os.stat(path).st_mode)
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(f.fileno())
                _refuse_special(path, st.st_mode)
                os.set_blocking(fd, True)
                etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
                if validators and validators.etag == etag:
                    return etag, None
                if st.st_size > self._max_bytes:
                    raise SourceError(f"file {path} exceeds {self._max_bytes} bytes")
                content = f.read()
        except FileNotFoundError as e:
            raise SourceError(f"no such file: {path}") from e
        except IsADirectoryError as e:
            raise SourceError(f"is a directory, not a file: {path}") from e
        except PermissionError as e:
            raise SourceError(f"permission denied reading {path}") from e
        except OSError as e:
            raise SourceError(f"cannot read {path}: {e.strerror or e}") from e
        except ValueError as e:  # a NUL in the path
            raise SourceError(f"not a usable file path: {str(path)[:200]!r}") from e
        if not content:
            raise SourceError(f"empty file: {path}")
        return etag, content


_SPECIAL = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _refuse_special(path: Path, mode: int) -> None:
    """Raise `SourceError` unless `mode` is a regular file's (a directory raises
    IsADirectoryError, as opening one would)."""
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(str(path))
    what = next((name for test, name in _SPECIAL if test(mode)), "not a file")
    raise SourceError(
        f"not a regular file: {path} is {what}; give a file saved to disk (or an http(s) URL)"
    )


def _local_path(location: str) -> Path:
    parts = urlsplit(location)
    if parts.scheme.lower() != "file":
        try:
            return Path(location).expanduser()
        except RuntimeError as e:  # `~name` of an unknown user
            raise SourceError(f"cannot expand {location[:200]!r}: unknown user") from e
    if parts.netloc not in ("", "localhost"):
        raise SourceError(f"file URL on another host is not supported: {redact_url(location)}")
    return Path(url2pathname(parts.path))


class AnyRetriever(_Closing):
    """Dispatches by scheme: http(s) to an `HttpRetriever`, paths and `file://` to a file one.

    Owns the `HttpRetriever` it holds: `aclose()` (or `async with`) closes it. Any other
    scheme raises `SourceError`.
    """

    def __init__(
        self, http: HttpRetriever | None = None, file: FileRetriever | None = None
    ) -> None:
        self.http = http or HttpRetriever()
        self.file = file or FileRetriever()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def fetch(self, location: str, validators: Validators | None = None) -> Fetched:
        scheme = urlsplit(location).scheme.lower()
        if scheme in ("http", "https"):
            return await self.http.fetch(location, validators)
        if scheme in ("", "file") or len(scheme) == 1:  # one letter: a Windows drive
            return await self.file.fetch(location, validators)
        raise SourceError(f"unsupported scheme {scheme!r} in {redact_url(location)}")
