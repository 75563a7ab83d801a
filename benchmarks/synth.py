"""Realistic synthetic papers, channel profiles and search queries, deterministic by seed.

Distributions come from the seed dumps (`data/seeds.json`, written by
`python -m benchmarks.calibrate`): title and abstract lengths, sentence lengths, the words
of titles and abstracts with their frequencies, the share of "Name: …" titles and how
many acronyms a paper defines. On top of that:

- a vocabulary of research topics (`TOPICS` = 2,000 by default): the acronym definitions
  of the seeds plus modifier + head phrases ("graph neural networks", "speech
  recognition"), half of the multi-word ones with an acronym; popularity is Zipfian, so a
  few topics are everywhere and most are rare (the long tail);
- each paper is about one topic (sometimes two or three): in its title more often than
  not, defined once in its abstract ("Mixture-of-Experts (MoE)"), then mentioned by
  acronym or long form, hyphenated or not, singular or plural;
- rare words (model names, pseudo-words) from a log-uniform tail of millions, so the
  archive's vocabulary keeps growing with its size as real archives' do (Heaps' law);
- channel profiles: 5 topics and 1 exclusion each, typed as people type them (lower
  case, acronyms, variants, now and then a typo);
- search queries: topics, acronyms, typos, author names, title fragments, sentences,
  and hostile input (quotes, `C++`, `NOT`, emoji, arXiv ids).
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.models import Paper, Profile

DATA = Path(__file__).resolve().parent / "data" / "seeds.json"
TOPICS = 2_000
ZIPF_S = 1.0  # topic popularity: rank r has weight 1 / r**s
EPOCH = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)

# Research vocabulary the topic phrases are made of (heads are what a topic is; modifiers
# narrow it). Lower case, as a user would type them.
HEADS = (
    "learning", "translation", "recognition", "generation", "retrieval", "segmentation",
    "detection", "classification", "summarization", "reasoning", "alignment", "attention",
    "transformers", "networks", "models", "agents", "planning", "control", "synthesis",
    "compression", "quantization", "pruning", "distillation", "tokenization", "decoding",
    "embeddings", "representations", "pretraining", "fine-tuning", "adaptation", "editing",
    "evaluation", "benchmarks", "datasets", "search", "optimization", "sampling", "inference",
    "estimation", "tracking", "captioning", "grounding", "parsing", "tagging", "correction",
    "understanding", "answering", "forecasting", "simulation", "navigation", "manipulation",
    "localization", "reconstruction", "rendering", "restoration", "enhancement", "separation",
    "diarization", "verification", "attribution", "auditing", "unlearning", "watermarking",
    "steering", "routing", "merging", "scaling", "caching", "serving", "scheduling", "parallelism",
    "privacy", "fairness", "robustness", "safety", "hallucination", "calibration",
    "interpretability", "memorization", "compositionality", "generalization", "transfer",
    "augmentation", "labeling", "annotation", "curation", "filtering", "ranking", "recommendation",
    "dialogue", "translation models", "question answering", "entity linking", "program synthesis",
    "code completion", "theorem proving", "protein design", "drug discovery", "weather forecasting",
)  # fmt: skip
MODIFIERS = (
    "neural", "graph", "contrastive", "federated", "continual", "multi-task", "multilingual",
    "multimodal", "cross-lingual", "zero-shot", "few-shot", "self-supervised", "semi-supervised",
    "unsupervised", "reinforcement", "offline", "online", "sparse", "dense", "efficient",
    "low-rank", "parameter-efficient", "instruction", "preference", "reward", "causal",
    "probabilistic", "bayesian", "variational", "adversarial", "robust", "private",
    "differentially private", "secure", "distributed", "on-device", "edge", "long-context",
    "retrieval-augmented", "tool-augmented", "speech", "audio", "music", "video", "image", "3d",
    "point cloud", "scene", "text", "document", "table", "code", "math", "chemical", "molecular",
    "protein", "genomic", "clinical", "medical", "biomedical", "legal", "financial", "scientific",
    "educational", "conversational", "open-domain", "open-vocabulary", "visual", "spatial",
    "temporal", "hierarchical", "compositional", "symbolic", "neuro-symbolic", "geometric",
    "physics-informed", "diffusion", "autoregressive", "generative", "discriminative",
    "energy-based", "mixture-of-experts", "state space", "recurrent", "convolutional",
    "attention-based", "kernel", "linear", "quantum", "evolutionary", "embodied", "robotic",
    "autonomous", "driving", "satellite", "remote sensing", "medical image", "speech emotion",
    "spoken language", "sign language", "low-resource", "dialect", "named entity", "relation",
    "event", "knowledge graph", "commonsense", "mathematical", "chain-of-thought", "in-context",
    "test-time", "curriculum", "active", "meta", "transfer", "domain", "out-of-distribution",
    "long-tail", "imbalanced", "noisy", "weakly supervised", "human", "llm", "vision-language",
    "text-to-image", "text-to-speech", "speech-to-text", "image-to-text", "synthetic", "real-time",
    "streaming", "incremental", "hardware-aware",
)  # fmt: skip
SINGLE_TOPICS = (
    "speech", "medical", "robotics", "diffusion", "quantization", "hallucination", "retrieval",
    "alignment", "agents", "reasoning", "multilinguality", "tokenizers", "benchmarks",
    "interpretability", "privacy", "fairness", "watermarking", "unlearning", "distillation",
    "pruning", "summarization", "translation", "parsing", "captioning", "segmentation", "tracking",
    "navigation", "chemistry", "biology", "genomics", "astronomy", "climate", "finance", "law",
    "education", "healthcare", "radiology", "pathology", "music", "audio", "video", "3d", "graphs",
    "tabular", "time series", "optimization", "sampling", "federated", "quantum", "compilers",
    "databases",
)  # fmt: skip
# The most followed topics, most popular first (rank 0 has the largest share of papers).
POPULAR: tuple[tuple[str, str | None], ...] = (
    ("large language models", "LLMs"),
    ("diffusion models", None),
    ("reinforcement learning", "RL"),
    ("mixture-of-experts", "MoE"),
    ("retrieval-augmented generation", "RAG"),
    ("vision-language models", "VLMs"),
    ("multi-task learning", "MTL"),
    ("machine translation", "MT"),
    ("speech", None),
    ("chain-of-thought", "CoT"),
    ("instruction tuning", None),
    ("code generation", None),
    ("medical", None),
    ("direct preference optimization", "DPO"),
    ("knowledge distillation", "KD"),
    ("graph neural networks", "GNNs"),
    ("automatic speech recognition", "ASR"),
    ("text-to-image generation", None),
    ("federated learning", "FL"),
    ("low-rank adaptation", "LoRA"),
    ("in-context learning", "ICL"),
    ("question answering", "QA"),
    ("named entity recognition", "NER"),
    ("spelling correction", None),
    ("hallucination", None),
    ("quantization", None),
    ("robotics", None),
    ("continual learning", "CL"),
    ("contrastive learning", None),
    ("neural architecture search", "NAS"),
)
STOP_ACRONYMS = frozenset({"a", "an", "as", "at", "be", "by", "do", "if", "in", "is", "it",
                           "no", "of", "on", "or", "so", "to", "up", "we", "ai"})  # fmt: skip
EXCLUSIONS = (
    "survey", "benchmark", "dataset", "position paper", "tutorial", "workshop", "review",
    "challenge", "shared task", "leaderboard", "toolkit", "demo",
)  # fmt: skip
NAME_PARTS = (
    "Edge", "Deep", "Open", "Meta", "Hyper", "Omni", "Flash", "Turbo", "Nano", "Mega", "Auto",
    "Multi", "Uni", "Pan", "Ever", "Sky", "Star", "Nova", "Zero", "Prime", "Lumi", "Astra", "Vox",
    "Sona", "Lexi", "Codi", "Medi", "Geo", "Bio", "Chem", "Quanta", "Neo",
)  # fmt: skip
NAME_TAILS = (
    "Former", "Net", "Gen", "Bench", "Mind", "Agent", "Coder", "Vision", "Speech", "Lingo", "Med",
    "Flow", "Fusion", "Router", "Mixer", "LM", "GPT", "BERT", "Diff", "Seg", "Det", "QA", "Talk",
    "Sense", "Scope", "Graph", "Pilot", "Craft", "Smith", "Sage", "Star",
)  # fmt: skip
MODEL_NAMES = (
    "GPT-4", "GPT-4o", "Llama-3", "LLaMA-2", "Qwen2.5", "Qwen2", "Mistral-7B", "Mixtral", "Gemma-2",
    "Claude", "Gemini", "PaLM", "T5", "BERT", "RoBERTa", "ViT", "CLIP", "Whisper", "wav2vec",
    "DeepSeek-V3", "Phi-3", "OLMo", "Falcon", "BLOOM", "SAM",
)  # fmt: skip
FIRST = (
    "Wei", "Yu", "Li", "Jun", "Hao", "Xin", "Ming", "Anna", "Maria", "José", "Zoë", "Ana", "David",
    "Sarah", "Michael", "Emily", "Daniel", "Laura", "Ahmed", "Fatima", "Ravi", "Priya", "Arjun",
    "Kenji", "Yuki", "Hiroshi", "Sven", "Ingrid", "Lars", "Élodie", "François", "Björn", "Mateo",
    "Lucía", "Olga", "Ivan", "Chen", "Jiaqi", "Minh", "Thanh", "Oluwaseun", "Chidi", "Amara",
    "Noah", "Liam", "Emma", "Olivia", "Mohammed", "Leila", "Tomás", "Søren", "Karim", "Nadia",
    "Pablo", "Sofia", "Giulia", "Marco", "Hyun", "Jin",
)  # fmt: skip
LAST = (
    "Wang", "Zhang", "Li", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma",
    "Zhu", "Hu", "Guo", "He", "Lin", "Luo", "Gao", "Smith", "Johnson", "Brown", "García", "Müller",
    "Schmidt", "Dubois", "Rossi", "Kowalski", "Nowak", "Kim", "Park", "Lee", "Choi", "Tanaka",
    "Suzuki", "Sato", "Nguyen", "Tran", "Patel", "Sharma", "Singh", "Gupta", "Kumar", "Ivanov",
    "Petrov", "Okafor", "Adeyemi", "Haddad", "Silva", "Santos", "Pereira", "Jensen", "Nielsen",
    "Andersson", "Bengio", "Hinton", "LeCun", "Ng", "Manning", "Jurafsky", "Schmidhuber",
    "Sutskever", "Vaswani", "Dean", "Søgaard",
)  # fmt: skip
SYLLABLES = (
    "ka", "lo", "mi", "ra", "te", "vo", "zu", "qi", "ne", "sa", "do", "fi", "gu", "ha", "jo", "ku",
    "le", "mo", "nu", "pi", "ro", "su", "ti", "va", "we", "xo", "yi", "ze", "bra", "cle", "dri",
    "fro", "glo", "pla", "stri", "tro", "ven", "lux", "dex", "mor",
)  # fmt: skip
NON_ASCII = ("–", "×", "≈", "≤", "’", "naïve", "café", "Poincaré", "Schrödinger", "ﬁne")


@dataclass(frozen=True, slots=True)
class Topic:
    """A research topic: how papers write it (`long`, Title Case in titles), its acronym
    when it has one, and its popularity rank (0 = most popular)."""

    long: str
    acronym: str | None
    rank: int

    def typed(self, rng: random.Random) -> str:
        """The topic as a user types it in a subscription or a query."""
        if self.acronym and rng.random() < 0.3:
            return self.acronym.lower() if rng.random() < 0.8 else self.acronym
        text = self.long.lower()
        if "-" in text and rng.random() < 0.25:
            text = text.replace("-", " " if rng.random() < 0.5 else "")
        if " " in text and not text.endswith("s") and rng.random() < 0.07:
            text += "s"
        if rng.random() < 0.03:
            text = typo(text, rng)
        return text


def typo(text: str, rng: random.Random) -> str:
    """`text` with two adjacent letters swapped in one word of 6+ letters (as typed in a
    hurry), or unchanged when there is no such word."""
    ws = text.split(" ")
    long = [i for i, w in enumerate(ws) if len(w) >= 6 and w.isalpha()]
    if not long:
        return text
    i = rng.choice(long)
    w = ws[i]
    j = rng.randrange(1, len(w) - 2)
    ws[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(ws)


def _acronym(long: str) -> str:
    parts = [p for p in long.replace("-", " ").split() if p not in {"of", "the", "and"}]
    return "".join(p[0].upper() for p in parts)


class _Sampler:
    """Draws items by weight (bisect on cumulative weights: O(log n) a draw)."""

    def __init__(self, items: Sequence[str], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    def draw(self, rng: random.Random, k: int) -> list[str]:
        items, cum, total, rand = self.items, self.cum, self.total, rng.random
        return [items[bisect.bisect(cum, rand() * total)] for _ in range(k)]


class _Lengths:
    def __init__(self, hist: Sequence[Sequence[int]]) -> None:
        self.values = [int(v) for v, _ in hist]
        self.cum = list(itertools.accumulate(int(n) for _, n in hist))

    def draw(self, rng: random.Random) -> int:
        return self.values[bisect.bisect(self.cum, rng.random() * self.cum[-1])]


class Corpus:
    """The generator. Everything it produces depends only on `seed` and the arguments."""

    def __init__(self, seed: int = 8, *, topics: int = TOPICS, data: Path = DATA) -> None:
        self.seed = seed
        stats = json.loads(data.read_text())
        self.title_prefix_share: float = stats["title_prefix_share"]
        self._title_len = _Lengths(stats["title_len"])
        self._abstract_len = _Lengths(stats["abstract_len"])
        self._sentence_len = _Lengths(stats["sentence_len"])
        defs = stats["definitions_per_paper"]
        self.definitions_per_paper = sum(k * n for k, n in defs) / sum(n for _, n in defs)
        self._seed_definitions = [(sf, lf) for sf, lf in stats["definitions"]]
        tw = [(w, n) for w, n in stats["title_words"] if w.isalpha() or "-" in w]
        self._title_words = _Sampler([w for w, _ in tw], [_debiased(w, n) for w, n in tw])
        aw = [(w, n) for w, n in stats["abstract_words"] if not _URLISH.search(w)]
        self._abstract_words = _Sampler([w for w, _ in aw], [_debiased(w, n) for w, n in aw])
        self.topics = self._topics(topics)
        weights = [1.0 / (t.rank + 1) ** ZIPF_S for t in self.topics]
        self._topic_cum = list(itertools.accumulate(weights))

    # -- vocabulary ------------------------------------------------------------------------

    def _topics(self, n: int) -> list[Topic]:
        """`n` distinct topics in popularity order: the popular ones of the field first,
        then the seeds' acronym definitions, single words and modifier + head phrases,
        shuffled."""
        rng = random.Random(f"{self.seed}:topics")
        longs: dict[str, str | None] = dict(POPULAR)
        rest: dict[str, str | None] = {}
        for sf, lf in self._seed_definitions:
            lf = lf.lower()
            if "," not in lf and len(lf.split()) <= 4 and sf.lower() not in STOP_ACRONYMS:
                rest.setdefault(lf, sf)
        for word in SINGLE_TOPICS:
            rest.setdefault(word, None)
        for popular in longs:
            rest.pop(popular, None)
        pairs = [(m, h) for m in MODIFIERS for h in HEADS if m not in h and h not in m]
        rng.shuffle(pairs)
        for m, h in pairs:
            if len(longs) + len(rest) >= n:
                break
            phrase = f"{m} {h}"
            if rng.random() < 0.15:
                phrase = f"{rng.choice(MODIFIERS)} {phrase}"
            acronym = _acronym(phrase) if rng.random() < 0.5 else None
            if acronym and acronym.lower() in STOP_ACRONYMS:
                acronym = None
            if phrase not in longs:
                rest.setdefault(phrase, acronym)
        tail = list(rest.items())
        rng.shuffle(tail)
        items = [*longs.items(), *tail][:n]
        return [Topic(long, sf, rank) for rank, (long, sf) in enumerate(items)]

    def topic(self, rng: random.Random) -> Topic:
        """A topic by popularity (Zipf): the head often, the long tail now and then."""
        cum = self._topic_cum
        return self.topics[bisect.bisect(cum, rng.random() * cum[-1])]

    @staticmethod
    def rare_word(rng: random.Random) -> str:
        """A word from a long tail of millions (log-uniform rank): mostly unique to a few
        papers, so the vocabulary grows with the archive."""
        rank = int(math.exp(rng.random() * math.log(4_000_000)))
        out = []
        while True:
            rank, r = divmod(rank, len(SYLLABLES))
            out.append(SYLLABLES[r])
            if rank == 0:
                break
        word = "".join(out)
        roll = rng.random()
        if roll < 0.15:
            return word.capitalize() + str(rng.randrange(2, 100))
        if roll < 0.25:
            return word.upper()[:5]
        return word

    # -- papers ----------------------------------------------------------------------------

    def papers(
        self, n: int, *, start: int = 0, first_seen: datetime | None = None
    ) -> Iterator[Paper]:
        """Papers number `start` … `start + n - 1` (each depends only on its number):
        arXiv ids, authors, upvotes, an HF summary for some, first seen at `first_seen`
        (or spread over the days before EPOCH, 1,000 a day)."""
        for i in range(start, start + n):
            yield self.paper(i, first_seen=first_seen)

    def paper(self, i: int, *, first_seen: datetime | None = None) -> Paper:
        rng = random.Random(self.seed * 1_000_003 + i)
        title, abstract = self.text(rng)
        day = EPOCH - timedelta(days=i // 1000 + 1)
        seen = first_seen or (day + timedelta(seconds=(i % 1000) * 30))
        n_authors = min(1 + int(rng.expovariate(0.22)), 40)
        keywords: tuple[str, ...] = ()
        summary = None
        if rng.random() < 0.3:  # an HF Daily Papers entry
            keywords = tuple(dict.fromkeys(self.topic(rng).long for _ in range(3)))
            summary = abstract.split(". ")[0][:200]
        return Paper(
            title=title,
            abstract=abstract,
            arxiv_id=self.arxiv_id(i),
            authors=tuple(f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(n_authors)),
            published=day,
            daily_date=day.date(),
            upvotes=int(rng.expovariate(0.08)) if keywords else None,
            ai_summary=summary,
            ai_keywords=keywords,
            github_repo=f"https://github.com/lab{i % 997}/repo{i}" if rng.random() < 0.25 else None,
            sources=("bench",),
            first_seen=seen,
        )

    @staticmethod
    def arxiv_id(i: int) -> str:
        """Paper number `i`'s arXiv id (unique: 100,000 a month)."""
        block = i // 100_000
        return f"{24 + block // 12:02d}{block % 12 + 1:02d}.{i % 100_000:05d}"

    def text(self, rng: random.Random) -> tuple[str, str]:
        """A title and an abstract about one to three topics."""
        about = [self.topic(rng)]
        while rng.random() < 0.45 and len(about) < 3:
            about.append(self.topic(rng))
        return self._title(rng, about[0]), self._abstract(rng, about)

    def _title(self, rng: random.Random, topic: Topic) -> str:
        n = self._title_len.draw(rng)
        small = {"for", "of", "with", "and", "in", "to", "via", "on", "the", "a"}
        ws = [
            w if w[0].isupper() or w in small else w.capitalize()
            for w in self._title_words.draw(rng, max(n - 2, 1))
        ]
        if rng.random() < 0.65:
            phrase = _title_case(self._surface(rng, topic, title=True))
            ws.insert(rng.randrange(len(ws) + 1), phrase)
        title = " ".join(ws)
        if rng.random() < self.title_prefix_share:
            if topic.acronym and rng.random() < 0.3:
                name = f"{rng.choice(NAME_PARTS)}-{topic.acronym}"
            else:
                name = rng.choice(NAME_PARTS) + rng.choice(NAME_TAILS)
            title = f"{name}: {title}"
        return title[0].upper() + title[1:]

    def _surface(self, rng: random.Random, topic: Topic, *, title: bool = False) -> str:
        """One way a paper writes a topic: hyphenated or spaced, singular or plural."""
        text = topic.long
        if " " in text and rng.random() < 0.25:
            text = text.replace(" ", "-", 1)
        elif "-" in text and rng.random() < 0.3:
            text = text.replace("-", " ")
        if not title and rng.random() < 0.2 and not text.endswith("s"):
            text += "s"
        return text

    def _abstract(self, rng: random.Random, about: list[Topic]) -> str:
        total = self._abstract_len.draw(rng)
        words = self._abstract_words.draw(rng, total)
        for _ in range(max(0, int(rng.gauss(4, 2)))):
            words[rng.randrange(total)] = self.rare_word(rng)
        if rng.random() < 0.3:
            words[rng.randrange(total)] = rng.choice(MODEL_NAMES)
        if rng.random() < 0.1:
            words[rng.randrange(total)] = rng.choice(NON_ASCII)
        # mentions of the topics: the first defines the acronym, later ones use either form
        inserts: list[tuple[int, str]] = []
        for k, topic in enumerate(about):
            mentions = 1 + int(rng.expovariate(0.6 if k == 0 else 1.5))
            for m in range(min(mentions, 8)):
                surface = self._surface(rng, topic)
                if topic.acronym and m == 0 and rng.random() < 0.8:
                    surface = f"{surface} ({topic.acronym})"
                elif topic.acronym and m > 0 and rng.random() < 0.6:
                    surface = topic.acronym
                inserts.append((rng.randrange(total), surface))
        extra = self.definitions_per_paper - 0.6 * len(about)
        if extra > 0 and rng.random() < extra:
            sf, lf = rng.choice(self._seed_definitions)
            inserts.append((rng.randrange(total), f"{lf} ({sf})"))
        for pos, surface in sorted(inserts, reverse=True):
            words.insert(pos, surface)
        return _sentences(words, self._sentence_len, rng)

    # -- dumps -----------------------------------------------------------------------------

    def dump(self, start: int, n: int, *, layout: str = "a") -> str:
        """A Hugging Face papers-page text dump of papers `start` … in layout "a" (title and
        abstract on alternate lines) or "b" (blank-line separated, with a date line)."""
        head = (
            "Get trending papers in your email inbox once a day!\n"
            "Get trending papers in your email inbox!\nSubscribe"
        )
        if layout == "a":
            lines = [head]
            for i in range(start, start + n):
                title, abstract = self.text(random.Random(self.seed * 1_000_003 + i))
                lines += [title, abstract]
            return "\n".join(lines) + "\n"
        chunks = ["new", "Get trending papers in your email inbox!", "Subscribe"]
        chunks += ["byAK and the research community", "Nov 20"]
        for i in range(start, start + n):
            title, abstract = self.text(random.Random(self.seed * 1_000_003 + i))
            chunks += [title, abstract]
        return "\n\n".join(chunks) + "\n"

    # -- channels and queries --------------------------------------------------------------

    def profiles(self, n: int, *, topics: int = 5, min_rank: int = 0) -> list[Profile]:
        """`n` channel profiles with `topics` topics and one exclusion each. `min_rank`
        leaves out the most popular topics (channels with narrow interests)."""
        rng = random.Random(
            f"{self.seed}:profiles:{min_rank}" if min_rank else f"{self.seed}:profiles"
        )
        out = []
        for c in range(n):
            chosen: dict[Topic, str] = {}
            while len(chosen) < topics:
                topic = self.topic(rng)
                if topic not in chosen and topic.rank >= min_rank:
                    chosen[topic] = topic.typed(rng)
            exclude = rng.choice(EXCLUSIONS) if rng.random() < 0.8 else self.topic(rng).long.lower()
            out.append(
                Profile(
                    platform="slack",
                    channel_id=f"C{c:09d}",
                    name=f"papers-{c}",
                    topics=tuple(chosen.values()),
                    exclude=(exclude,),
                    max_posts=10,
                )
            )
        return out

    def queries(self, n: int, *, archive: int) -> list[str]:
        """`n` search queries as users type them, over an archive of papers 0 … archive-1."""
        rng = random.Random(f"{self.seed}:queries")
        out = []
        for _ in range(n):
            r = rng.random()
            if r < 0.45:
                out.append(self.topic(rng).typed(rng))
            elif r < 0.55:
                t = self.topic(rng)
                out.append(t.acronym or t.long)
            elif r < 0.62:
                out.append(typo(self.topic(rng).long.lower(), rng))
            elif r < 0.72:
                p = self.paper(rng.randrange(archive))
                name = rng.choice(p.authors)
                out.append(name if rng.random() < 0.5 else name.split()[-1])
            elif r < 0.82:
                ws = self.paper(rng.randrange(archive)).title.split()
                k = rng.randint(min(2, len(ws)), min(6, len(ws)))
                s = rng.randrange(len(ws) - k + 1)
                out.append(" ".join(ws[s : s + k]))
            elif r < 0.9:
                a, b = self.topic(rng), self.topic(rng)
                out.append(f"papers about {a.long} for {b.long.lower()}")
            elif r < 0.95:
                out.append(f"{self.topic(rng).long} {rng.choice(['2024', 'llm', 'survey'])}")
            else:
                out.append(
                    rng.choice(
                        [
                            '"mixture of experts" NOT survey',
                            "C++ code generation",
                            "-moe",
                            "speech: recognition",
                            "🤖 agents",
                            "arXiv:2406.01234v2",
                            "moe OR (dense",
                            "x" * 300,
                            "naïve Bayes",
                            "NEAR(speech text)",
                        ]
                    )
                )
        return out


