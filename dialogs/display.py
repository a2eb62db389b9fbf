"""A child's own words, made safe to show: back to them in the chat, and to adults in emails.

Typed text can hold characters that change how it looks without being seen: bidi controls that
reverse it ("abc\\u202egpj.exe" shows as "abcexe.jpg"), zero-width characters hidden inside
it, line breaks that start what looks like another line of the bot's or the template's own.
Where it is inserted into Markdown (Adaptive Card text), a child's `[link](http://...)` or
`**` would become a link or bold.

So the dialogs insert a child's words with `child_text`: made safe (`shown`) and marked. The
marks go no further than dialogs/render.py, which escapes the marked words' Markdown in card
text (`card_text`) and only drops the marks in plain text (`plain_text`): the content's own
Markdown keeps working, and what the child reads is their words, unchanged. Emails use `shown`
and `continued` (bot/delivery/templating.py). Pure functions; no botbuilder.
"""

from __future__ import annotations

import re
import unicodedata

# Unicode noncharacters, set aside for a program's internal use: they never come from content,
# and `shown` takes them out of what a child writes, so a child cannot forge a mark.
OPEN, CLOSE = "\ufdd0", "\ufdd1"
# What a plain-text email puts in front of each further line of one inserted value.
CONTINUED = "  | "

# Every character `shown` may change, so that text without any is returned untouched (the
# usual case) after one scan.
_SUSPECT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufdd0-\ufdef\ufeff\uffa0\ufff9-\uffff"
    "\ud800-\udfff\U000e0000-\U000e007f]"
)
_LINE_BREAK = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Bidi controls (embeddings, overrides, isolates, marks) and characters drawn as nothing.
# U+200C/U+200D are handled apart: inside a word or an emoji they are part of its spelling.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e"
    "\u200b\u200e\u200f\u202a-\u202e\u2060-\u206f\u3164\ufdd0-\ufdef\ufeff\uffa0"
    "\ufff9-\ufffb\ufffe\uffff]"
)
# Tag characters are invisible, except in the flags of England, Scotland and Wales.
_TAGS = re.compile("(\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f)|[\U000e0000-\U000e007f]")
_JOINER = re.compile("[\u200c\u200d]")


def shown(text: str) -> str:
    """The text as it should be displayed: bidi controls and invisible characters taken out,
    every kind of line break made "\\n". Nothing visible changes; applying it twice is once."""
    if _SUSPECT.search(text) is None:
        return text
    text = _LINE_BREAK.sub("\n", text)
    text = _LONE_SURROGATE.sub("\ufffd", text)
    text = _INVISIBLE.sub("", text)
    text = _TAGS.sub(lambda m: m.group(1) or "", text)
    return _JOINER.sub(lambda m: m.group() if _joins(text, m.start()) else "", text)


def _joins(text: str, i: int) -> bool:
    """A joiner between two letters (Persian "می‌خواهم") or two parts of an emoji (👩‍💻)
    changes how they are drawn and hides nothing; anywhere else it only hides."""
    if i == 0 or i + 1 >= len(text):
        return False
    return all(unicodedata.category(c)[0] in "LMS" for c in (text[i - 1], text[i + 1]))


def child_text(text: str) -> str:
    """A child's words as the dialogs insert them into what the bot says: `shown`, and marked,
    so that dialogs/render.py can escape them in card text and nowhere else."""
    return f"{OPEN}{shown(text)}{CLOSE}"


# Markdown that Adaptive Cards (Teams: bold, italic, lists, links) and Web Chat's fuller
# Markdown would act on. Backslash escapes are CommonMark's and show as the bare character.
_MD_ANYWHERE = re.compile(r"([\\`*_\[\]<&~])")
_MD_LINE_START = re.compile(r"^([ \t]*)([#>+=-]|\d+(?=[.)]))", re.MULTILINE)


def md_escape(text: str) -> str:
    """The text as Markdown that displays exactly it: no link, emphasis, list or heading."""
    return _MD_LINE_START.sub(_escape_line_start, _MD_ANYWHERE.sub(r"\\\1", text))


def _escape_line_start(m: re.Match[str]) -> str:
    indent, mark = m.group(1), m.group(2)
    if mark[0].isdigit():
        return f"{indent}{mark}\\"  # "1. " or "1) ": the dot or bracket is what makes a list
    return f"{indent}\\{mark}"


# To the close mark, or to the end when a long answer was cut short after it was marked.
_MARKED = re.compile(f"{OPEN}([^{OPEN}{CLOSE}]*)(?:{CLOSE}|$)")
_MARKS = re.compile(f"[{OPEN}{CLOSE}]")


def card_text(text: str) -> str:
    """Text for an Adaptive Card TextBlock (Markdown): a child's marked words escaped, the
    content's own Markdown left to work, the marks gone."""
    if OPEN not in text and CLOSE not in text:
        return text
    return _MARKS.sub("", _MARKED.sub(lambda m: md_escape(m.group(1)), text))


def plain_text(text: str) -> str:
    """Text sent as plain text: a child's words as they are, the marks gone."""
    if OPEN not in text and CLOSE not in text:
        return text
    return _MARKS.sub("", text)


def continued(text: str, prefix: str = CONTINUED) -> str:
    """For plain text: every line after the first starts with `prefix`, so a line break inside
    a value cannot start a line that reads as a line of its own ("Days to avoid: ...")."""
    if "\n" not in text:
        return text
    first, *rest = text.split("\n")
    return "\n".join([first, *(f"{prefix}{line}" if line else prefix.rstrip() for line in rest)])
