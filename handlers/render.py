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
SLACK_MAX_PAPERS = 20  # 2 blocks each, well inside 50 blocks
DISCORD_MAX_PAPERS = dc.MAX_EMBEDS


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
    """The reply as Slack blocks within Block Kit limits; all text escaped."""
    title = fit(clean(reply.title), sl.MAX_SECTION_TEXT - 4, sl.escape)
    blocks: list[dict[str, object]] = [{"type": "section", "text": sl.mrkdwn(f"*{title}*")}]
    for line in reply.lines:
        if text := fit(clean(line), MAX_LINE, sl.escape):
            blocks.append({"type": "section", "text": sl.mrkdwn(text)})
    for paper_line in reply.papers[:SLACK_MAX_PAPERS]:
        blocks.extend(_slack_paper(paper_line))
    if reply.footer and (footer := fit(clean(reply.footer), MAX_LINE, sl.escape)):
        blocks.append(sl.context(footer))
    fallback = fit(clean(reply.title), sl.MAX_FALLBACK, sl.escape)
    return SlackReply(fallback, blocks, "in_channel" if reply.public else "ephemeral")


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
    parts = [f"**{fit(clean(reply.title), 400, dc.escape)}**"]
    parts += [t for line in reply.lines if (t := fit(clean(line), MAX_LINE, dc.escape))]
    if reply.footer and (footer := fit(clean(reply.footer), MAX_LINE, dc.escape)):
        parts.append(f"-# {footer}")
    content = fit("\n".join(parts), dc.MAX_CONTENT, lambda s: s)
    embeds: list[dict[str, object]] = []
    total = 0
    for paper_line in reply.papers[:DISCORD_MAX_PAPERS]:
        embed = _discord_paper(paper_line)
        size = dc.embed_size(embed)
        if total + size > dc.MAX_TOTAL:
            break
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
    fields: list[dict[str, object]] = []
    anchors = " · ".join(
        f"[{label}]({u.replace('(', '%28').replace(')', '%29')})" for label, u in links(paper)
    )
    if anchors:
        fields.append({"name": "Links", "value": anchors[: dc.MAX_FIELD_VALUE], "inline": False})
    if fields:
        embed["fields"] = fields
    footer = [m for m in (_dated(line), _posted(line)) if m]
    if paper.upvotes is not None:
        footer.append(f"▲ {paper.upvotes}")
    if line.detail:
        footer.append(clean(line.detail))
    if footer:
        embed["footer"] = {"text": fit(" · ".join(footer), MAX_DETAIL, dc.escape)}
    return embed
