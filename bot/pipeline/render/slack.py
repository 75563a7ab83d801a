"""Slack rendering: a digest as Block Kit messages within Slack's limits, all text escaped."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.models import Digest, DigestItem, Message, Paper
from bot.pipeline.render.common import (
    LESS_LABEL,
    MAX_URL,
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

# Block Kit limits (api.slack.com/reference/block-kit).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_TEXT_OBJECT = 3000
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75  # plain_text
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
# Slack's advice: keep a message's block text under ~10k characters.
MAX_MESSAGE_TEXT = 10_000
# The top-level `text` fallback (notifications, screen readers) we send.
MAX_FALLBACK = 3000
# Policy caps per paper, measured after escaping; together well inside one section.
MAX_TITLE = 300
MAX_AUTHORS = 300
MAX_SUMMARY = 1000
MAX_TOPICS = 500

Block = dict[str, object]
DIVIDER: Block = {"type": "divider"}
# Feedback buttons: action_id says the vote, value names the paper (`feedback_ref`).
# Slack wants action_ids unique within their block: each paper has its own actions block,
# with a block_id unique in its message (FEEDBACK_BLOCK and the paper's place in it).
MORE_ACTION = "paperboy_more"
LESS_ACTION = "paperboy_less"
FEEDBACK_BLOCK = "paperboy_feedback_"
# Lookalikes for mrkdwn control characters inside `*<url|title>*`: a title cannot end the
# bold, the link text, or open code/strike/italic spans.
_LINK_TEXT = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ", "|": "∣"})


def escape(text: str) -> str:
    """Slack escaping of untrusted text: `&`, `<`, `>` as entities, in that order, so no
    `<!channel>`, `<@U123>` or `<url|text>` in the text becomes a mention or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_link_text(text: str) -> str:
    """`escape(text)` with mrkdwn formatting characters replaced by lookalikes."""
    return escape(text).translate(_LINK_TEXT)


def _url(url: str | None) -> str | None:
    """The escaped URL for a `<url|label>` link, or None when escaping made it too long."""
    if url is None:
        return None
    escaped = escape(url)
    return escaped if len(escaped) <= MAX_URL else None


def mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts]}


def block_text_len(block: Block) -> int:
    """The characters a block contributes to the message's text (header, section, context,
    the buttons of an actions block)."""
    text = block.get("text")
    if isinstance(text, dict):
        return len(str(text.get("text", "")))
    if isinstance(text, str):
        return len(text)
    elements = block.get("elements")
    if isinstance(elements, list):
        return sum(block_text_len(e) for e in elements if isinstance(e, dict))
    return 0


def _button(action_id: str, label: str, value: str) -> Block:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": value,
    }


def feedback_block(key: str) -> Block:
    """The "More like this" / "Not for us" buttons of the paper `key` (block_id set per
    message by `render_slack`)."""
    ref = feedback_ref(key, MAX_BUTTON_VALUE)
    return {
        "type": "actions",
        "elements": [
            _button(MORE_ACTION, f"👍 {MORE_LABEL}", ref),
            _button(LESS_ACTION, f"👎 {LESS_LABEL}", ref),
        ],
    }


@dataclass(frozen=True, slots=True)
class _Unit:
    """One paper's blocks, kept together in one message."""

    key: str
    title: str
    blocks: tuple[Block, ...]
    text_len: int  # the characters of its blocks' text (`block_text_len`)


def _paper_unit(item: DigestItem, *, buttons: bool) -> _Unit:
    """The paper's blocks in a digest: its section block and link/upvote elements are the
    paper's own, remembered and shared by every digest it is in (payloads are read-only:
    deliveries copy what they add to); the context block holding the topics is the
    digest's own."""
    paper = item.paper
    try:
        parts = _remembered_parts(paper, item.summary)
    except TypeError:  # a paper built with lists is unhashable: not remembered
        parts = _paper_parts(paper, item.summary)
    blocks: list[Block] = [parts.section]
    elements = list(parts.after)
    text_len = parts.text_len
    if topics := _topics_text(tuple(item.topics)):
        elements.insert(0, topics)
        text_len += len(topics["text"])  # type: ignore[arg-type]
    if elements:
        blocks.append({"type": "context", "elements": elements})
    if buttons:
        block = feedback_block(paper.key)
        blocks.append(block)
        text_len += block_text_len(block)
    return _Unit(key=paper.key, title=parts.title, blocks=tuple(blocks), text_len=text_len)


@lru_cache(maxsize=65_536)
def _topics_text(topics: tuple[str, ...]) -> Block | None:
    """The topics' context element, or None without any topic text."""
    shown = fit(topics_line(topics), MAX_TOPICS, escape)
    return mrkdwn(f"🏷 {shown}") if shown else None


@dataclass(frozen=True, slots=True)
class _Parts:
    """What a paper's blocks show whatever the channel: its title, its section block, the
    context elements after the topics (links, upvotes), and the characters of those."""

    title: str
    section: Block
    after: tuple[Block, ...]
    text_len: int


def _paper_parts(paper: Paper, summary: str) -> _Parts:
    """The paper's `_Parts`. Remembered (a paper goes to many channels)."""
    title = clean(paper.title) or "(untitled)"
    shown = fit(title, MAX_TITLE, escape_link_text)
    url = _url(primary_url(paper))
    lines = [f"*<{url}|{shown}>*" if url else f"*{shown}*"]
    if authors := fit(authors_line(paper.authors), MAX_AUTHORS, escape):
        lines.append(authors)
    if summary := fit(clean(summary), MAX_SUMMARY, escape):
        lines.append(summary)
    after: list[str] = []
    anchors = [f"<{u}|{label}>" for label, raw in links(paper) if (u := _url(raw))]
    if anchors:
        after.append(" · ".join(anchors))
    if paper.upvotes is not None:
        after.append(f"▲ {paper.upvotes}")
    section = "\n".join(lines)
    return _Parts(
        title=title,
        section={"type": "section", "text": mrkdwn(section)},
        after=tuple(mrkdwn(a) for a in after),
        text_len=len(section) + sum(len(a) for a in after),
    )


