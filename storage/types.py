"""Column types shared by every table."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel.sql.sqltypes import AutoString


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite drops the zone; this puts it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# What a name staff typed (or pasted) may hold that changes how it, or the line around it,
# reads without being seen: bidi embeddings, overrides, isolates and marks, and characters drawn
# as nothing (the same as dialogs/display.py takes out of a child's words).
_HIDDEN = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\U000e0000-\U000e007f]"
)
_BREAKS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_JOINER = re.compile("[\u200c\u200d]")


def one_line(text: str) -> str:
    """A name, place or reference staff entered, as it may be shown anywhere (a chat message,
    an email subject): bidi controls and invisible characters taken out, line breaks and tabs
    made spaces, spaces run together. A joiner stays only between two letters, where it is
    part of the spelling."""
    text = _HIDDEN.sub("", _BREAKS.sub(" ", text))

    def joiner(m: re.Match[str]) -> str:
        i = m.start()
        around = text[i - 1 : i] + text[i + 1 : i + 2]
        keep = len(around) == 2 and all(unicodedata.category(c)[0] in "LM" for c in around)
        return m.group() if keep else ""

    return " ".join(_JOINER.sub(joiner, text).split())


class PlainLine(TypeDecorator[str]):
    """A staff-entered string kept and read as `one_line`, whenever it was written."""

    impl = AutoString
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else one_line(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else one_line(str(value))
