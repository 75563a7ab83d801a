"""Discord rendering: a digest as messages of embeds within Discord's limits, nothing pings."""

from __future__ import annotations

import re
from dataclasses import dataclass

from discord.utils import escape_markdown, escape_mentions

from bot.models import Digest, DigestItem, Message
from bot.pipeline.render.common import (
    LESS_LABEL,
    MORE_LABEL,
    UNSURE_HEADING,
    authors_line,
    clean,
    continued_text,
    empty_text,
    feedback_ref,
    fit,
    header_text,
    links,
    more_text,
    primary_url,
    sections,
    topics_line,
)

# Discord limits (discord.com/developers/docs/resources/message#embed-object-embed-limits).
# discord.py checks only the embed count: every other limit is enforced here.
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_TOTAL = 6000  # title + description + field names and values + footer + author name
# Policy caps: a readable TL;DR and short author/topic lines.
MAX_SUMMARY = 700
MAX_AUTHORS = 300
MAX_TOPICS = 300
MAX_LINE = 300  # header, "and N more"
# Message components (discord.com/developers/docs/components/reference): at most 5 action
# rows of at most 5 buttons, labels ≤ 80, custom_id 1-100 characters, unique in a message.
MAX_ROWS = 5
MAX_ROW_BUTTONS = 5
MAX_LABEL = 80
MAX_CUSTOM_ID = 100
# Feedback buttons: two per paper, two papers a row, so a message's MAX_EMBEDS papers need
# MAX_ROWS rows. custom_id "paperboy:more:<ref>" / "paperboy:less:<ref>", the ref being the
# key or `#digest` when the key does not fit (`feedback_ref`).
PAPERS_PER_ROW = 2
NUMBER_LABEL = "Paper"  # the embed's author line "Paper n" numbers it for its buttons
FEEDBACK_PREFIX = "paperboy:"
MORE, LESS = "more", "less"
_REF_ROOM = MAX_CUSTOM_ID - len(f"{FEEDBACK_PREFIX}{MORE}:")
PRIMARY, SECONDARY = 1, 2  # button styles
ZWSP = "\u200b"
ALLOWED_MENTIONS: dict[str, object] = {"parse": []}

Embed = dict[str, object]
_MASKED_LINK = re.compile(r"\]\s*\(")


def escape(text: str) -> str:
    """Untrusted text made literal for Discord: Markdown escaped (`escape_markdown`), masked
    links `[x](url)` broken, mentions escaped (`escape_mentions`: `@everyone`, `@here`,
    `@123…`), and a zero-width space after every `<`, so `<@id>`, `<@&id>`, `<#id>`,
    `<t:…>` and `<url>` syntax shows as text."""
    text = _MASKED_LINK.sub(lambda m: "]" + ZWSP + m.group()[1:], text)
    text = escape_mentions(escape_markdown(text))
    return text.replace("<", "<" + ZWSP)


def _link_url(url: str) -> str:
    """A URL safe inside Markdown `[label](url)`: parentheses percent-encoded."""
    return url.replace("(", "%28").replace(")", "%29")


def embed_size(embed: Embed) -> int:
    """The characters Discord counts toward MAX_TOTAL for one embed."""
    size = len(str(embed.get("title", ""))) + len(str(embed.get("description", "")))
    fields = embed.get("fields", [])
    if isinstance(fields, list):
        for f in fields:
            if isinstance(f, dict):
                size += len(str(f.get("name", ""))) + len(str(f.get("value", "")))
    for part in ("footer", "author"):
        sub = embed.get(part)
        if isinstance(sub, dict):
            size += len(str(sub.get("text" if part == "footer" else "name", "")))
    return size


def feedback_id(vote: str, key: str) -> str:
    """A feedback button's custom_id: `paperboy:<vote>:<ref>`, at most MAX_CUSTOM_ID."""
    return f"{FEEDBACK_PREFIX}{vote}:{feedback_ref(key, _REF_ROOM)}"


