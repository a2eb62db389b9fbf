"""The child's Language of Care, carried over to their next review.

A child has a review about every six months, and their reviews are linked by the child key
(bot/reviews.py, a keyed hash of the council's case reference). What they told us about how to
speak with them (the name to use, pronouns, words such as "family time", the chat language, an
interpreter: the questions marked `carry_over: true` in content/consultation.yaml) is kept when
they send (`remember`), and at their next review it is not asked again: it is offered back
("Last time you asked us to use these words: “family time”. Still right?") with Yes and Change.
Yes stores it as this review's answer; Change asks the question itself. The chat language is
not offered: the chat is simply in it from the start, as any language known already is, and
"Language" changes it at any step.

What is carried over, and to whom:
- only what the child sent (they chose to share it): answers they gave (not skipped, not a
  picture), and, for their own written words that are not practical, only those they let be
  read out at the meeting; never words the safeguarding screen hears a worry in;
- only to a later review of the same child: the same child key, and the same first name (and
  date of birth, where both give one), so a case reference typed wrong on one review does not
  hand one child's words to another;
- only what is still possible (an option still shown to them), and only on the child's own
  device (the first to enter the code), never another holding it.
It is kept `language_of_care_days` after the review it came from (storage/models.py
LanguageOfCare), and deleted with that review at a young person's request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dialogs.context import Turn
from dialogs.flow import Step, steps, visible_options
from storage.content import Question
from storage.models import Answer, LanguageOfCare, Review

CARRY_CONFIRM = "carry_confirm"
KEEP, CHANGE = "keep", "change"


@dataclass(frozen=True)
class Carried:
    """An answer from last time, as it would be stored in this review."""

    kind: str
    value: Any
    visibility: str | None = None

    def state(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "visibility": self.visibility}

    @classmethod
    def from_state(cls, data: Any) -> Carried | None:
        if not isinstance(data, dict) or "kind" not in data:
            return None
        return cls(str(data["kind"]), data.get("value"), data.get("visibility"))


def same_child(kept: LanguageOfCare, review: Review) -> bool:
    """What was kept names the same child as this review: the first name, and the date of
    birth where both give one (the child key says the case reference is the same)."""
    if kept.first_name.strip().casefold() != review.first_name.strip().casefold():
        return False
    both = kept.date_of_birth is not None and review.date_of_birth is not None
    return not both or kept.date_of_birth == review.date_of_birth


def shared(turn: Turn, question: Question, answer: Answer) -> Carried | None:
    """An answer as it is kept for next time, if it may be: given (not skipped, not a
    picture), and for the child's own words, let be read out and with no worry in them."""
    kind, value = answer.kind, answer.value
    if kind in ("choice", "yesno"):
        return Carried(kind, value)
    if kind == "choices" and isinstance(value, list) and value:
        return Carried(kind, list(value))
    if kind != "text" or not isinstance(value, str) or not value.strip():
        return None
    if not question.practical and answer.visibility != "everyone":
        return None  # kept for the IRO alone (or never decided): not carried over
    if turn.services.matcher(turn.content).categories(value):
        return None
    return Carried(kind, value, None if question.practical else answer.visibility)


async def remember(turn: Turn) -> None:
    """On sending: keeps what the child shared of their Language of Care, for their next
    review (replacing what was kept from an earlier one)."""
    review = turn.review
    if review is None or review.child_key is None or not turn.trusted:
        return
    await turn.reload_answers()  # who may hear each, as decided just before sending
    kept: dict[str, dict[str, Any]] = {}
    for step in steps(turn.content, turn.facts()):
        answer = turn.answers.get(step.key)
        if step.question.carry_over and step.topic is None and answer is not None:
            found = shared(turn, step.question, answer)
            if found is not None:
                kept[step.key] = found.state()
    await turn.services.repos.children.remember_language_of_care(review=review, answers=kept)


async def last_time(turn: Turn) -> dict[str, Carried]:
    """What the child shared at an earlier review, for this one; empty when nothing was kept,
    it names another child, or this is not the child's own device."""
    review = turn.review
    if review is None or review.child_key is None or not turn.trusted:
        return {}
    kept = await turn.services.repos.children.language_of_care(child_key=review.child_key)
    if kept is None or kept.review_id == review.id or kept.review_at >= review.review_at:
        return {}
    if not same_child(kept, review):
        return {}
    found = {k: Carried.from_state(v) for k, v in (kept.answers or {}).items()}
    return {k: c for k, c in found.items() if c is not None}


async def carried_language(turn: Turn) -> str | None:
    """The chat language of the child's last review, if this chat can speak it."""
    if not any(q.carry_over and q.type == "language" for q in turn.content.questions):
        return None
    given = (await last_time(turn)).get("language")
    if given is None or given.kind != "choice" or given.value not in turn.content.locales:
        return None
    return str(given.value)


async def carried(turn: Turn, step: Step) -> Carried | None:
    """What the child told us last time for this step, if it is to be offered back now: still
    an answer this question can have."""
    question = step.question
    if not question.carry_over or question.type == "language" or step.topic is not None:
        return None
    given = (await last_time(turn)).get(step.key)
    if given is None:
        return None
    shown = {o.id for o in visible_options(question, turn.facts())}
    kind, value = given.kind, given.value
    if kind == "choice" and isinstance(value, str) and value in shown:
        return given
    if kind == "choices" and isinstance(value, list) and value and set(value) <= shown:
        return given
    if kind == "yesno" and question.type == "yesno" and isinstance(value, bool):
        return given
    if kind == "text" and question.type == "text" and isinstance(value, str):
        fits = len(value.strip()) > 0 and len(value) <= question.max_length
        if fits and not turn.services.matcher(turn.content).categories(value):
            return given
    return None
