"""The one exception hierarchy of Paperboy; foreign errors are translated at the boundary."""

from __future__ import annotations

import errno
import re
import socket


class PaperboyError(Exception):
    """Base of every error Paperboy raises on purpose; its message is safe to show a user."""


class ConfigError(PaperboyError):
    """The configuration file is missing, unreadable or invalid (exit status 2)."""


class SourceError(PaperboyError):
    """A source could not be retrieved or its content is not a feed/dump/API answer.

    `retryable` tells the caller whether a later attempt may succeed (network, 5xx, 429).
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class StoreError(PaperboyError):
    """The archive database failed or has an unexpected schema.

    Raised `from` the database's own error, its message ends with what that error means
    and what to do (`database_advice`): "… failed: OperationalError: disk full: free space
    on the disk holding data/paperboy.db and run again"."""

    def __str__(self) -> str:
        message = _without_sql(super().__str__())
        advice = database_advice(self.__cause__)
        return f"{message}: {advice}" if advice and advice not in message else message


# SQLAlchemy's own text of an error carries the statement and its parameters (paper text,
# tokens) and a link: a StoreError that embeds it keeps only the driver's first line.
_SQL_DETAIL = re.compile(r"\s*\[SQL: .*?(?:\(Background on this error at: [^)]*\)|\Z)", re.DOTALL)
_BACKGROUND = re.compile(r"\s*\(Background on this error at: [^)]*\)")


def _without_sql(message: str) -> str:
    # the driver's further lines (libpq's "\tIs the server running…", "DETAIL: Key (…)=(…)"
    # with the row's values) go too: one line, no data
    first = _BACKGROUND.sub("", _SQL_DETAIL.sub("", message)).strip().split("\n", 1)[0]
    return first.rstrip()


# Where a database error happened, set on SQLAlchemy's exception by the engine
# (bot.store.db): the SQLite file, or the PostgreSQL server and database (no password).
LOCATION = "paperboy_database"


def database_advice(error: BaseException | None) -> str | None:
    """What a database error means and what to do, for the conditions a user can act on
    (a full disk, a damaged file, a read-only file, an I/O error, an unreachable server);
    None for any other error. Built from error codes only: never from the driver's
    message, which may carry SQL and its parameters (paper text)."""
    if error is None:
        return None
    orig = getattr(error, "orig", None) or error
    where = getattr(error, LOCATION, None) or "the database"
    name = str(getattr(orig, "sqlite_errorname", "") or "")
    state = str(getattr(orig, "sqlstate", "") or "")
    errno = getattr(orig, "errno", None)
    if name.startswith("SQLITE_FULL") or state == "53100" or errno == 28:  # ENOSPC
        return f"disk full: free space on the disk holding {where} and run again"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return (
            f"database file is damaged: {where}; restore it from a backup (`sqlite3 {where} "
            "'.recover' > saved.sql` saves what can still be read), then check it with "
            "`paperboy status`"
        )
    if state in ("XX001", "XX002"):
        return (
            f"database is damaged: {where} (data or index corrupted); restore it from a "
            "backup, then check it with `paperboy status`"
        )
    if name.startswith("SQLITE_READONLY") or state == "25006" or errno == 30:  # EROFS
        return f"database is read-only: {where}; make it writable and run again"
    if name.startswith("SQLITE_IOERR") or errno == 5:  # EIO
        return f"cannot read or write {where} (I/O error): check the disk, then run again"
    if name.startswith("SQLITE_CANTOPEN"):
        return f"cannot open {where}: check that its folder exists and is writable"
    if not state and getattr(getattr(orig, "pgconn", None), "status", None) == 1:
        # psycopg could not connect (CONNECTION_BAD, no SQLSTATE): refused, unknown
        # host, timeout, or a password refused before any session began
        return (
            f"cannot connect to {where}: check that the server runs and accepts "
            "connections there (host, port, user and password), then run again"
        )
    if state.startswith("08") or state == "57P01":
        return f"lost the connection to {where}: check that the server runs, then run again"
    return None


