"""The weekly digest as one message per platform (issue 19): the week's top papers, the
trend sentence (the chart's alt text, in words) and the trend chart as the message's file
(`Message.files`, uploaded and shown by bot.delivery as each platform allows).

Pure. Every untrusted string (titles, authors, summaries, topics, the channel's name) goes
through the daily renderers' cleaning and escaping (bot.pipeline.render.common, .slack,
.discord_embeds), so a title with `<!channel>` or `@everyone` pings nobody and links are
only the papers' safe URLs. One message whatever the platform (at most WEEKLY_CAP papers
fit each platform's limits): its `keys` hold the week's key only (bot.weekly posts it
exactly once per week)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.models import Attachment, DigestItem, Message
from bot.pipeline.render import discord_embeds as dc
from bot.pipeline.render import slack as sl
from bot.pipeline.render.common import (
    MONTHS,
    authors_line,
    clean,
    cut,
    fit,
    links,
    primary_url,
    topics_line,
)
from bot.pipeline.weekly import WeeklyDigest

INDENT = "   "
TOP_HEADING = "Top papers of the week"
MAX_TREND = 1000  # the trend sentence, at most (bot.pipeline.trends.describe keeps to it)
# Discord: the papers' list is one embed's description, MAX_DESCRIPTION characters.
DISCORD_TITLE = 150
# Slack: per paper, well inside the message's 10,000 characters of block text for ten.
SLACK_TITLE = 200
SLACK_AUTHORS = 150
SLACK_SUMMARY = 400
SLACK_TOPICS = 150
SLACK_TAIL = 40  # the "and N more this week" line
DISCORD_SUMMARY = 160


def _span(weekly: WeeklyDigest) -> str:
    a, b = weekly.first_day, weekly.end
    start = f"{a.day} {MONTHS[a.month - 1]}" + (f" {a.year}" if a.year != b.year else "")
    return f"{start} – {b.day} {MONTHS[b.month - 1]} {b.year}"


def header_text(weekly: WeeklyDigest) -> str:
    """`This week in #ml-papers: 23 Nov – 29 Nov 2026`, unescaped."""
    name = cut(clean(weekly.channel_name).lstrip("#").strip(), 80)
    return f"This week in #{name}: {_span(weekly)}"


def empty_text(weekly: WeeklyDigest) -> str:
    return "No paper on this channel's topics this week."


def more_text(weekly: WeeklyDigest) -> str | None:
    return f"and {weekly.more} more this week" if weekly.more > 0 else None


def _marks(weekly: WeeklyDigest, item: DigestItem) -> str:
    """`▲ 12 · 👍 2`: HF upvotes and the channel's net votes, when any."""
    parts = []
    if item.paper.upvotes is not None:
        parts.append(f"▲ {item.paper.upvotes}")
    net = (weekly.votes or {}).get(item.paper.key, 0)
    if net > 0:
        parts.append(f"👍 {net}")
    return " · ".join(parts)


def _trend(weekly: WeeklyDigest) -> str:
    return cut(clean(weekly.trend), MAX_TREND)


def _chart(chart: Attachment | None, weekly: WeeklyDigest) -> tuple[Attachment, ...]:
    """The chart as the message's file, its alt text the trend sentence when it has none."""
    if chart is None:
        return ()
    if not chart.alt and weekly.trend:
        return (Attachment(chart.filename, chart.content, chart.media_type, _trend(weekly)),)
    return (chart,)


def _key(key: str) -> tuple[str, ...]:
    return (key,) if key else ()


# --- text (console) ------------------------------------------------------------------------


