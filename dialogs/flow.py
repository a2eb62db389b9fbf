"""Which questions a child sees, in which order: conditions are read from content, never coded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from storage.content import Condition, Content, Option, Question
from storage.models import Answer, Review


@dataclass(frozen=True)
class Given:
    """A stored answer as conditions see it."""

    kind: str  # choice | choices | yesno | text | media | skipped
    value: Any

    def chosen(self) -> list[str]:
        if self.kind == "choice":
            return [self.value]
        if self.kind == "choices":
            return list(self.value)
        return []


@dataclass(frozen=True)
class Facts:
    """What conditions may look at: the child's age band, UASC status, their answers and the
    language of the chat."""

    band: str
    uasc: bool
    answers: Mapping[str, Given]
    locale: str = "en"
    # The child's own device (the first to enter the code), not another holding it.
    own_device: bool = True


@dataclass(frozen=True)
class Step:
    """One question as asked: a repeated question is asked once per chosen topic."""

    question: Question
    topic: str | None = None

    @property
    def key(self) -> str:
        return f"{self.question.id}.{self.topic}" if self.topic else self.question.id


def age_on(dob: date | None, age: int | None, on: date) -> int | None:
    if dob is None:
        return age
    years = on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))
    return years


def age_at_review(review: Review, tz: ZoneInfo) -> int | None:
    """The child's age on the day of the review, where the service is."""
    return age_on(review.date_of_birth, review.age, review.review_at.astimezone(tz).date())


def band_for(content: Content, review: Review | None, tz: ZoneInfo) -> str:
    """The age band a review is asked in (a chat with no review yet has no age)."""
    age = age_at_review(review, tz) if review is not None else None
    return content.band_for_age(age, easy_read=bool(review and review.easy_read))


def facts_for(
    content: Content,
    review: Review | None,
    answers: Mapping[str, Answer],
    *,
    tz: ZoneInfo,
    locale: str,
    own_device: bool = True,
) -> Facts:
    """The facts conditions see, the same for the chat that asks and the summary that reports
    what was asked."""
    return Facts(
        band=band_for(content, review, tz),
        uasc=bool(review and review.is_uasc),
        answers={k: Given(a.kind, a.value) for k, a in answers.items()},
        locale=locale,
        own_device=own_device,
    )


def holds(cond: Condition | None, facts: Facts) -> bool:
    if cond is None:
        return True
    if cond.age_band is not None and facts.band not in cond.age_band:
        return False
    if cond.uasc is not None and facts.uasc != cond.uasc:
        return False
    if cond.chat_language is not None and facts.locale not in cond.chat_language:
        return False
    if cond.chat_language_not is not None and facts.locale in cond.chat_language_not:
        return False
    if cond.any_ is not None and not any(holds(c, facts) for c in cond.any_):
        return False
    if cond.answer is not None:
        given = facts.answers.get(cond.answer.question)
        if cond.answer.none_of is not None:
            # Not answered (or skipped) is none of them.
            return given is None or not set(given.chosen()) & set(cond.answer.none_of)
        if given is None:
            return False
        if cond.answer.any_of is not None:
            return bool(set(given.chosen()) & set(cond.answer.any_of))
        return given.kind == "yesno" and given.value is cond.answer.is_
    return True


def visible_options(question: Question, facts: Facts) -> list[Option]:
    return [o for o in question.options if holds(o.when, facts)]


def steps(content: Content, facts: Facts) -> list[Step]:
    """Every step the child should be asked now, in order."""
    out: list[Step] = []
    qs = [
        q
        for q in content.questions
        if holds(q.when, facts) and (facts.own_device or not q.own_device_only)
    ]
    i = 0
    while i < len(qs):
        q = qs[i]
        if q.for_each_chosen is None:
            out.append(Step(q))
            i += 1
            continue
        # Consecutive repeated questions go topic by topic: all about home, then school...
        run = [q]
        while i + len(run) < len(qs) and qs[i + len(run)].for_each_chosen == q.for_each_chosen:
            run.append(qs[i + len(run)])
        source = content.by_id[q.for_each_chosen]
        given = facts.answers.get(source.id)
        chosen = set(given.chosen()) if given else set()
        for opt in visible_options(source, facts):
            if opt.id in chosen:
                out.extend(Step(r, opt.id) for r in run)
        i += len(run)
    return out


def find(content: Content, facts: Facts, key: str) -> Step | None:
    return next((s for s in steps(content, facts) if s.key == key), None)


def step_after(content: Content, facts: Facts, key: str | None) -> Step | None:
    """The next step after `key` (the first when None)."""
    all_steps = steps(content, facts)
    if key is None:
        return all_steps[0] if all_steps else None
    keys = [s.key for s in all_steps]
    if key in keys:
        idx = keys.index(key) + 1
        return all_steps[idx] if idx < len(all_steps) else None
    # The step is no longer shown (its condition changed): carry on from where it stood.
    order = _flow_order(content)
    pos = order.get(key.split(".")[0], -1)
    for s in all_steps:
        if order[s.question.id] > pos:
            return s
    return None


def first_unanswered(content: Content, facts: Facts) -> Step | None:
    return next((s for s in steps(content, facts) if s.key not in facts.answers), None)


def _flow_order(content: Content) -> dict[str, int]:
    return {q.id: i for i, q in enumerate(content.questions)}
