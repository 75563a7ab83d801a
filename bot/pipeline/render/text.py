"""Plain-text rendering of a digest for the console: one message, nothing to escape."""

from __future__ import annotations

from bot.models import Digest, DigestItem, Message
from bot.pipeline.render.common import (
    UNSURE_HEADING,
    authors_line,
    clean,
    empty_text,
    header_text,
    links,
    more_text,
    sections,
    topics_line,
)

INDENT = "   "


def _paper(n: int, item: DigestItem) -> list[str]:
    paper = item.paper
    lines = [f"{n}. {clean(paper.title) or '(untitled)'}"]
    if authors := authors_line(paper.authors):
        lines.append(INDENT + authors)
    if summary := clean(item.summary):
        lines.append(INDENT + summary)
    if topics := topics_line(item.topics):
        lines.append(f"{INDENT}topics: {topics}")
    if anchors := links(paper):
        lines.append(INDENT + " · ".join(f"{label} {url}" for label, url in anchors))
    if paper.upvotes is not None:
        lines.append(f"{INDENT}▲ {paper.upvotes}")
    return lines


def render_text(digest: Digest) -> list[Message]:
    """The digest as one console message, payload `{"text": ...}`: the header, then the
    numbered papers (title, authors, TL;DR, topics, links, upvotes), the papers it asks
    about under UNSURE_HEADING (numbered on), then "and N more".

    Untrusted text only loses control characters (and line breaks: one line per field).
    An empty digest renders "No new papers for #channel today." with no keys.
    """
    more = more_text(digest)
    papers, asked = sections(digest)
    if not digest.items:
        lines = [empty_text(digest)]
    else:
        lines = [header_text(digest)] if papers else []
        for n, item in enumerate(papers, start=1):
            lines.append("")
            lines.extend(_paper(n, item))
        if asked:
            lines.extend(["", UNSURE_HEADING] if lines else [UNSURE_HEADING])
        for n, item in enumerate(asked, start=len(papers) + 1):
            lines.append("")
            lines.extend(_paper(n, item))
    if more:
        lines.extend(["", more])
    keys = tuple(item.paper.key for item in (*papers, *asked))
    return [Message(payload={"text": "\n".join(lines)}, keys=keys)]
