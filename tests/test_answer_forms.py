"""An answer is never an alarm by its form (issue 14).

Web Chat asks children to "type its number", and they do: "3, 5", "3 5 7", "1 and 5", "١ و ٣".
Before this, a sweep of typed numbers raised 37 alarms in 516, the child read "Because you might
not be safe, I'm telling your IRO..." and the duty team got an URGENT email. The sweep below
walks every question, in every language and age band, with every combination of up to three
numbers a child can type (in Western, Arabic-Indic and Persian digits, with every separator and
"and" word) and every label, other word for it, yes/no and control word: none is heard.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dialogs.answer_form import is_answer_form, is_number_form
from dialogs.ask import choices_for
from dialogs.context import Turn
from dialogs.safeguarding_model import Screen
from dialogs.screen import heard
from storage.content import Content, Question, load_content
from storage.models import Review
from tests.consult import answers_of, said, to_question

DIGITS = ("0123456789", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹")
SEPARATORS = (
    ", ",
    ",",
    " ",
    "  ",
    " and ",
    " & ",
    "/",
    " + ",
    " - ",
    "، ",
    " و ",
    "و",
    " dhe ",
    " n ",
)
# Numbers typed beyond the options shown are typos, not words either.
BEYOND = 2


@pytest.fixture(scope="module")
def content() -> Content:
    from pathlib import Path

    return load_content(Path(__file__).resolve().parents[1] / "content")


@pytest.fixture(scope="module")
def screen(content: Content) -> Screen:
    return Screen.for_content(content)


def turn_for(content: Content, screen: Screen, locale: str, age: int, qid: str) -> Turn:
    """A chat in `locale` whose child is `age`, with `qid` waiting (no database needed)."""
    at = datetime.now(UTC) + timedelta(days=10)
    review = Review(
        id=1,
        first_name="Sam",
        age=age,
        iro_name="Jo Smith",
        iro_email="jo@council.example",
        review_at=at,
        invite_code_hash="x",
        invite_expires_at=at,
    )
    services: Any = SimpleNamespace(
        matcher=lambda _content: screen,
        timezone=ZoneInfo("Europe/London"),
        clock=lambda: datetime.now(UTC),
    )
    context: Any = SimpleNamespace(turn_state={}, activity=SimpleNamespace(channel_id="webchat"))
    profile = {"locale": locale, "asked": {"key": qid, "qid": qid, "n": 1}}
    return Turn(services, context, profile, content, review, {})


def number_forms(count: int) -> Iterator[str]:
    """Every combination of up to three numbers from 1 to `count` (and a little beyond), in
    each kind of digits, each with a separator from the list in turn, both orders for two."""
    seps = itertools.cycle(SEPARATORS)
    for k in (1, 2, 3):
        for combo in itertools.combinations(range(1, count + BEYOND + 1), k):
            orders = [combo, combo[::-1]] if k == 2 else [combo]
            for digits in DIGITS:
                for order in orders:
                    typed = [str(n).translate(str.maketrans("0123456789", digits)) for n in order]
                    yield next(seps).join(typed)


def label_forms(turn: Turn, question: Question) -> Iterator[str]:
    """Each option's label and other words for it; two and three labels joined as children
    join them; yes, no and every control word."""
    choices = choices_for(turn, question)
    words = [w for c in choices for w in (c.label, *c.synonyms)]
    yield from words
    labels = [c.label for c in choices]
    joiners = (", ", " and ", " & ", turn.t("messages.list_separator"))
    for k, joiner in itertools.product((2, 3), joiners):
        for combo in itertools.combinations(labels, k):
            yield joiner.join(combo)
    content = turn.content
    for key in ("choice_yes", "choice_no", "ready"):
        yield from content.synonyms(key, turn.locale)
    for ctl in ("help", "back", "skip", "language", "pause", "restart", "talk", "repeat"):
        yield turn.t(f"controls.{ctl}.label")
        yield from content.synonyms(f"controls.{ctl}", turn.locale)


def all_questions(content: Content) -> list[Question]:
    return [*content.questions, *content.system_questions.values()]


def test_numbers_typed_are_never_a_worry_at_any_question(content: Content, screen: Screen):
    """Numbers do not depend on the language or the band: each count of options is swept once
    per language, with the question waiting that has that many."""
    most = max(
        [len(q.options) for q in all_questions(content)] + [20]  # the numbered check list
    )
    forms = list(dict.fromkeys(number_forms(most)))
    assert len(forms) > 5_000
    heard_before = 0
    for locale in content.locales:
        turn = turn_for(content, screen, locale, 15, "when")
        for text in forms:
            assert is_number_form(text), text
            found = screen.assess(text)
            heard_before += found.tier is not None
            assert heard(turn, text, found).tier is None, text
    # The model no longer reads a lone number as letters ("3" as "e"): nothing is heard even
    # before the answer-form rule.
    assert heard_before == 0


@pytest.mark.parametrize("age", [8, 11, 15])
def test_labels_yes_no_and_controls_are_never_a_worry(content: Content, screen: Screen, age):
    checked = 0
    for locale in content.locales:
        for question in all_questions(content):
            turn = turn_for(content, screen, locale, age, question.id)
            for text in label_forms(turn, question):
                if not text.strip():
                    continue
                assert is_answer_form(turn, text), (locale, question.id, text)
                assert heard(turn, text, screen.assess(text)).tier is None, (locale, text)
                checked += 1
    assert checked > 1000


@pytest.mark.parametrize(
    ("qid", "typed"),
    [("pronouns", "they/them pls"), ("when", "3 and 5 please"), ("talk_to_iro", "yes thanks")],
)
def test_a_polite_word_beside_an_answer_keeps_it_an_answer(content, screen, qid, typed):
    turn = turn_for(content, screen, "en", 15, qid)
    assert is_answer_form(turn, typed)
    assert heard(turn, typed, screen.assess(typed)).tier is None


def test_a_worry_that_holds_a_label_is_still_heard(content: Content, screen: Screen):
    """Exact forms only: a label inside a sentence is not an answer form."""
    turn = turn_for(content, screen, "en", 15, "where")
    worry = "at home where my stepdad hits me every night"
    assert not is_answer_form(turn, worry)
    assert heard(turn, worry, screen.assess(worry)).tier == "clear"
    assert not is_answer_form(turn, "3 and he hits me")


# --- through the running bot -----------------------------------------------------------------

TYPED_NUMBERS = ["3, 5", "3 5 7", "1 and 5", "١ و ٣", "2 dhe 4", "1,2,3"]


@pytest.mark.parametrize("typed", TYPED_NUMBERS)
async def test_a_child_typing_option_numbers_gets_their_answer_not_an_alarm(
    typed, linked_chat, parts
):
    review, chat = await linked_chat("webchat")
    await to_question(chat, "when", parts, review.id)

    reply = await chat.say(typed)

    assert not said(parts, reply, "messages.safeguarding_help"), reply
    assert not said(parts, reply, "questions.safety_check.prompt"), reply
    assert await parts.repos.outbox.list(kind="alert") == []
    kind, _ = (await answers_of(parts, review.id))["when"]
    assert kind == "choices"


@pytest.mark.parametrize(
    "typed", ["jake hes mean", "my PE teacher, he's boring", "not my sister shes annoying"]
)
async def test_who_not_there_with_an_ordinary_complaint_is_their_answer(typed, linked_chat, parts):
    review, chat = await linked_chat("msteams")
    await to_question(chat, "who_not_there", parts, review.id)

    reply = await chat.say(typed)

    assert not said(parts, reply, "messages.safeguarding_help"), reply
    assert await parts.repos.alerts.for_review(review_id=review.id) == []
    assert (await answers_of(parts, review.id))["who_not_there"] == ("text", typed)
