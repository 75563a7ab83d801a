"""What Slack checks in a message before accepting it: text, Block Kit limits, metadata."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Rejection:
    """Slack's refusal: `error` as in ``{"ok": false, "error": ...}`` and the explanations
    Slack puts in ``response_metadata.messages`` (``"[ERROR] ... [json-pointer:/blocks/0]"``)."""

    error: str
    messages: tuple[str, ...] = ()


@dataclass
class _Errors:
    found: list[str] = field(default_factory=list)

    def add(self, pointer: str, message: str) -> None:
        self.found.append(f"[ERROR] {message} [json-pointer:{pointer}]")


class BlockKit:
    """The limits the fake enforces, as data (Block Kit reference and chat.postMessage docs).

    Checked: top-level text (≤ 40,000, else ``msg_too_long``); something to show (text,
    blocks or attachments, else ``no_text``); blocks ≤ 50; block_id ≤ 255 and unique;
    section text 1–3000 (empty is invalid) or fields ≤ 10 of ≤ 2000 each; header text
    plain_text ≤ 150; context ≤ 10 elements (text ≤ 3000, the text-object maximum);
    actions 1–25 elements, each a known interactive element; a button has plain_text text
    ≤ 75, action_id ≤ 255 (unique in its block), value ≤ 2000, url ≤ 3000, style primary
    or danger; image url ≤ 3000, alt_text ≤ 2000; text objects are
    plain_text or mrkdwn; unknown block types are refused. The text of all blocks together
    is capped at 12,000 (``msg_too_long``): Slack truncates or refuses long block messages,
    and Paperboy keeps under ~10k. Metadata needs ``event_type`` and an object
    ``event_payload`` (else ``invalid_metadata_format``).
    """

    MAX_TEXT: ClassVar[int] = 40_000
    MAX_BLOCKS: ClassVar[int] = 50
    MAX_BLOCKS_TEXT: ClassVar[int] = 12_000
    MAX_BLOCK_ID: ClassVar[int] = 255
    MAX_SECTION_TEXT: ClassVar[int] = 3000
    MAX_SECTION_FIELDS: ClassVar[int] = 10
    MAX_FIELD_TEXT: ClassVar[int] = 2000
    MAX_HEADER_TEXT: ClassVar[int] = 150
    MAX_CONTEXT_ELEMENTS: ClassVar[int] = 10
    MAX_TEXT_OBJECT: ClassVar[int] = 3000
    MAX_ACTIONS_ELEMENTS: ClassVar[int] = 25
    MAX_BUTTON_TEXT: ClassVar[int] = 75
    MAX_ACTION_ID: ClassVar[int] = 255
    MAX_BUTTON_VALUE: ClassVar[int] = 2000
    MAX_BUTTON_URL: ClassVar[int] = 3000
    BUTTON_STYLES: ClassVar[frozenset[str]] = frozenset({"primary", "danger"})
    ACTION_ELEMENTS: ClassVar[frozenset[str]] = frozenset(
        {
            "button",
            "checkboxes",
            "datepicker",
            "datetimepicker",
            "overflow",
            "radio_buttons",
            "static_select",
            "external_select",
            "users_select",
            "conversations_select",
            "channels_select",
            "multi_static_select",
            "timepicker",
            "workflow_button",
            "rich_text_input",
        }
    )
    MAX_IMAGE_URL: ClassVar[int] = 3000
    MAX_ALT_TEXT: ClassVar[int] = 2000
    TEXT_TYPES: ClassVar[frozenset[str]] = frozenset({"plain_text", "mrkdwn"})
    BLOCK_TYPES: ClassVar[frozenset[str]] = frozenset(
        {
            "section",
            "header",
            "context",
            "divider",
            "actions",
            "image",
            "rich_text",
            "markdown",
            "video",
            "file",
            "input",
        }
    )

    @classmethod
    def check_message(
        cls,
        *,
        text: object,
        blocks: object,
        attachments: object = None,
        metadata: object = None,
    ) -> Rejection | None:
        """None when Slack would accept the message; else the Rejection it would answer."""
        if text is not None and not isinstance(text, str):
            return Rejection("invalid_arguments", ("[ERROR] text must be a string",))
        if isinstance(text, str) and len(text) > cls.MAX_TEXT:
            return Rejection("msg_too_long")
        if blocks is not None and not isinstance(blocks, list):
            return Rejection("invalid_blocks_format")
        if attachments is not None and not isinstance(attachments, list):
            return Rejection("invalid_attachments")
        if not text and not blocks and not attachments:
            return Rejection("no_text")
        if blocks:
            rejection = cls.check_blocks(blocks)
            if rejection is not None:
                return rejection
        if metadata is not None:
            return cls.check_metadata(metadata)
        return None

    @classmethod
    def check_blocks(cls, blocks: list[Any]) -> Rejection | None:
        errors = _Errors()
        if len(blocks) > cls.MAX_BLOCKS:
            errors.add("/blocks", f"no more than {cls.MAX_BLOCKS} items allowed")
        block_ids: set[str] = set()
        for i, block in enumerate(blocks):
            cls._check_block(block, f"/blocks/{i}", block_ids, errors)
        if errors.found:
            return Rejection("invalid_blocks", tuple(errors.found))
        if blocks_text_length(blocks) > cls.MAX_BLOCKS_TEXT:
            return Rejection(
                "msg_too_long",
                (f"[ERROR] the text of all blocks exceeds {cls.MAX_BLOCKS_TEXT} characters",),
            )
        return None

    @classmethod
    def check_metadata(cls, metadata: object) -> Rejection | None:
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except ValueError:
                return Rejection("invalid_metadata_format")
        if (
            not isinstance(metadata, Mapping)
            or not isinstance(metadata.get("event_type"), str)
            or not metadata["event_type"]
            or not isinstance(metadata.get("event_payload"), Mapping)
        ):
            return Rejection("invalid_metadata_format")
        return None

    # -- blocks -------------------------------------------------------------------------

    @classmethod
    def _check_block(cls, block: object, at: str, block_ids: set[str], errors: _Errors) -> None:
        if not isinstance(block, Mapping):
            errors.add(at, "must provide an object")
            return
        kind = block.get("type")
        if kind not in cls.BLOCK_TYPES:
            errors.add(f"{at}/type", f"unsupported type: {kind}")
            return
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not 1 <= len(block_id) <= cls.MAX_BLOCK_ID:
                errors.add(f"{at}/block_id", f"must be 1 to {cls.MAX_BLOCK_ID} characters")
            elif block_id in block_ids:
                errors.add(f"{at}/block_id", f"duplicate block_id: {block_id}")
            else:
                block_ids.add(block_id)
        if kind == "section":
            cls._check_section(block, at, errors)
        elif kind == "header":
            cls._check_text(
                block.get("text"), f"{at}/text", cls.MAX_HEADER_TEXT, errors, plain_only=True
            )
        elif kind == "context":
            cls._check_context(block, at, errors)
        elif kind == "actions":
            cls._check_actions(block, at, errors)
        elif kind == "image":
            cls._check_image(block, at, errors)

    @classmethod
    def _check_actions(cls, block: Mapping[str, Any], at: str, errors: _Errors) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            errors.add(f"{at}/elements", "must provide at least 1 item")
            return
        if len(elements) > cls.MAX_ACTIONS_ELEMENTS:
            errors.add(f"{at}/elements", f"no more than {cls.MAX_ACTIONS_ELEMENTS} items allowed")
        action_ids: set[str] = set()
        for j, element in enumerate(elements):
            where = f"{at}/elements/{j}"
            if not isinstance(element, Mapping):
                errors.add(where, "must provide an object")
                continue
            kind = element.get("type")
            if kind not in cls.ACTION_ELEMENTS:
                errors.add(f"{where}/type", f"unsupported type: {kind}")
                continue
            action_id = element.get("action_id")
            if action_id is not None:
                if not isinstance(action_id, str) or not 1 <= len(action_id) <= cls.MAX_ACTION_ID:
                    errors.add(f"{where}/action_id", f"must be 1 to {cls.MAX_ACTION_ID} characters")
                elif action_id in action_ids:
                    errors.add(f"{where}/action_id", f"duplicate action_id: {action_id}")
                else:
                    action_ids.add(action_id)
            if kind == "button":
                cls._check_button(element, where, errors)

    @classmethod
    def _check_button(cls, button: Mapping[str, Any], at: str, errors: _Errors) -> None:
        cls._check_text(
            button.get("text"), f"{at}/text", cls.MAX_BUTTON_TEXT, errors, plain_only=True
        )
        value = button.get("value")
        if value is not None and (
            not isinstance(value, str) or not 1 <= len(value) <= cls.MAX_BUTTON_VALUE
        ):
            errors.add(f"{at}/value", f"must be 1 to {cls.MAX_BUTTON_VALUE} characters")
        url = button.get("url")
        if url is not None and (not isinstance(url, str) or len(url) > cls.MAX_BUTTON_URL):
            errors.add(f"{at}/url", f"must be less than {cls.MAX_BUTTON_URL + 1} characters")
        style = button.get("style")
        if style is not None and style not in cls.BUTTON_STYLES:
            errors.add(f"{at}/style", "must be one of the following: danger, primary")

    @classmethod
    def _check_section(cls, block: Mapping[str, Any], at: str, errors: _Errors) -> None:
        text, fields = block.get("text"), block.get("fields")
        if text is None and fields is None:
            errors.add(at, "must provide either a text or fields")
        if text is not None:
            cls._check_text(text, f"{at}/text", cls.MAX_SECTION_TEXT, errors)
        if fields is not None:
            if not isinstance(fields, list) or not fields:
                errors.add(f"{at}/fields", "must provide at least 1 item")
                return
            if len(fields) > cls.MAX_SECTION_FIELDS:
                errors.add(f"{at}/fields", f"no more than {cls.MAX_SECTION_FIELDS} items allowed")
            for j, item in enumerate(fields):
                cls._check_text(item, f"{at}/fields/{j}", cls.MAX_FIELD_TEXT, errors)

    @classmethod
    def _check_context(cls, block: Mapping[str, Any], at: str, errors: _Errors) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            errors.add(f"{at}/elements", "must provide at least 1 item")
            return
        if len(elements) > cls.MAX_CONTEXT_ELEMENTS:
            errors.add(f"{at}/elements", f"no more than {cls.MAX_CONTEXT_ELEMENTS} items allowed")
        for j, element in enumerate(elements):
            where = f"{at}/elements/{j}"
            if isinstance(element, Mapping) and element.get("type") == "image":
                cls._check_image(element, where, errors, url_key="image_url")
            else:
                cls._check_text(element, where, cls.MAX_TEXT_OBJECT, errors)

    @classmethod
    def _check_image(
        cls, block: Mapping[str, Any], at: str, errors: _Errors, url_key: str = "image_url"
    ) -> None:
        url = block.get(url_key)
        if url is None and block.get("slack_file") is None:
            errors.add(at, f"missing required field: {url_key}")
        elif url is not None and (not isinstance(url, str) or len(url) > cls.MAX_IMAGE_URL):
            errors.add(f"{at}/{url_key}", f"must be less than {cls.MAX_IMAGE_URL + 1} characters")
        alt = block.get("alt_text")
        if not isinstance(alt, str) or not 1 <= len(alt) <= cls.MAX_ALT_TEXT:
            errors.add(f"{at}/alt_text", f"must be 1 to {cls.MAX_ALT_TEXT} characters")

    @classmethod
    def _check_text(
        cls,
        obj: object,
        at: str,
        max_len: int,
        errors: _Errors,
        *,
        plain_only: bool = False,
    ) -> None:
        if not isinstance(obj, Mapping):
            errors.add(at, "must provide an object")
            return
        kind = obj.get("type")
        allowed = {"plain_text"} if plain_only else cls.TEXT_TYPES
        if kind not in allowed:
            errors.add(f"{at}/type", f"must be one of the following: {', '.join(sorted(allowed))}")
        value = obj.get("text")
        if not isinstance(value, str):
            errors.add(f"{at}/text", "must provide a string")
        elif len(value) == 0:
            errors.add(f"{at}/text", "must be more than 0 characters")
        elif len(value) > max_len:
            errors.add(f"{at}/text", f"must be less than {max_len + 1} characters")


def blocks_text_length(value: object) -> int:
    """Characters in every ``"text"`` string anywhere in the blocks (text objects, rich
    text elements), the measure the 12,000 cap applies to."""
    if isinstance(value, Mapping):
        own = value.get("text")
        total = len(own) if isinstance(own, str) else 0
        return total + sum(
            blocks_text_length(v) for k, v in value.items() if not isinstance(v, str)
        )
    if isinstance(value, list):
        return sum(blocks_text_length(v) for v in value)
    return 0
