"""Discord rendering: a digest as messages of embeds within Discord's limits, nothing pings."""

from __future__ import annotations

import re
from dataclasses import dataclass

from discord.utils import escape_markdown, escape_mentions

from bot.models import Digest, DigestItem, Message
from bot.pipeline.render.common import (
    LESS_LABEL,
    MORE_LABEL,
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
# Feedback buttons: one row per paper, so a message with buttons carries at most MAX_ROWS
# papers. custom_id "paperboy:more:<ref>" / "paperboy:less:<ref>", the ref being the key or
# `#digest` when the key does not fit (`feedback_ref`).
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


def feedback_row(key: str, title: str) -> dict[str, object]:
    """The action row of the paper `key`: "More like this: <title>" and "Not for us".
    Labels are plain text (no Markdown, no mentions); still, a zero-width space follows
    every `@` and `<` of the title and breaks `](`, so nothing shows mention or link syntax."""
    shown = _MASKED_LINK.sub(lambda m: "]" + ZWSP + m.group()[1:], clean(title) or "(untitled)")
    shown = shown.replace("@", "@" + ZWSP).replace("<", "<" + ZWSP)
    more = fit(f"{MORE_LABEL}: {shown}", MAX_LABEL, lambda s: s)
    return {
        "type": 1,
        "components": [
            {"type": 2, "style": PRIMARY, "label": more, "emoji": {"name": "👍"},
             "custom_id": feedback_id(MORE, key)},
            {"type": 2, "style": SECONDARY, "label": LESS_LABEL, "emoji": {"name": "👎"},
             "custom_id": feedback_id(LESS, key)},
        ],
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Unit:
    """One paper's embed (without its url), the url it would carry, its feedback row."""

    key: str
    embed: Embed
    url: str | None
    row: dict[str, object] | None = None

    @property
    def size(self) -> int:
        return embed_size(self.embed)


def _field(name: str, value: str, *, inline: bool) -> dict[str, object]:
    return {"name": name, "value": value, "inline": inline}


def _paper_unit(item: DigestItem, *, buttons: bool) -> _Unit:
    paper = item.paper
    embed: Embed = {"title": fit(clean(paper.title) or "(untitled)", MAX_TITLE, escape)}
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
    row = feedback_row(paper.key, paper.title) if buttons else None
    return _Unit(key=paper.key, embed=embed, url=primary_url(paper), row=row)


def _pack(units: list[_Unit]) -> list[list[_Unit]]:
    """Greedy split into groups of at most MAX_EMBEDS embeds (MAX_ROWS with buttons: one
    row per paper) and MAX_TOTAL characters; a paper is never split, and each group holds
    at least one paper."""
    groups: list[list[_Unit]] = []
    group: list[_Unit] = []
    total = 0
    for unit in units:
        most = MAX_ROWS if unit.row is not None else MAX_EMBEDS
        if group and (len(group) >= most or total + unit.size > MAX_TOTAL):
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
    """The group's feedback rows; a row whose custom_ids the message already has (the same
    key twice) is left off: Discord refuses a message with duplicate custom_ids."""
    seen: set[str] = set()
    rows: list[dict[str, object]] = []
    for unit in group:
        if unit.row is None or unit.key in seen:
            continue
        seen.add(unit.key)
        rows.append(unit.row)
    return rows


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

    With `buttons`, each paper gets an action row ("More like this: <title>", "Not for
    us"; custom_ids `feedback_id`) under the message's embeds, in the embeds' order, so a
    message carries at most MAX_ROWS papers. Only for messages the bot posts itself:
    Discord refuses interactive components from webhooks the application does not own.

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

    header = fit(header_text(digest), MAX_LINE, escape)
    groups = _pack([_paper_unit(item, buttons=buttons) for item in digest.items])
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
