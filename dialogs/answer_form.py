"""Whether a message is, in full, an answer the question waiting accepts.

An option typed by its number ("3, 5", "١ و ٣", "2 dhe 4"), an option's label or another word
for it, yes or no, a control word: the child is answering, whatever a statistical model makes
of a few letters. The safeguarding screen never treats such a message as a worry. The test is
exact (every part a number or a whole label), never "a label somewhere inside": "at home
where he hits me" holds the label "At home" and is not an answer form.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from dialogs.ask import choices_for
from dialogs.recognize import normalize
from storage.content import Question

if TYPE_CHECKING:
    from dialogs.context import Turn

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
# Words that join numbers in the languages children type here ("1 and 5", "1 ose 2").
_JOINERS = re.compile(r"(?<!\w)(?:and|or|n|dhe|ose|e|edhe|و|او|أو)(?!\w)")
# Words around an answer that add nothing to it ("they/them pls", "2 thanks", "نعم لو سمحت").
_COURTESY = re.compile(
    r"(?<!\w)(?:pls|plz|please|thanks|thank you|thx|ty|ok|okay|lol|ju lutem|te lutem|flm|"
    r"faleminderit|من فضلك|لو سمحت|شكرا|شكرًا)(?!\w)"
)
_NUMBERS = re.compile(r"[\d\s,،;:/&+.\-()#*]*\d[\d\s,،;:/&+.\-()#*]*")
# The longest answer form worth checking: a few numbers, or a label or two.
LONGEST = 300


def is_number_form(text: str) -> bool:
    """Numbers alone, in any digits, with any separators and joining words."""
    if len(text) > 80:
        return False
    t = _JOINERS.sub(" ", text.translate(_DIGITS).casefold())
    # Arabic "و" (and) is written against the number it joins: "1و3", "و 3".
    t = t.replace("و", " ")
    return bool(_NUMBERS.fullmatch(t))


def is_answer_form(turn: Turn, text: str) -> bool:
    """Whether `text` is, in full, an answer form for the question waiting in this chat."""
    if len(text) > LONGEST:
        return False
    if not normalize(text) or is_number_form(_COURTESY.sub(" ", text.casefold())):
        return True
    screen = turn.services.matcher(turn.content)
    if screen.is_own_words(text):
        return True  # a label, yes or no, a control word: in any of our languages
    question = waiting(turn)
    if question is None:
        return False
    words = set().union(*(c.words() for c in choices_for(turn, question)))
    # Every label said is taken out, longest first (a label may hold a comma or an "and":
    # "Family and friends time", "أحضر، ويُقرأ رأيي"); what is left must be numbers and the
    # words that join them, or nothing.
    rest = f" {normalize(text)} "
    for word in sorted(words, key=len, reverse=True):
        if f" {word} " in rest:
            rest = rest.replace(f" {word} ", "  ")
    rest = _COURTESY.sub(" ", rest).strip()
    return rest != normalize(text) and (not _JOINERS.sub(" ", rest).strip() or is_number_form(rest))


def waiting(turn: Turn) -> Question | None:
    """The question on the child's screen in this chat, if any."""
    asked = turn.profile.get("asked")
    qid = asked.get("qid") if isinstance(asked, dict) else None
    if not qid and isinstance(asked, dict) and asked.get("key"):
        qid = str(asked["key"]).split(".")[0]
    if not qid:
        return None
    try:
        return turn.content.question(str(qid))
    except KeyError:
        return None