_remembered_parts = lru_cache(maxsize=4096)(_paper_parts)


def _pack(
    units: list[_Unit], reserved_blocks: int, reserved_text: int, *, dividers: bool = True
) -> list[list[_Unit]]:
    """Greedy split into groups that fit a message with the reserved room (and a divider
    between papers when `dividers`); a paper is never split, and each group holds at
    least one paper."""
    groups: list[list[_Unit]] = []
    group: list[_Unit] = []
    blocks = text = 0
    for unit in units:
        need_blocks = len(unit.blocks) + (1 if group and dividers else 0)
        fits = (
            blocks + need_blocks <= MAX_BLOCKS - reserved_blocks
            and text + unit.text_len <= MAX_MESSAGE_TEXT - reserved_text
        )
        if group and not fits:
            groups.append(group)
            group, blocks, text = [], 0, 0
            need_blocks = len(unit.blocks)
        group.append(unit)
        blocks += need_blocks
        text += unit.text_len
    if group:
        groups.append(group)
    return groups


def _payload(text: str, blocks: list[Block]) -> dict[str, object]:
    return {"text": text, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def render_slack(digest: Digest, *, buttons: bool = False) -> list[Message]:
    """The digest as Slack `chat.postMessage` payloads (`text`, `blocks`, unfurling off).

    With `buttons`, each paper ends with an actions block of two buttons, "More like this"
    (action_id MORE_ACTION) and "Not for us" (LESS_ACTION), whose value names the paper
    (`feedback_ref`: its key, or `#digest` beyond MAX_BUTTON_VALUE); the buttons end each
    paper in place of the divider, so a message still holds 16 papers. Only for messages
    the app posts itself (bot token): a click reaches the app that posted the message.

    Contract: every message keeps Slack's limits (MAX_BLOCKS, MAX_SECTION_TEXT,
    MAX_HEADER, MAX_CONTEXT_ELEMENTS, MAX_MESSAGE_TEXT of block text, a non-empty `text`
    fallback of at most MAX_FALLBACK); every untrusted string is escaped; the only links
    are `<url|label>` built from the paper's safe URLs. Papers keep their order, each in
    exactly one message (`Message.keys`); the first message opens with the header,
    continuations with "(continued, i/n)", and the last ends with the "and N more" line.
    The papers the digest asks about (`DigestItem.unsure`) follow in messages of their own
    headed UNSURE_HEADING, with the same buttons; the "and N more" line then ends the
    last of those. An empty digest renders one short "no new papers" message with no keys.
    """
    header = fit(header_text(digest), MAX_HEADER, escape)
    more = more_text(digest)
    tail: list[Block] = [context(fit(more, MAX_TEXT_OBJECT, escape))] if more else []
    if not digest.items:
        line = fit(empty_text(digest), MAX_SECTION_TEXT, escape)
        blocks: list[Block] = [{"type": "section", "text": mrkdwn(line)}, *tail]
        return [Message(payload=_payload(line, blocks))]

    papers, asked = sections(digest)
    messages: list[Message] = []
    if papers:
        units = [_paper_unit(item, buttons=buttons) for item in papers]
        messages += _section(units, header, header_text(digest), [] if asked else tail, buttons)
    if asked:
        units = [_paper_unit(item, buttons=buttons) for item in asked]
        heading = fit(UNSURE_HEADING, MAX_HEADER, escape)
        messages += _section(units, heading, UNSURE_HEADING, tail, buttons)
    return messages


def _section(
    units: list[_Unit], header: str, raw: str, tail: list[Block], buttons: bool
) -> list[Message]:
    """`units` as messages: the first opens with a header block of `header` (escaped;
    `raw` unescaped, for the fallback), continuations with "(continued, i/n)", the last
    ends with `tail`. A divider between papers, unless their buttons end them."""
    lead_len = max(len(header), len(continued_text(len(units), len(units))))
    reserved = lead_len + sum(block_text_len(b) for b in tail)
    groups = _pack(units, 1 + len(tail), reserved, dividers=not buttons)
    messages: list[Message] = []
    for i, group in enumerate(groups):
        if i == 0:
            lead: Block = {
                "type": "header",
                "text": {"type": "plain_text", "text": header, "emoji": True},
            }
            lead_raw = raw
        else:
            marker = continued_text(i + 1, len(groups))
            lead, lead_raw = context(marker), f"{raw} {marker}"
        blocks = [lead]
        for j, unit in enumerate(group):
            if j and not buttons:
                blocks.append(DIVIDER)
            blocks.extend(
                {**b, "block_id": f"{FEEDBACK_BLOCK}{j}"} if b["type"] == "actions" else b
                for b in unit.blocks
            )
        if i == len(groups) - 1:
            blocks.extend(tail)
        fallback = "\n".join([lead_raw, *(f"• {unit.title}" for unit in group)])
        messages.append(
            Message(
                payload=_payload(fit(fallback, MAX_FALLBACK, escape), blocks),
                keys=tuple(unit.key for unit in group),
            )
        )
    return messages
