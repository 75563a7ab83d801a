"""A Reply as each platform's message: Slack Block Kit and Discord content + embeds. Pure.

Every string of a Reply is escaped here, so a paper title or a user's query that contains
`<!channel>`, `@everyone` or a link markup shows literally and pings nobody.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.pipeline.render import discord_embeds as dc
from bot.pipeline.render import slack as sl
from bot.pipeline.render.common import clean, fit, format_day, links, primary_url
from handlers.reply import PaperLine, Reply

MAX_LINE = 500
MAX_DETAIL = 300
SLACK_MAX_PAPERS = 20  # 2 blocks each; the block and text budgets may leave some out
SLACK_MAX_LINES = 12  # note lines before the papers: they must leave the papers room
DISCORD_MAX_PAPERS = dc.MAX_EMBEDS
DEFAULT_TITLE = "Paperboy"  # a reply always has a title; this one is never shown in practice
NOT_SHOWN = "…and {} more not shown (message size limit)"


def _posted(line: PaperLine) -> str | None:
    return f"posted here on {format_day(line.posted_on)}" if line.posted_on else None


def _dated(line: PaperLine) -> str | None:
    p = line.paper
    when = p.daily_date or (p.published.date() if p.published else None)
    if when is None and p.first_seen is not None:
        when = p.first_seen.date()
    return format_day(when) if when else None


@dataclass(frozen=True, slots=True)
class SlackReply:
    """`text` (fallback) and `blocks`, and whether it goes to the channel (`in_channel`)
    or to the caller only (`ephemeral`): the body of a `respond()` / response_url post."""

    text: str
    blocks: list[dict[str, object]]
    response_type: str

    def body(self) -> dict[str, object]:
        return {"text": self.text, "blocks": self.blocks, "response_type": self.response_type}


def slack_reply(reply: Reply) -> SlackReply:
    """The reply as Slack blocks within Block Kit limits; all text escaped.

    At most MAX_BLOCKS blocks and MAX_MESSAGE_TEXT characters of block text: lines (at
    most SLACK_MAX_LINES) and papers that would cross either are left out (a paper is never
    split) and counted in a closing "…and N more not shown" line. The fallback `text` is
    never empty."""
    title = fit(clean(reply.title) or DEFAULT_TITLE, sl.MAX_SECTION_TEXT - 4, sl.escape)
    footer = fit(clean(reply.footer or ""), MAX_LINE, sl.escape)
    tail: list[dict[str, object]] = [sl.context(footer)] if footer else []
    budget = _Budget(
        blocks=sl.MAX_BLOCKS - len(tail) - 1,  # one kept for the "not shown" line
        text=sl.MAX_MESSAGE_TEXT - sum(sl.block_text_len(b) for b in tail) - len(NOT_SHOWN) - 9,
    )
    blocks: list[dict[str, object]] = []
    budget.add(blocks, [{"type": "section", "text": sl.mrkdwn(f"*{title}*")}])
    left_out = 0
    for line in reply.lines[:SLACK_MAX_LINES]:
        if text := fit(clean(line), MAX_LINE, sl.escape):
            left_out += not budget.add(blocks, [{"type": "section", "text": sl.mrkdwn(text)}])
    left_out += max(0, len(reply.lines) - SLACK_MAX_LINES)
    for paper_line in reply.papers[:SLACK_MAX_PAPERS]:
        left_out += not budget.add(blocks, _slack_paper(paper_line))
    left_out += max(0, len(reply.papers) - SLACK_MAX_PAPERS)
    if left_out:
        blocks.append(sl.context(NOT_SHOWN.format(left_out)))
    blocks += tail
    fallback = fit(clean(reply.title) or DEFAULT_TITLE, sl.MAX_FALLBACK, sl.escape)
    return SlackReply(fallback, blocks, "in_channel" if reply.public else "ephemeral")


@dataclass(slots=True)
class _Budget:
    """Blocks and block-text characters still free in a Slack message."""

    blocks: int
    text: int

    def add(self, blocks: list[dict[str, object]], unit: list[dict[str, object]]) -> bool:
        """Append `unit` (kept whole) when it fits; False when it was left out."""
        size = sum(sl.block_text_len(b) for b in unit)
        if len(unit) > self.blocks or size > self.text:
            return False
        blocks.extend(unit)
        self.blocks -= len(unit)
        self.text -= size
        return True


def _slack_paper(line: PaperLine) -> list[dict[str, object]]:
    paper = line.paper
    shown = fit(clean(paper.title) or "(untitled)", sl.MAX_TITLE, sl.escape_link_text)
    url = primary_url(paper)
    head = f"*<{sl.escape(url)}|{shown}>*" if url else f"*{shown}*"
    parts = [head]
    if summary := fit(clean(line.summary), sl.MAX_SUMMARY, sl.escape):
        parts.append(summary)
    meta = [m for m in (_dated(line), _posted(line)) if m]
    meta += [f"<{sl.escape(u)}|{label}>" for label, u in links(paper)]
    if paper.upvotes is not None:
        meta.append(f"▲ {paper.upvotes}")
    if line.detail and (detail := fit(clean(line.detail), MAX_DETAIL, sl.escape)):
        meta.append(detail)
    blocks: list[dict[str, object]] = [{"type": "section", "text": sl.mrkdwn("\n".join(parts))}]
    if meta:
        blocks.append(sl.context(*meta[: sl.MAX_CONTEXT_ELEMENTS]))
    return blocks


@dataclass(frozen=True, slots=True)
class DiscordReply:
    """Interaction response content and embeds; `ephemeral` unless the reply is public.
    `allowed_mentions` parses nothing."""

    content: str
    embeds: list[dict[str, object]]
    ephemeral: bool
    allowed_mentions: dict[str, object]

    def body(self) -> dict[str, object]:
        """The interaction callback `data` object (flags 64 = ephemeral)."""
        data: dict[str, object] = {
            "content": self.content,
            "embeds": self.embeds,
            "allowed_mentions": self.allowed_mentions,
        }
        if self.ephemeral:
            data["flags"] = 64
        return data


def discord_reply(reply: Reply) -> DiscordReply:
    """The reply as Discord content and at most 10 embeds within Discord's limits."""
    parts = [f"**{fit(clean(reply.title) or DEFAULT_TITLE, 400, dc.escape)}**"]
    parts += [t for line in reply.lines if (t := fit(clean(line), MAX_LINE, dc.escape))]
    if reply.footer and (footer := fit(clean(reply.footer), MAX_LINE, dc.escape)):
        parts.append(f"-# {footer}")
    content = fit("\n".join(parts), dc.MAX_CONTENT, lambda s: s)
    embeds: list[dict[str, object]] = []
    total = 0
    urls: set[str] = set()
    for paper_line in reply.papers[:DISCORD_MAX_PAPERS]:
        embed = _discord_paper(paper_line)
        size = dc.embed_size(embed)
        if total + size > dc.MAX_TOTAL:
            break
        url = embed.get("url")
        if isinstance(url, str):  # Discord collapses embeds sharing a url into one
            if url in urls:
                del embed["url"]
            urls.add(url)
        embeds.append(embed)
        total += size
    return DiscordReply(content, embeds, not reply.public, dict(dc.ALLOWED_MENTIONS))


def _discord_paper(line: PaperLine) -> dict[str, object]:
    paper = line.paper
    embed: dict[str, object] = {
        "title": fit(clean(paper.title) or "(untitled)", dc.MAX_TITLE, dc.escape)
    }
    if url := primary_url(paper):
        embed["url"] = url
    if summary := fit(clean(line.summary), dc.MAX_SUMMARY, dc.escape):
        embed["description"] = summary
    anchors: list[str] = []
    for label, u in links(paper):  # whole links only: a cut one would be broken Markdown
        anchor = f"[{label}]({u.replace('(', '%28').replace(')', '%29')})"
        if len(" · ".join([*anchors, anchor])) <= dc.MAX_FIELD_VALUE:
            anchors.append(anchor)
    if anchors:
        embed["fields"] = [{"name": "Links", "value": " · ".join(anchors), "inline": False}]
    footer = [m for m in (_dated(line), _posted(line)) if m]
    if paper.upvotes is not None:
        footer.append(f"▲ {paper.upvotes}")
    if line.detail and (detail := clean(line.detail)):
        footer.append(detail)
    if footer and (text := fit(" · ".join(footer), MAX_DETAIL, dc.escape)):
        embed["footer"] = {"text": text}
    return embed