# The seeds were chosen for the labelled topics (`shared/relevance`): as filler, their
# words would make those topics far more common than in a day of real papers. They are
# down-weighted to the level of any popular topic, which the generator mentions itself.
SEED_TOPIC_WORDS = frozenset(
    {
        *("moe", "moes", "expert", "experts", "mixture", "mixture-of-experts"),
        *("multi-task", "multitask", "mtl", "translation", "translations", "mt", "nmt"),
        *("spelling", "misspellings", "typos", "speech", "medical", "biomedical", "clinical"),
        "code",
    }
)
SEED_TOPIC_DOWNWEIGHT = 10


_URLISH = re.compile(r"https?|www|[A-Za-z]\.(?!g$|e$)[A-Za-z]")  # URL pieces (not e.g., i.e)


def _debiased(word: str, count: int) -> float:
    folded = word.lower()
    if folded in SEED_TOPIC_WORDS or any(p in SEED_TOPIC_WORDS for p in folded.split("-")):
        return count / SEED_TOPIC_DOWNWEIGHT
    return count


def _title_case(text: str) -> str:
    return " ".join(
        "-".join(p[:1].upper() + p[1:] for p in w.split("-")) if w not in {"of", "the"} else w
        for w in text.split(" ")
    )


def _sentences(words: list[str], lengths: _Lengths, rng: random.Random) -> str:
    out = []
    i = 0
    while i < len(words):
        n = max(lengths.draw(rng), 4)
        sentence = words[i : i + n]
        i += n
        if len(sentence) > 8 and rng.random() < 0.5:
            j = rng.randrange(3, len(sentence) - 2)
            sentence[j] += ","
        first = sentence[0]
        sentence[0] = first[:1].upper() + first[1:]
        out.append(" ".join(sentence) + ".")
    return " ".join(out)
