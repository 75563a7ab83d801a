"""CPU-bound work split with one forked process (`both`): the child sees this process's
data copy-on-write (nothing is sent to it) and sends back only its result, pickled.

For pure work over data already in memory (a digest cycle's topics over its indexed
papers). Whatever happens to the child (no fork on this platform, an exception, a crash,
a result that does not arrive within the patience), the same work is done here instead:
the result is always the one of `theirs()`, only the time differs.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import struct
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

A = TypeVar("A")
B = TypeVar("B")

# The child's result may come this many times as late as this process's own part (plus
# PATIENCE_FLOOR seconds) before it is given up and computed here.
PATIENCE = 3.0
PATIENCE_FLOOR = 10.0
# Items of the child's result pickled together: each part is unpickled in one call, which
# holds the GIL (an event loop in another thread waits that long; ~1 ms for 64 topics).
PART = 64
_SIZE = struct.Struct("<Q")


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def both(theirs: Callable[[], Sequence[A]], mine: Callable[[], B]) -> tuple[list[A], B]:
    """`(list(theirs()), mine())`, `theirs` computed in a forked child while this process
    computes `mine`. `theirs` must be pure (its effects stay in the child) and return
    picklable items; it must not need a lock another thread may hold (the child has only
    this thread). Without a second core or without fork, both run here, one after the
    other."""
    if cores() < 2 or not hasattr(os, "fork"):
        return list(theirs()), mine()
    read, write = os.pipe()
    # The collector of either process would touch every object of the other's heap (their
    # headers), copying the shared pages: the child runs without it, and the objects that
    # exist now are out of the parent's collections until the child is done.
    gc.freeze()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, leave without any cleanup of the parent's
        code = 1
        try:
            gc.disable()
            _quiet_signals()
            os.close(read)
            items = list(theirs())
            with os.fdopen(write, "wb") as out:
                for at in range(0, len(items), PART):
                    data = pickle.dumps(items[at : at + PART], protocol=pickle.HIGHEST_PROTOCOL)
                    out.write(_SIZE.pack(len(data)) + data)
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    received: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(read, received), daemon=True)
    reader.start()
    start = time.monotonic()
    try:
        result = mine()
    finally:
        reader.join(PATIENCE_FLOOR + PATIENCE * (time.monotonic() - start))
        if reader.is_alive():  # stuck or too slow: give up on it
            os.kill(pid, signal.SIGKILL)
            reader.join()
        _, status = os.waitpid(pid, 0)
        gc.unfreeze()
    if status == 0 and received:
        try:
            return _parts(received[0]), result
        except Exception:  # a damaged result: computed here instead
            pass
    return list(theirs()), result


def _quiet_signals() -> None:
    """In the child: a signal ends it as by default, and is not passed on to the parent's
    event loop (asyncio's wakeup file descriptor is shared across the fork)."""
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
    except (ValueError, OSError):  # not the main thread here: leave them
        pass


def _parts(data: bytes) -> list[Any]:
    """The items of the child's length-prefixed pickled parts, one part at a time."""
    out: list[Any] = []
    at = 0
    view = memoryview(data)
    while at < len(data):
        (size,) = _SIZE.unpack_from(view, at)
        at += _SIZE.size
        if at + size > len(data):
            raise ValueError("truncated")
        out += pickle.loads(view[at : at + size])
        at += size
    return out


def _read_all(fd: int, into: list[bytes]) -> None:
    with os.fdopen(fd, "rb") as f:
        into.append(f.read())
