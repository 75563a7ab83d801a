"""What Discord checks in a message body before creating it, with its error shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

Errors = dict[str, Any]


class DiscordLimits:
    """Message limits as data (Discord's "Create Message" and "Embed Limits" docs).

    Checked: content ≤ 2000; ≤ 10 embeds; embed title ≤ 256, description ≤ 4096, ≤ 25
    fields, field name ≤ 256 and value ≤ 1024 (both required, non-empty), footer text ≤
    2048, author name ≤ 256; all embed text of a message together ≤ 6000; nonce ≤ 25
    characters; ``allowed_mentions.parse`` ⊆ {roles, users, everyone} and not both
    ``parse: ["users"]`` and a ``users`` list; components (not Components V2): ≤ 5 action
    rows of 1–5 buttons (or one select), a button's style 1–6, label ≤ 80, custom_id 1–100
    and unique in the message (styles 1–4 need one, link buttons (5) a url and none).
    Violations answer 400 ``{"code": 50035,
    "message": "Invalid Form Body", "errors": {...}}`` with Discord's nested ``_errors``
    layout; a message with nothing to show answers 400 code 50006.
    """

    MAX_CONTENT: ClassVar[int] = 2000
    MAX_EMBEDS: ClassVar[int] = 10
    MAX_TITLE: ClassVar[int] = 256
    MAX_DESCRIPTION: ClassVar[int] = 4096
    MAX_FIELDS: ClassVar[int] = 25
    MAX_FIELD_NAME: ClassVar[int] = 256
    MAX_FIELD_VALUE: ClassVar[int] = 1024
    MAX_FOOTER_TEXT: ClassVar[int] = 2048
    MAX_AUTHOR_NAME: ClassVar[int] = 256
    MAX_EMBEDS_TOTAL: ClassVar[int] = 6000
    MAX_NONCE: ClassVar[int] = 25
    MAX_USERNAME: ClassVar[int] = 80
    MENTION_KINDS: ClassVar[frozenset[str]] = frozenset({"roles", "users", "everyone"})
    MAX_ROWS: ClassVar[int] = 5
    MAX_ROW_ITEMS: ClassVar[int] = 5
    MAX_LABEL: ClassVar[int] = 80
    MAX_CUSTOM_ID: ClassVar[int] = 100
    MAX_URL: ClassVar[int] = 512
    SELECTS: ClassVar[frozenset[int]] = frozenset({3, 5, 6, 7, 8})

    @classmethod
    def check(cls, payload: Mapping[str, Any], *, has_files: bool = False) -> dict[str, Any] | None:
        """None when Discord would create the message; else the 400 body it would answer."""
        errors: Errors = {}
        content = payload.get("content")
        if content is not None:
            if not isinstance(content, str):
                _put(errors, ["content"], "BASE_TYPE_STRING", "Must be a string.")
            elif len(content) > cls.MAX_CONTENT:
                _too_long(errors, ["content"], cls.MAX_CONTENT)
        embeds = payload.get("embeds") or []
        if not isinstance(embeds, list):
            _put(errors, ["embeds"], "BASE_TYPE_ARRAY", "Must be an array.")
            embeds = []
        elif len(embeds) > cls.MAX_EMBEDS:
            _too_long(errors, ["embeds"], cls.MAX_EMBEDS)
        for i, embed in enumerate(embeds):
            cls._check_embed(embed, ["embeds", str(i)], errors)
        if not errors and embeds_text_length(embeds) > cls.MAX_EMBEDS_TOTAL:
            _put(
                errors,
                ["embeds"],
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {cls.MAX_EMBEDS_TOTAL}",
            )
        nonce = payload.get("nonce")
        if isinstance(nonce, str) and len(nonce) > cls.MAX_NONCE:
            _too_long(errors, ["nonce"], cls.MAX_NONCE)
        username = payload.get("username")
        if isinstance(username, str) and not 1 <= len(username) <= cls.MAX_USERNAME:
            _put(
                errors,
                ["username"],
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and {cls.MAX_USERNAME} in length.",
            )
        cls._check_mentions(payload.get("allowed_mentions"), errors)
        cls._check_components(payload.get("components"), errors)
        if errors:
            return {"code": 50035, "message": "Invalid Form Body", "errors": errors}
        text = content.strip() if isinstance(content, str) else ""
        if not text and not embeds and not has_files and not _has_other_content(payload):
            return {"code": 50006, "message": "Cannot send an empty message"}
        return None

    @classmethod
    def _check_embed(cls, embed: object, at: list[str], errors: Errors) -> None:
        if not isinstance(embed, Mapping):
            _put(errors, at, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            return
        for key, limit in (("title", cls.MAX_TITLE), ("description", cls.MAX_DESCRIPTION)):
            value = embed.get(key)
            if isinstance(value, str) and len(value) > limit:
                _too_long(errors, [*at, key], limit)
        for key, sub, limit in (
            ("footer", "text", cls.MAX_FOOTER_TEXT),
            ("author", "name", cls.MAX_AUTHOR_NAME),
        ):
            part = embed.get(key)
            if isinstance(part, Mapping):
                value = part.get(sub)
                if not isinstance(value, str) or not value:
                    _required(errors, [*at, key, sub])
                elif len(value) > limit:
                    _too_long(errors, [*at, key, sub], limit)
        fields = embed.get("fields") or []
        if not isinstance(fields, list):
            _put(errors, [*at, "fields"], "BASE_TYPE_ARRAY", "Must be an array.")
            return
        if len(fields) > cls.MAX_FIELDS:
            _too_long(errors, [*at, "fields"], cls.MAX_FIELDS)
        for j, item in enumerate(fields):
            where = [*at, "fields", str(j)]
            if not isinstance(item, Mapping):
                _put(errors, where, "DICT_TYPE_CONVERT", "Only dictionaries may be used")
                continue
            for key, limit in (("name", cls.MAX_FIELD_NAME), ("value", cls.MAX_FIELD_VALUE)):
                value = item.get(key)
                if not isinstance(value, str) or not value:
                    _required(errors, [*where, key])
                elif len(value) > limit:
                    _too_long(errors, [*where, key], limit)

    @classmethod
    def _check_components(cls, rows: object, errors: Errors) -> None:
        if rows is None:
            return
        if not isinstance(rows, list):
            _put(errors, ["components"], "BASE_TYPE_ARRAY", "Must be an array.")
            return
        if len(rows) > cls.MAX_ROWS:
            _too_long(errors, ["components"], cls.MAX_ROWS)
        seen: set[str] = set()
        for i, row in enumerate(rows):
            at = ["components", str(i)]
            if not isinstance(row, Mapping) or row.get("type") != 1:
                _put(errors, at, "UNION_TYPE_CHOICES", 'Value of field "type" must be 1.')
                continue
            items = row.get("components")
            if not isinstance(items, list) or not items:
                _put(errors, [*at, "components"], "BASE_TYPE_MIN_LENGTH", "Must be 1 or more.")
                continue
            if len(items) > cls.MAX_ROW_ITEMS:
                _too_long(errors, [*at, "components"], cls.MAX_ROW_ITEMS)
            for j, item in enumerate(items):
                cls._check_item(item, [*at, "components", str(j)], len(items), seen, errors)

    @classmethod
    def _check_item(
        cls, item: object, at: list[str], siblings: int, seen: set[str], errors: Errors
    ) -> None:
        if not isinstance(item, Mapping):
            _put(errors, at, "DICT_TYPE_CONVERT", "Only dictionaries may be used")
            return
        kind = item.get("type")
        if kind in cls.SELECTS and siblings > 1:
            _put(errors, at, "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "A select takes a whole row.")
        elif kind != 2 and kind not in cls.SELECTS:
            _put(errors, [*at, "type"], "BASE_TYPE_CHOICES", "Not a valid component type.")
            return
        label = item.get("label")
        if label is not None and (not isinstance(label, str) or len(label) > cls.MAX_LABEL):
            _too_long(errors, [*at, "label"], cls.MAX_LABEL)
        style = item.get("style")
        link = kind == 2 and style == 5
        if kind == 2 and style not in {1, 2, 3, 4, 5, 6}:
            _put(errors, [*at, "style"], "BASE_TYPE_CHOICES", "Not a valid button style.")
        if kind == 2 and style == 2 and label is None and item.get("emoji") is None:
            _put(errors, at, "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED", "Label or emoji.")
        custom_id = item.get("custom_id")
        if link:
            url = item.get("url")
            if custom_id is not None:
                _put(errors, at, "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED", "Link: no custom_id.")
            if not isinstance(url, str) or not 1 <= len(url) <= cls.MAX_URL:
                _required(errors, [*at, "url"])
            return
        if kind == 2 and style == 6:  # premium: a sku, no custom_id
            return
        if not isinstance(custom_id, str) or not custom_id:
            _required(errors, [*at, "custom_id"])
        elif len(custom_id) > cls.MAX_CUSTOM_ID:
            _too_long(errors, [*at, "custom_id"], cls.MAX_CUSTOM_ID)
        elif custom_id in seen:
            _put(
                errors,
                [*at, "custom_id"],
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        else:
            seen.add(custom_id)

    @classmethod
    def _check_mentions(cls, allowed: object, errors: Errors) -> None:
        if allowed is None:
            return
        if not isinstance(allowed, Mapping):
            _put(errors, ["allowed_mentions"], "MODEL_TYPE_CONVERT", "Must be an object.")
            return
        parse = allowed.get("parse", [])
        if not isinstance(parse, list) or not set(parse) <= cls.MENTION_KINDS:
            _put(errors, ["allowed_mentions", "parse"], "BASE_TYPE_CHOICES", "Not a valid choice.")
            return
        for kind in ("users", "roles"):
            if kind in parse and allowed.get(kind):
                _put(
                    errors,
                    ["allowed_mentions"],
                    "SET_TYPE_ALREADY_CONTAINS_VALUE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                )


def embeds_text_length(embeds: list[Any]) -> int:
    """Characters counted against the 6000 cap: title, description, field names and
    values, footer text and author name, across all embeds."""
    total = 0
    for embed in embeds:
        if not isinstance(embed, Mapping):
            continue
        total += sum(len(embed.get(k) or "") for k in ("title", "description"))
        total += len((embed.get("footer") or {}).get("text") or "")
        total += len((embed.get("author") or {}).get("name") or "")
        for item in embed.get("fields") or []:
            if isinstance(item, Mapping):
                total += len(item.get("name") or "") + len(item.get("value") or "")
    return total


def shared_embed_urls(embeds: list[Any]) -> bool:
    """True when two embeds carry the same url: Discord's client merges them into one."""
    urls = [e.get("url") for e in embeds if isinstance(e, Mapping) and e.get("url")]
    return len(urls) != len(set(urls))


def _has_other_content(payload: Mapping[str, Any]) -> bool:
    return any(payload.get(k) for k in ("components", "sticker_ids", "poll", "attachments"))


def _put(errors: Errors, path: list[str], code: str, message: str) -> None:
    node = errors
    for key in path:
        node = node.setdefault(key, {})
    node.setdefault("_errors", []).append({"code": code, "message": message})


def _too_long(errors: Errors, path: list[str], limit: int) -> None:
    _put(errors, path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _required(errors: Errors, path: list[str]) -> None:
    _put(errors, path, "BASE_TYPE_REQUIRED", "This field is required")


def interactive_components(payload: Mapping[str, Any]) -> bool:
    """True when the payload has a component a user can interact with (anything but a link
    button): webhooks the application does not own cannot send those."""
    for row in payload.get("components") or []:
        for item in (row.get("components") or []) if isinstance(row, Mapping) else []:
            if isinstance(item, Mapping) and not (item.get("type") == 2 and item.get("style") == 5):
                return True
    return False
