"""Adapters to sentence-embedding models (the optional extra `paperboy-bot[semantic]`):
`open_encoder` loads the configured model (bot.embed.encoder, numpy only) behind a disk
cache of encoded texts (bot.embed.cache). Importing this package needs no extra; opening
an encoder without it raises a ConfigError saying what the extra adds."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot.embed.encoder import EXTRA_HINT, MiniLM, available, require
from bot.errors import PaperboyError
from bot.pipeline.semantic import Encoder

__all__ = [
    "EXTRA_HINT",
    "LazyEncoder",
    "MiniLM",
    "available",
    "default_cache",
    "open_encoder",
    "require",
]

log = logging.getLogger(__name__)


def open_encoder(model: str, cache: str | Path | None = None) -> Encoder:
    """The model `model` (package, directory or hub name), its vectors cached in SQLite
    file `cache` when given. ConfigError when the extra or the model is missing."""
    from bot.embed.cache import DiskCache

    encoder = MiniLM.load(model)
    return encoder if cache is None else DiskCache(encoder, cache, model)


def default_cache(database: str) -> Path | None:
    """embeddings.sqlite beside a SQLite database file; None for any other database."""
    if "://" in database or database == ":memory:":
        return None
    return Path(database).expanduser().parent / "embeddings.sqlite"


class LazyEncoder:
    """An Encoder opened on first use (`opener()`, e.g. loading the model: seconds and
    ~90 MB), in whichever thread first encodes, never when it is built. A model that cannot
    be opened is said once (logged as an error) and then means nothing: every similarity is
    0, so no term is related and the matcher has its lexical evidence only."""

    def __init__(self, opener: Callable[[], Any]) -> None:
        self._opener = opener
        self._encoder: Any = None
        self.error: str | None = None
        self._lock = threading.Lock()

    @property
    def opened(self) -> bool:
        return self._encoder is not None

    def _get(self) -> Any:
        with self._lock:
            if self._encoder is None and self.error is None:
                try:
                    self._encoder = self._opener()
                except PaperboyError as e:
                    self.error = str(e)
                    log.error("semantic evidence is off: %s", e)
            return self._encoder

    def encode(self, texts: Sequence[str]) -> Sequence[Any]:
        encoder = self._get()
        return [None] * len(texts) if encoder is None else encoder.encode(texts)

    def similarities(self, query: Any, vectors: Sequence[Any]) -> list[float]:
        encoder = self._get()
        if encoder is None or query is None:
            return [0.0] * len(vectors)
        return list(encoder.similarities(query, vectors))

    def close(self) -> None:
        """Close the opened encoder's disk cache, if any."""
        with self._lock:
            close = getattr(self._encoder, "close", None)
            if callable(close):
                close()
