"""Which process holds a ledger reservation, and whether that process is gone (Linux).

A reservation names its owner as `host/boot/pidns/pid/start`: the host name, this boot of
the kernel, the PID namespace, the process id and its start time (clock ticks since boot).
Together they name one process for ever: a restarted service gets the same pid in a new
container, or a recycled pid, but never the same start time.

`gone(owner)` is True only when the owner provably no longer runs: same host, same boot,
same PID namespace, and its pid is absent, a zombie, or a process started at another time.
Anything else (another machine or container, a reboot, a system without /proc) is unknown
and False: the reservation's lease decides then.
"""

from __future__ import annotations

import functools
import os
import re
import socket
from pathlib import Path

PROC = Path("/proc")
_UNSAFE = re.compile(r"[^A-Za-z0-9.\-]")  # kept out: ':' '/' '@' and LIKE wildcards


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, start time) of `pid` from /proc/<pid>/stat, or None when it does not exist."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # after "pid (comm) "
    try:
        return fields[0], int(fields[19])  # state, starttime (fields 3 and 22 of stat)
    except (IndexError, ValueError):
        return None


@functools.cache
def _host() -> tuple[str, str, str] | None:
    """(host name, boot id, PID namespace) of this process, or None without /proc."""
    try:
        boot = (PROC / "sys/kernel/random/boot_id").read_text().strip().replace("-", "")
        namespace = os.readlink(PROC / "self/ns/pid")
    except OSError:
        return None
    ns = "".join(ch for ch in namespace if ch.isdigit())
    return _UNSAFE.sub("-", socket.gethostname())[:64] or "-", boot[:16], ns


def this_process() -> str | None:
    """The owner name of this process, or None where processes cannot be told apart."""
    host = _host()
    stat = _stat(os.getpid())
    if host is None or stat is None:
        return None
    return "/".join([*host, str(os.getpid()), str(stat[1])])


def gone(owner: str) -> bool:
    """True when `owner` (a `this_process()` name) provably runs no more."""
    parts = owner.split("/")
    here = _host()
    if len(parts) != 5 or here is None or tuple(parts[:3]) != here:
        return False
    try:
        pid, start = int(parts[3]), int(parts[4])
    except ValueError:
        return False
    stat = _stat(pid)
    return stat is None or stat[0] in {"Z", "X"} or stat[1] != start
