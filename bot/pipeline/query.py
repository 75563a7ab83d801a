"""Subscription understanding: what a typed topic means, as alternative stem phrases with
weights — acronyms both ways, compound variants, typo repair against the archive."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from bot.pipeline.lexicon import Lexicon, reference_share
from bot.pipeline.text import fold, is_content, stem, words

TYPO_MIN_LEN = 5  # shorter words are too often other real words one edit away
TYPO_MIN_SCORE = 84.0
MAX_VARIANTS = 24
GENERIC_SHARE = 0.35  # a word in this share of the archive's papers says little on its own
SALIENT_SHARE = 0.2  # a lone word rarer than this can stand for the topic
TRIMMED_WEIGHT = 0.75


@dataclass(frozen=True, slots=True)
class Phrase:
    """One way of saying the topic: a stem sequence matched contiguously, the words it
    stands for (for explanations), its weight (1 for the full topic), and for a learned
    acronym, the short form (a paper defining it otherwise does not count it)."""

    stems: tuple[str, ...]
    label: str
    weight: float = 1.0
    short_form: str | None = None


@dataclass(frozen=True)
class Concept:
    """A subscription as understood: its phrasings, and each content stem's weight.

    `core` are the topic's own content stems (for loose, same-sentence evidence); `weights`
    sum to 1 over `core`. `notes` say what was understood (typo fixes, acronyms).
    """

    text: str
    phrases: tuple[Phrase, ...]
    core: tuple[str, ...]
    weights: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    long_forms: frozenset[tuple[str, ...]] = frozenset()

    @property
    def empty(self) -> bool:
        return not self.phrases


def _fix_typo(word: str, lex: Lexicon) -> str | None:
    """A frequent archive word one or two edits from `word`, when `word` itself is unknown."""
    if len(word) < TYPO_MIN_LEN or not word.isalpha() or lex.vocab.get(word, 0) > 0:
        return None
    repairs = lex.repairs
    if not any(n in lex.word_lengths for n in range(len(word) - 2, len(word) + 3)):
        return None  # no archive word is within two letters of its length: none can repair it
    if word not in repairs:
        repairs[word] = _closest(word, lex)
    return repairs[word]


def _closest(word: str, lex: Lexicon) -> str | None:
    """The repair among the 5 archive words most similar to `word` (fuzz.ratio, ties in
    vocabulary order), as `process.extract` over the whole vocabulary finds them. Only
    words whose length allows TYPO_MIN_SCORE are scored: the others cannot be repairs, nor
    rank above one."""
    n = len(word)
    found: list[tuple[float, int, str]] = []
    for length, (indexes, ws) in lex.words_by_length.items():
        if 100.0 * (1 - abs(n - length) / (n + length)) < TYPO_MIN_SCORE - 1e-9:
            continue
        # Below the cutoff a word can be neither a repair nor push one out of the top 5.
        near = process.extract(word, ws, scorer=fuzz.ratio, limit=5, score_cutoff=TYPO_MIN_SCORE)
        for w, score, j in near:
            found.append((score, indexes[j], w))
    found.sort(key=lambda f: (-f[0], f[1]))
    hits = [(w, score) for score, _, w in found[:5]]
    good = [(w, s) for w, s in hits if s >= TYPO_MIN_SCORE and abs(len(w) - len(word)) <= 2]
    if not good:
        return None
    return max(good, key=lambda ws: (ws[1], lex.vocab[ws[0]]))[0]


def _compound_variants(ws: list[str], lex: Lexicon) -> list[list[str]]:
    """Spelling variants of compounds, licensed by the archive's vocabulary:
    `multi task` -> `multitask` when the archive writes it so, and `multitask` ->
    `multi task` when both halves are archive words (hyphenated use splits them)."""
    out: list[list[str]] = []
    for i in range(len(ws) - 1):
        joined = ws[i] + ws[i + 1]
        if lex.vocab.get(joined, 0) > 0:
            out.append([*ws[:i], joined, *ws[i + 2 :]])
    for i, w in enumerate(ws):
        for cut in range(3, len(w) - 2):
            a, b = w[:cut], w[cut:]
            if lex.vocab.get(a, 0) >= 2 and lex.vocab.get(b, 0) >= 2 and a.isalpha():
                out.append([*ws[:i], a, b, *ws[i + 1 :]])
    return out


def understand(text: str, lex: Lexicon) -> Concept:
    """Turn a typed subscription into a Concept. Pure; never raises (empty -> no phrases)."""
    ws = words(text)
    notes: list[str] = []
    fixed: list[str] = []
    for w in ws:
        repl = _fix_typo(w, lex)
        if repl and repl != w:
            notes.append(f"read '{w}' as '{repl}'")
        fixed.append(repl or w)
    if not fixed:
        return Concept(text, (), ())
    base = [fixed, *_compound_variants(fixed, lex)]
    phrases: dict[tuple[str, ...], Phrase] = {}

    def add(ws_: Sequence[str], weight: float = 1.0, short_form: str | None = None) -> None:
        key = tuple(stem(w) for w in ws_)
        if key and (key not in phrases or phrases[key].weight < weight):
            phrases[key] = Phrase(key, " ".join(ws_), weight, short_form)

    for variant in base:
        add(variant)
        trimmed = _trim_generic(variant, lex)
        if trimmed:
            add(trimmed, TRIMMED_WEIGHT)
            notes.append(f"'{' '.join(trimmed)}' alone also counts")
    # Acronyms both ways: a short form typed -> its long forms; a long form -> its short forms.
    long_forms: set[tuple[str, ...]] = set()
    # A typed acronym may be hyphenated (MH-MoE arrives as the words mh, moe).
    typed_sf = "-".join(fixed) if len(fixed) <= 3 else None
    expansions = lex.long_forms(typed_sf) if typed_sf is not None else []
    if typed_sf is not None:
        for lf in expansions:
            long_forms.add(lf)
            phrases.setdefault(lf, Phrase(lf, lex.spelling(lf)))
            notes.append(f"'{typed_sf}' = '{lex.spelling(lf)}' (learned from the archive)")
        if long_forms:
            typed = tuple(stem(w) for w in fixed)
            phrases[typed] = Phrase(typed, " ".join(fixed), 1.0, typed_sf)
    for full in [p.stems for p in phrases.values() if p.weight == 1.0]:
        for sf in lex.short_forms_ending_with(full):
            long_forms.add(full)
            sf_words = words(sf)
            if tuple(stem(w) for w in sf_words) not in phrases:
                add(sf_words, 1.0, sf)
                notes.append(f"'{' '.join(fixed)}' also written '{sf}'")
    # Core content stems: from the typed words, or from the long form for a lone acronym.
    core_words = [w for w in fixed if is_content(w)]
    core = tuple(dict.fromkeys(stem(w) for w in core_words)) or tuple(stem(w) for w in fixed)
    if expansions:
        longest = max(expansions, key=len)
        core = tuple(dict.fromkeys(s for s in longest if is_content(s))) or core
    idf = {s: max(lex.idf(s), 0.1) for s in core}
    total = sum(idf.values()) or 1.0
    weights = {s: v / total for s, v in idf.items()}
    ordered = sorted(phrases.values(), key=lambda p: (-len(p.stems), -p.weight, p.label))
    return Concept(
        text=" ".join(text.split()),
        phrases=tuple(ordered[:MAX_VARIANTS]),
        core=core,
        weights=weights,
        notes=tuple(dict.fromkeys(notes)),
        long_forms=frozenset(long_forms),
    )


def _trim_generic(ws: list[str], lex: Lexicon) -> list[str] | None:
    """The topic without generic words at its edges (`multi-task learning` -> `multi task`),
    as long as what remains is still specific: two words or more, or one rare word.

    Shares are the lexicon's posterior estimates (`Lexicon.share`), which lean on reference
    statistics in a small archive and on the archive in a large one, so the decision does not
    flip with the archive's size. A cut that leaves two words or more keeps a specific
    phrase: the word goes when its expected share is generic, or when it is the topic's most
    common word in general English (the word that carries least of its meaning, which a
    small archive cannot tell). A cut that leaves one word is risky (that word alone will
    count): the credible intervals must put the cut word above GENERIC_SHARE and the
    remaining one below SALIENT_SHARE, which a small archive cannot do."""
    if len(ws) < 2:
        return None
    out = list(ws)
    while len(out) > 1:
        cut = next((i for i in _edges(out, lex) if _generic_edge(out, i, lex)), None)
        if cut is None:
            break
        out = out[:cut] + out[cut + 1 :]
    return out if len(out) < len(ws) else None


def _edges(ws: list[str], lex: Lexicon) -> list[int]:
    """The positions of the first and last word, the more common first."""
    return sorted({0, len(ws) - 1}, key=lambda i: -lex.share(ws[i]))


def _generic_edge(ws: list[str], i: int, lex: Lexicon) -> bool:
    """Whether the edge word `ws[i]` can go (see `_trim_generic`)."""
    word = ws[i]
    if not is_content(word):
        return True
    # Stopwords left ("mixture of") carry no meaning: what counts is the content words left.
    rest = [w for w in ws[:i] + ws[i + 1 :] if is_content(w)]
    if not rest:
        return False
    if len(rest) >= 2:
        return lex.share(word) >= GENERIC_SHARE or _most_common(word, ws)
    # One word would remain and count alone: both shares must be beyond doubt.
    low, _ = lex.share_bounds(word)
    _, high = lex.share_bounds(rest[0])
    return low >= GENERIC_SHARE and high <= SALIENT_SHARE


def _most_common(word: str, ws: list[str]) -> bool:
    """Whether `word` is the most frequent content word of `ws` in general English."""
    others = [reference_share(w) for w in ws if w != word and is_content(w)]
    return bool(others) and reference_share(word) > max(others)


def fold_topic(text: str) -> str:
    """The comparison form of a topic (case, spacing and punctuation insensitive)."""
    return " ".join(words(fold(text)))