class DeliveryError(PaperboyError):
    """A message could not be delivered.

    `permanent` is True when retrying cannot help (bad token, unknown channel, no access);
    the channel is then reported and skipped until the operator fixes it.

    `offline` marks a failure that retrying within seconds cannot fix either (the host's
    name does not resolve: no network, or a wrong host): the message is not retried now,
    and the next run tries again (unlike `permanent`, the channel is not blamed).
    """

    def __init__(self, message: str, *, permanent: bool = False, offline: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.offline = offline


# What a failed connection means, said in words: the network library's exception (aiohttp's
# ClientConnectorError and its kin, an OSError, a TimeoutError) read by its attributes only,
# so the domain needs no HTTP library. Never its message: an invalid URL's is the URL.
_OS_CAUSES = {
    errno.ECONNREFUSED: "connection refused: is anything listening there?",
    errno.ECONNRESET: "connection reset",
    errno.EHOSTUNREACH: "no route to the host",
    errno.ENETUNREACH: "network unreachable: offline?",
    errno.ETIMEDOUT: "connection timed out",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed while sending",
}
_CLASS_CAUSES = {
    "ServerDisconnectedError": "the server closed the connection before answering",
    "ClientPayloadError": "the answer was cut off",
    "ClientConnectorCertificateError": "its TLS certificate was not accepted",
    "ClientConnectorSSLError": "the TLS handshake failed",
    "ClientSSLError": "the TLS handshake failed",
    "TooManyRedirects": "too many redirects",
    "InvalidURL": "not a valid URL",
    "InvalidUrlClientError": "not a valid URL",
    "NonHttpUrlClientError": "not an http(s) URL",
}


def is_dns_failure(error: BaseException | None) -> bool:
    """True when `error` (or the OS error it wraps) is a failed host-name lookup: offline,
    or a host that does not exist. Retrying within seconds does not help."""
    cause = getattr(error, "os_error", None) or error
    return isinstance(cause, socket.gaierror) or type(error).__name__ == "ClientConnectorDNSError"


def network_cause(error: BaseException) -> str:
    """A few words on why a connection failed ("connection refused: is anything listening
    there?", "cannot resolve discord.com: offline, or a wrong host?", "timed out"), from the
    exception's type and OS error number; the class name when nothing more is known."""
    host = getattr(error, "host", None)
    if is_dns_failure(error):
        name = f" {host}" if host else " the host name"
        return f"cannot resolve{name}: offline, or a wrong host?"
    if isinstance(error, TimeoutError) or type(error).__name__ in (
        "ServerTimeoutError",
        "ConnectionTimeoutError",
        "SocketTimeoutError",
    ):
        return "timed out"
    for cls in type(error).__mro__:
        if cls.__name__ in _CLASS_CAUSES:
            return _CLASS_CAUSES[cls.__name__]
    os_error = getattr(error, "os_error", None) or (error if isinstance(error, OSError) else None)
    number = getattr(os_error, "errno", None)
    if number in _OS_CAUSES:
        return _OS_CAUSES[number]
    if isinstance(os_error, OSError) and os_error.strerror:
        return os_error.strerror[:1].lower() + os_error.strerror[1:]
    return type(error).__name__


def network_address(error: BaseException) -> str | None:
    """`host:port` of the connection that failed, when the exception knows it."""
    host, port = getattr(error, "host", None), getattr(error, "port", None)
    if not host:
        return None
    return f"{host}:{port}" if port else str(host)


def unreachable_text(service: str, error: BaseException, what: str = "") -> str:
    """`Discord unreachable at 127.0.0.1:9 posting to discord:1 (connection refused: is
    anything listening there?)`: the service, where, what was being done, why."""
    address = network_address(error)
    at = f" at {address}" if address and not is_dns_failure(error) else ""
    doing = f" {what}" if what else ""
    return f"{service} unreachable{at}{doing} ({network_cause(error)})"
