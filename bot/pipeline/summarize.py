"""A paper's one-line summary: the source's own, else the abstract's contribution sentence."""

from __future__ import annotations

import re
from functools import lru_cache

from bot.models import Paper, collapse_ws
from bot.pipeline.render.common import cut
from bot.pipeline.text import sentences

SUMMARY_CHARS = 280  # the longest one-line summary of a paper, in characters (one place)

# Labels some sources prefix to an abstract or summary ("Abstract: …", "TL;DR: …").
_LABEL = re.compile(r"^\s*(?:abstract|tl\s*;\s*dr|summary)\s*[:.—–-]\s*", re.IGNORECASE)

# A sentence that states the paper's contribution: a first-person or "this paper" subject,
# up to two adverbs, then a verb of contributing; or "in this paper, we"; or a passive
# "… is proposed/introduced/presented"; or "our contributions".
_SUBJECT = (
    r"(?:we|this\s+(?:paper|work|study|article|report|letter|note|thesis|technical\s+report)"
    r"|here(?:in)?\s*,?\s*we)"
)
_ADVERB = r"(?:(?:also|then|further|first|now|thus|hence|therefore|here|finally|\w+ly)\s+)"
_VERB = (
    r"(?:propos|introduc|present|develop|design|releas|describ|contribut|buil[dt]|creat"
    r"|construct|devis|formulat|unveil|curat|open[\s-]?sourc|offer)\w*"
)
CONTRIBUTION_CUE = re.compile(
    rf"\b{_SUBJECT}\s+{_ADVERB}{{0,2}}{_VERB}\b"
    r"|\bin\s+this\s+(?:paper|work|study|article|report|letter)\s*,?\s*we\b"
    r"|\b(?:is|are)\s+(?:\w+ly\s+)?(?:proposed|introduced|presented)\b"
    r"|\bour\s+(?:main\s+|key\s+|primary\s+)?contributions?\b",
    re.IGNORECASE,
)

# LaTeX left in abstracts: escaped specials, text-style commands, inline-math dollars.
_LATEX_ESCAPED = re.compile(r"\\([%&_#$])")
_LATEX_TEXT_CMD = re.compile(
    r"\\(?:emph|textbf|textit|texttt|textrm|textsc|mathrm|mathbf|mathit|text|url)\s*\{([^{}]*)\}"
)
_LATEX_CITE = re.compile(r"\s*\\(?:cite|citep|citet|ref|eqref|label)\s*\{[^{}]*\}")
_LATEX_SYMBOLS = {
    r"\times": "×",
    r"\approx": "≈",
    r"\sim": "~",
    r"\leq": "≤",
    r"\geq": "≥",
    r"\le": "≤",
    r"\ge": "≥",
    r"\pm": "±",
    r"\cdot": "·",
    r"\ldots": "…",
    r"\dots": "…",
}
_LATEX_SYMBOL = re.compile(
    "|".join(re.escape(k) + r"(?![A-Za-z])" for k in sorted(_LATEX_SYMBOLS, key=len, reverse=True))
)
_DOLLAR_MATH = re.compile(r"(?<!\\)\$(?!\s)([^$]{1,200}?)(?<!\s)\$")


def delatex(text: str) -> str:
    """`text` with common LaTeX noise made readable: `\\%` -> `%`, `\\emph{x}` -> `x`,
    `$O(n)$` -> `O(n)`, `\\times` -> `×`, citations dropped, ``` ``x'' ``` -> `"x"`."""
    text = _LATEX_CITE.sub("", text)
    for _ in range(3):  # nested commands: \textbf{\emph{x}}
        text = _LATEX_TEXT_CMD.sub(r"\1", text)
    text = _DOLLAR_MATH.sub(r"\1", text)
    text = _LATEX_SYMBOL.sub(lambda m: _LATEX_SYMBOLS[m.group()], text)
    text = _LATEX_ESCAPED.sub(r"\1", text)
    return text.replace("``", '"').replace("''", '"')


def _tidy(text: str) -> str:
    """Whitespace collapsed, LaTeX noise removed, leading labels stripped."""
    text = collapse_ws(delatex(collapse_ws(text)))
    while (label := _LABEL.match(text)) is not None and label.end() > 0:
        text = text[label.end() :]
    return text.strip()


def contribution_sentence(abstract: str) -> str:
    """The first sentence of `abstract` that states the contribution (CONTRIBUTION_CUE),
    else its first sentence; "" for an empty abstract. The abstract is tidied first."""
    parts = sentences(_tidy(abstract))
    if not parts:
        return ""
    for sentence in parts:
        if CONTRIBUTION_CUE.search(sentence):
            return sentence
    return parts[0]


def summarize(paper: Paper, *, max_chars: int = SUMMARY_CHARS) -> str:
    """The paper's one-line summary, at most `max_chars` characters.

    The source's own summary (`ai_summary`, whitespace-collapsed) when it has one; else
    the abstract's contribution sentence (`contribution_sentence`). Too-long text is cut
    at a word boundary with "…" (a single over-long word is cut hard). No summary and no
    abstract give "". Pure: no I/O, no clock (so the last ones are remembered: a paper
    goes to many channels).
    """
    try:
        return _remembered(paper, max_chars)
    except TypeError:  # a paper built with lists is unhashable: not remembered
        return _summary(paper, max_chars)


def _summary(paper: Paper, max_chars: int) -> str:
    own = _tidy(paper.ai_summary or "")
    text = own or contribution_sentence(paper.abstract)
    return cut(text, max_chars)


_remembered = lru_cache(maxsize=4096)(_summary)
