"""Reading content in tests: assert what the bot says by message id, not by copied wording."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from bot.app import Parts
from storage.content import Content


def content_of(parts: Parts) -> Content:
    return parts.services.content_source.current()


def fragment(parts: Parts, key: str, locale: str = "en", band: str | None = None) -> str:
    """The longest part of a string without placeholders: what must appear when it is said."""
    raw = str(content_of(parts).raw(key, locale, band))
    pieces = [p.strip() for p in re.split(r"\{[a-z_]+\}", raw)]
    return max(pieces, key=len)


def said(
    parts: Parts, transcript: str, key: str, locale: str = "en", band: str | None = None
) -> bool:
    return fragment(parts, key, locale, band) in transcript


async def wait_for_eml(directory: Path, count: int = 1, timeout: float = 5.0) -> list[Path]:
    for _ in range(int(timeout / 0.05)):
        files = sorted(directory.glob("*.eml")) if directory.exists() else []
        if len(files) >= count:
            return files
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} .eml files in {directory}")


async def answers_of(parts: Parts, review_id: int) -> dict[str, Any]:
    rows = await parts.repos.answers.all_for(review_id=review_id)
    return {k: (a.kind, a.value) for k, a in rows.items()}
