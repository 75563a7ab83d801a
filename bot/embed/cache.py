"""Encoded texts kept on disk, so a restart or the next cycle does not encode the archive's
terms again: a SQLite file (one row per model and text, the vector as float32 bytes) in
front of any encoder. Only texts never encoded with the model reach the model."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.embed.encoder import require, similarities

try:  # the optional extra (`require` says what it adds when it is missing)
    import numpy as np
except ImportError:  # pragma: no cover
    np = None  # type: ignore[assignment]

Array = Any


class DiskCache:
    """An encoder (`encode`, `similarities`) that remembers vectors in SQLite file `path`
    under the model's `name`; the vectors of a run are also kept in memory."""

    def __init__(self, encoder: Any, path: str | Path, name: str) -> None:
        require()
        self._encoder = encoder
        self._name = name
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, text TEXT NOT NULL, "
            "vector BLOB NOT NULL, PRIMARY KEY (model, text))"
        )
        self._db.commit()
        self._lock = threading.Lock()
        self.encoded = 0  # texts this cache had to encode (for tests and measurements)

    def similarities(self, query: Array, vectors: Sequence[Array]) -> list[float]:
        return similarities(query, vectors)

    def encode(self, texts: Sequence[str]) -> list[Array]:
        found: dict[str, Array] = {}
        unique = list(dict.fromkeys(texts))
        with self._lock:
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT text, vector FROM vectors WHERE model = ? AND text IN ({marks})",
                    (self._name, *chunk),
                )
                for text, blob in rows:
                    found[text] = np.frombuffer(blob, dtype=np.float32)
        missing = [t for t in unique if t not in found]
        if missing:
            vectors = self._encoder.encode(missing)
            self.encoded += len(missing)
            found.update(zip(missing, vectors, strict=True))
            with self._lock:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors (model, text, vector) VALUES (?, ?, ?)",
                    [
                        (self._name, t, np.asarray(v, dtype=np.float32).tobytes())
                        for t, v in zip(missing, vectors, strict=True)
                    ],
                )
                self._db.commit()
        return [found[t] for t in texts]

    def close(self) -> None:
        with self._lock:
            self._db.close()