def render_weekly_text(
    weekly: WeeklyDigest, chart: Attachment | None = None, *, key: str = ""
) -> Message:
    """The weekly digest as one plain-text message (`{"text": ...}`): the header, the trend
    sentence, the chart's file name, then the numbered papers (title, authors, summary,
    topics, links, upvotes and votes) and "and N more". Untrusted text only loses control
    characters and line breaks."""
    lines = [header_text(weekly)]
    if weekly.trend:
        lines.append(f"Trend: {_trend(weekly)}")
    if chart is not None:
        lines.append(f"Chart: {chart.filename}")
    lines.append("")
    if not weekly.items:
        lines.append(empty_text(weekly))
    else:
        lines.append(f"{TOP_HEADING}:")
    for n, item in enumerate(weekly.items, start=1):
        paper = item.paper
        lines.append("")
        lines.append(f"{n}. {clean(paper.title) or '(untitled)'}")
        if authors := authors_line(paper.authors):
            lines.append(INDENT + authors)
        if summary := clean(item.summary):
            lines.append(INDENT + summary)
        if topics := topics_line(item.topics):
            lines.append(f"{INDENT}topics: {topics}")
        if anchors := links(paper):
            lines.append(INDENT + " · ".join(f"{label} {url}" for label, url in anchors))
        if marks := _marks(weekly, item):
            lines.append(INDENT + marks)
    if more := more_text(weekly):
        lines.extend(["", more])
    return Message(payload={"text": "\n".join(lines)}, keys=_key(key), files=_chart(chart, weekly))


# --- Slack ---------------------------------------------------------------------------------


def _slack_paper(weekly: WeeklyDigest, n: int, item: DigestItem) -> list[sl.Block]:
    paper = item.paper
    title = fit(clean(paper.title) or "(untitled)", SLACK_TITLE, sl.escape_link_text)
    url = primary_url(paper)
    shown = f"<{sl.escape(url)}|{title}>" if url and len(sl.escape(url)) <= 500 else title
    lines = [f"*{n}. {shown}*"]
    if authors := fit(authors_line(paper.authors), SLACK_AUTHORS, sl.escape):
        lines.append(authors)
    if summary := fit(clean(item.summary), SLACK_SUMMARY, sl.escape):
        lines.append(summary)
    blocks: list[sl.Block] = [{"type": "section", "text": sl.mrkdwn("\n".join(lines))}]
    context: list[str] = []
    if topics := fit(topics_line(item.topics), SLACK_TOPICS, sl.escape):
        context.append(f"🏷 {topics}")
    if marks := _marks(weekly, item):
        context.append(marks)
    if context:
        blocks.append(sl.context(*context))
    return blocks


def render_weekly_slack(
    weekly: WeeklyDigest, chart: Attachment | None = None, *, key: str = ""
) -> Message:
    """The weekly digest as one Slack `chat.postMessage` payload (`text`, `blocks`,
    unfurling off): a header block, the trend sentence, then each paper's section (its
    title linked to its safe URL, authors, summary) and context (topics, upvotes, votes),
    and "and N more". The chart travels as the message's file: the Slack delivery uploads
    it and shows it in the message. Within Slack's limits (sl.MAX_BLOCKS: 3 + 2 per
    paper at most; sl.MAX_MESSAGE_TEXT: a paper that would pass it is left for "and N
    more"); every untrusted string escaped (`sl.escape`)."""
    header = fit(header_text(weekly), sl.MAX_HEADER, sl.escape)
    blocks: list[sl.Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}}
    ]
    if weekly.trend:
        trend = fit(f"📈 {_trend(weekly)}", sl.MAX_SECTION_TEXT, sl.escape)
        blocks.append({"type": "section", "text": sl.mrkdwn(trend)})
    if not weekly.items:
        blocks.append(sl.context(fit(empty_text(weekly), sl.MAX_TEXT_OBJECT, sl.escape)))
    used = sum(sl.block_text_len(b) for b in blocks) + SLACK_TAIL
    shown = 0
    for n, item in enumerate(weekly.items, start=1):
        paper = _slack_paper(weekly, n, item)
        size = sum(sl.block_text_len(b) for b in paper)
        if used + size > sl.MAX_MESSAGE_TEXT:
            break  # counted in "and N more"
        blocks.extend(paper)
        used += size
        shown += 1
    more = weekly.more + len(weekly.items) - shown
    if more > 0:
        blocks.append(sl.context(f"and {more} more this week"))
    fallback = "\n".join(
        [header_text(weekly), *([_trend(weekly)] if weekly.trend else [])]
        + [f"• {clean(i.paper.title)}" for i in weekly.items]
    )
    payload = {
        "text": fit(fallback, sl.MAX_FALLBACK, sl.escape),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }
    return Message(payload=payload, keys=_key(key), files=_chart(chart, weekly))


