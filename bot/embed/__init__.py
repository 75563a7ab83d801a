"""Adapters to sentence-embedding models (the optional extra `paperboy-bot[semantic]`):
`open_encoder` loads the configured model (bot.embed.encoder, numpy only) behind a disk
cache of encoded texts (bot.embed.cache). Importing this package needs no extra; opening
an encoder without it raises a ConfigError saying what the extra adds."""

from __future__ import annotations

from pathlib import Path

from bot.embed.encoder import EXTRA_HINT, MiniLM, available, require
from bot.pipeline.semantic import Encoder

__all__ = ["EXTRA_HINT", "MiniLM", "available", "open_encoder", "require"]


def open_encoder(model: str, cache: str | Path | None = None) -> Encoder:
    """The model `model` (package, directory or hub name), its vectors cached in SQLite
    file `cache` when given. ConfigError when the extra or the model is missing."""
    from bot.embed.cache import DiskCache

    encoder = MiniLM.load(model)
    return encoder if cache is None else DiskCache(encoder, cache, model)