def feedback_buttons(key: str, n: int) -> tuple[dict[str, object], ...]:
    """The two buttons of the paper `key`, shown as number `n` (its embed says "Paper n"
    above the title): "n · More like this" and "n · Not for us"."""
    return (
        {"type": 2, "style": PRIMARY, "label": f"{n} · {MORE_LABEL}", "emoji": {"name": "👍"},
         "custom_id": feedback_id(MORE, key)},
        {"type": 2, "style": SECONDARY, "label": f"{n} · {LESS_LABEL}", "emoji": {"name": "👎"},
         "custom_id": feedback_id(LESS, key)},
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Unit:
    """One paper's embed (without its url), the url it would carry, its feedback buttons."""

    key: str
    embed: Embed
    url: str | None
    buttons: tuple[dict[str, object], ...] = ()

    @property
    def size(self) -> int:
        return embed_size(self.embed)


def _field(name: str, value: str, *, inline: bool) -> dict[str, object]:
    return {"name": name, "value": value, "inline": inline}


def _paper_unit(item: DigestItem, n: int | None) -> _Unit:
    """The paper's embed; with `n`, numbered `n` (its author line "Paper n", above the
    title) and with its buttons."""
    paper = item.paper
    embed: Embed = {"title": fit(clean(paper.title) or "(untitled)", MAX_TITLE, escape)}
    if n is not None:
        embed["author"] = {"name": f"{NUMBER_LABEL} {n}"}
    if summary := fit(clean(item.summary), MAX_SUMMARY, escape):
        embed["description"] = summary
    fields: list[dict[str, object]] = []
    if authors := fit(authors_line(paper.authors), MAX_AUTHORS, escape):
        fields.append(_field("Authors", authors, inline=False))
    if topics := fit(topics_line(item.topics), MAX_TOPICS, escape):
        fields.append(_field("Topics", topics, inline=True))
    if paper.upvotes is not None:
        fields.append(_field("Upvotes", f"▲ {paper.upvotes}", inline=True))
    anchors: list[str] = []
    for label, url in links(paper):
        anchor = f"[{label}]({_link_url(url)})"
        if len(" · ".join([*anchors, anchor])) <= MAX_FIELD_VALUE:
            anchors.append(anchor)
    if anchors:
        fields.append(_field("Links", " · ".join(anchors), inline=False))
    if fields:
        embed["fields"] = fields
    buttons = feedback_buttons(paper.key, n) if n is not None else ()
    return _Unit(key=paper.key, embed=embed, url=primary_url(paper), buttons=buttons)


def _pack(units: list[_Unit]) -> list[list[_Unit]]:
    """Greedy split into groups of at most MAX_EMBEDS embeds and MAX_TOTAL characters; a
    paper is never split, and each group holds at least one paper."""
    groups: list[list[_Unit]] = []
    group: list[_Unit] = []
    total = 0
    for unit in units:
        if group and (len(group) >= MAX_EMBEDS or total + unit.size > MAX_TOTAL):
            groups.append(group)
            group, total = [], 0
        group.append(unit)
        total += unit.size
    if group:
        groups.append(group)
    return groups


def _embeds(group: list[_Unit]) -> list[Embed]:
    """The group's embeds; a url already used in the message is left off (Discord would
    collapse embeds sharing a url into one)."""
    seen: set[str] = set()
    out: list[Embed] = []
    for unit in group:
        embed = dict(unit.embed)
        if unit.url is not None and unit.url not in seen:
            seen.add(unit.url)
            embed = {"title": embed.pop("title"), "url": unit.url, **embed}
        out.append(embed)
    return out


def _rows(group: list[_Unit]) -> list[dict[str, object]]:
    """The group's feedback buttons in rows of PAPERS_PER_ROW papers, in the embeds' order;
    a paper whose key the message already has buttons for is left out (Discord refuses a
    message with duplicate custom_ids)."""
    seen: set[str] = set()
    papers: list[tuple[dict[str, object], ...]] = []
    for unit in group:
        if unit.buttons and unit.key not in seen:
            seen.add(unit.key)
            papers.append(unit.buttons)
    return [
        {
            "type": 1,
            "components": [b for buttons in papers[i : i + PAPERS_PER_ROW] for b in buttons],
        }
        for i in range(0, len(papers), PAPERS_PER_ROW)
    ]


def _payload(
    content: str, embeds: list[Embed], rows: list[dict[str, object]] | None = None
) -> dict[str, object]:
    payload: dict[str, object] = {
        "content": fit(content, MAX_CONTENT, lambda s: s),
        "embeds": embeds,
        "allowed_mentions": dict(ALLOWED_MENTIONS),
    }
    if rows:
        payload["components"] = rows
    return payload


def render_discord(digest: Digest, *, buttons: bool = False) -> list[Message]:
    """The digest as Discord create-message payloads (`content`, `embeds`,
    `allowed_mentions` that parse nothing).

    With `buttons`, the papers are numbered ("Paper 1" above the title, across the digest) and
    each gets two buttons under the message's embeds, "n · More like this" and "n · Not
    for us" (custom_ids `feedback_id`), two papers a row: ten papers fill the five rows a
    message may have. Only for messages the bot posts itself:
    Discord refuses interactive components from webhooks the application does not own.

    The papers the digest asks about (`DigestItem.unsure`) follow in messages of their own
    whose content is UNSURE_HEADING (numbered on, with the same buttons); the "and N more"
    line then ends the last of those.

    Contract: every message keeps Discord's limits (MAX_CONTENT, MAX_EMBEDS, MAX_TITLE,
    MAX_DESCRIPTION, MAX_FIELDS, MAX_FIELD_VALUE, MAX_FOOTER, MAX_TOTAL across its embeds);
    untrusted text is escaped so it shows literally and never mentions; no two embeds of a
    message share a url. Papers keep their order, one embed each, each in exactly one
    message (`Message.keys`); the first message's content is the header, continuations say
    "(continued, i/n)", and the last carries the "and N more" line. An empty digest renders
    one short "no new papers" message with no embeds and no keys.
    """
    more = more_text(digest)
    tail = [fit(more, MAX_LINE, escape)] if more else []
    if not digest.items:
        lines = [fit(empty_text(digest), MAX_LINE, escape), *tail]
        return [Message(payload=_payload("\n".join(lines), []))]

    papers, asked = sections(digest)
    units = [
        _paper_unit(item, n if buttons else None)
        for n, item in enumerate((*papers, *asked), start=1)
    ]
    messages: list[Message] = []
    if papers:
        header = fit(header_text(digest), MAX_LINE, escape)
        messages += _section(units[: len(papers)], header, [] if asked else tail)
    if asked:
        heading = fit(UNSURE_HEADING, MAX_LINE, escape)
        messages += _section(units[len(papers) :], heading, tail)
    return messages


def _section(units: list[_Unit], header: str, tail: list[str]) -> list[Message]:
    """`units` as messages: the first's content is `header`, continuations say
    "(continued, i/n)", the last carries `tail`."""
    groups = _pack(units)
    messages: list[Message] = []
    for i, group in enumerate(groups):
        lines = [header if i == 0 else continued_text(i + 1, len(groups))]
        if i == len(groups) - 1:
            lines.extend(tail)
        rows = _rows(group)
        messages.append(
            Message(
                payload=_payload("\n".join(lines), _embeds(group), rows),
                keys=tuple(unit.key for unit in group),
            )
        )
    return messages