# --- Discord -------------------------------------------------------------------------------


def _discord_lines(weekly: WeeklyDigest, items: Sequence[DigestItem]) -> tuple[str, int]:
    """The numbered papers as one embed description, within dc.MAX_DESCRIPTION: a paper
    that does not fit any more is left for "and N more"."""
    out: list[str] = []
    for n, item in enumerate(items, start=1):
        paper = item.paper
        title = fit(clean(paper.title) or "(untitled)", DISCORD_TITLE, dc.escape)
        url = primary_url(paper)
        lines = [f"**{n}.** [{title}]({url.replace('(', '%28').replace(')', '%29')})"
                 if url else f"**{n}.** {title}"]  # fmt: skip
        if summary := fit(clean(item.summary), DISCORD_SUMMARY, dc.escape):
            lines.append(summary)
        extra = [m for m in (_marks(weekly, item),) if m]
        if topics := fit(topics_line(item.topics), 120, dc.escape):
            extra.insert(0, f"🏷 {topics}")
        if extra:
            lines.append(" · ".join(extra))
        block = "\n".join(lines)
        if len("\n\n".join([*out, block])) > dc.MAX_DESCRIPTION:
            break
        out.append(block)
    return "\n\n".join(out), len(out)


def render_weekly_discord(
    weekly: WeeklyDigest, chart: Attachment | None = None, *, key: str = ""
) -> Message:
    """The weekly digest as one Discord create-message payload: `content` the header and
    the trend sentence, one embed listing the numbered papers (title linked to its safe
    URL, summary, topics, upvotes, votes) whose image is the chart (`attachment://` its
    file name: the Discord delivery attaches the file), `allowed_mentions` parsing nothing.
    Within Discord's limits (dc.MAX_CONTENT, dc.MAX_DESCRIPTION, dc.MAX_TOTAL); untrusted
    text escaped (`dc.escape`: no mention, no masked link)."""
    content = [fit(header_text(weekly), dc.MAX_LINE, dc.escape)]
    if weekly.trend:
        content.append(fit(_trend(weekly), dc.MAX_CONTENT - dc.MAX_LINE - 10, dc.escape))
    embed: dc.Embed = {"title": TOP_HEADING}
    description, shown = _discord_lines(weekly, weekly.items)
    if not description:
        description = fit(empty_text(weekly), dc.MAX_LINE, dc.escape)
    more = weekly.more + len(weekly.items) - shown
    if more > 0:
        embed["footer"] = {"text": f"and {more} more this week"}
    embed["description"] = description
    if chart is not None:
        embed["image"] = {"url": f"attachment://{chart.filename}"}
    payload: dict[str, object] = {
        "content": fit("\n".join(content), dc.MAX_CONTENT, lambda s: s),
        "embeds": [embed],
        "allowed_mentions": dict(dc.ALLOWED_MENTIONS),
    }
    return Message(payload=payload, keys=_key(key), files=_chart(chart, weekly))


def render_weekly(
    platform: str, weekly: WeeklyDigest, chart: Attachment | None = None, *, key: str = ""
) -> Message:
    """The weekly digest for `platform` (slack and slack-webhook: Block Kit; discord and
    discord-webhook: an embed; console and anything else: text), carrying `key` (the
    week's ledger key) and the chart as its file."""
    if platform.startswith("slack"):
        return render_weekly_slack(weekly, chart, key=key)
    if platform.startswith("discord"):
        return render_weekly_discord(weekly, chart, key=key)
    return render_weekly_text(weekly, chart, key=key)
