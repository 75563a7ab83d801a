"""Reading the platforms' HTTP answers, whoever wrote them: the platform's own JSON, or the
empty, plain-text, HTML or truncated body of a load balancer, proxy or CDN in front of it.

Pure functions of the status, headers and body text; they never raise. What they return
is safe to put in an error message (one short line, no markup, no URL).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
MAX_DETAIL = 120


def json_object(body: str) -> dict[str, Any] | None:
    """The body as a JSON object, or None (empty, text, HTML, truncated, a bare array)."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def describe(body: str | bytes | None, *, fields: tuple[str, ...] = ("error", "message")) -> str:
    """One short line saying what an error answer said: the first of `fields` in a JSON
    object, the title of an HTML page, the first line of text; "no body" or "a malformed
    JSON body" when there is nothing to quote."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = (body or "").strip()
    if not text:
        return "no body"
    data = json_object(text)
    if data is not None:
        for name in fields:
            if data.get(name):
                return _one_line(str(data[name]))
        return "a JSON body without an error"
    if text.startswith("{") or text.startswith("["):
        return "a malformed JSON body"
    if text.startswith("<"):
        title = _TITLE.search(text)
        inner = _one_line(html.unescape(title.group(1))) if title else ""
        return f"an HTML page ({inner})" if inner else "an HTML page"
    return _one_line(text.splitlines()[0])


def retry_after(headers: Mapping[str, str], data: Mapping[str, Any] | None = None) -> float | None:
    """Seconds to wait before trying again: the body's `retry_after` (Discord, a float)
    when present, else the `Retry-After` header in seconds; None when neither says."""
    for value in ((data or {}).get("retry_after"), headers.get("Retry-After")):
        if value is None:
            continue
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if seconds == seconds and 0.0 <= seconds < 86_400.0:  # not NaN, not absurd
            return seconds
    return None


def _one_line(text: str) -> str:
    text = _URL.sub("\x00", text)  # a URL may be a secret (a webhook's)
    text = _SPACE.sub(" ", _TAG.sub(" ", text)).strip()
    text = text.replace("<", "").replace(">", "").replace("\x00", "(a URL)")
    return text[:MAX_DETAIL] + ("…" if len(text) > MAX_DETAIL else "")
