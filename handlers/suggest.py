"""Topics for autocomplete: the channel's own, or those the archive knows."""

from __future__ import annotations

from rapidfuzz import fuzz, process

from bot.errors import StoreError
from bot.pipeline.render.common import clean
from bot.store import aio
from bot.store.profile_rules import MAX_TOPIC_CHARS, split_ref, topic_key
from handlers.services import Services

SUGGESTION_SIMILARITY = 60.0
MAX_SUGGESTIONS = 25  # Discord's autocomplete limit


async def topic_suggestions(
    services: Services, channel_ref: str, prefix: str, *, mine: bool
) -> list[str]:
    """Topics for autocomplete, best first, at most MAX_SUGGESTIONS: the channel's own
    topics (`mine`, for unsubscribe; a person's own for their `user:…` ref) or topics the
    archive knows — long forms of learned acronyms and HF keywords — for subscribe. Never
    raises."""
    typed = clean(prefix)[:MAX_TOPIC_CHARS]
    platform, channel_id = split_ref(channel_ref)  # a person's own: user:discord:<id>

    def read() -> list[str]:
        if mine:
            profile = services.profiles.get(platform, channel_id)
            return list(profile.topics) if profile else []
        lexicon = services.lexicon()
        known = {lexicon.spelling(lf) for forms in lexicon.acronyms.values() for lf in forms}
        known |= set(lexicon.acronyms)
        return sorted(known)

    try:
        choices = await aio.run(read)
    except StoreError:
        return []
    if not typed:
        return choices[:MAX_SUGGESTIONS]
    key = topic_key(typed)
    starts = [c for c in choices if topic_key(c).startswith(key)]
    fuzzy = process.extract(
        key, {c: topic_key(c) for c in choices}, scorer=fuzz.WRatio, limit=MAX_SUGGESTIONS
    )
    ranked = [*starts, *(str(c[2]) for c in fuzzy if c[1] >= SUGGESTION_SIMILARITY)]
    return list(dict.fromkeys(ranked))[:MAX_SUGGESTIONS]
