"""Every branch of the IRO's summary, in every chat language and with every option of every
question chosen, renders with each placeholder filled and each field on a line of its own
(issue 16: "Interpreter wanted: Yes, in {language}" went out unfilled, and plain-text lines ran
together: "at Oak House family hubSent to Pat Lee", "EnglishSuggested participation code")."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.delivery.samples import _sample_answers, _sample_review
from bot.delivery.summary import summary_data
from bot.delivery.templating import Templates
from storage.content import Content, load_content
from storage.models import Answer
from tests.consult import chat_languages

ROOT = Path(__file__).resolve().parent.parent
LONDON = ZoneInfo("Europe/London")
LEFTOVER = re.compile(r"\{[a-z_]+\}")
# Each of these starts a line of the plain-text summary, whatever came before it.
LINE_STARTS = ("Sent to ", "Name to use:", "Suggested participation code:", "Pronouns:")


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content(ROOT / "content")


def renders(content: Content, locale: str, answers: dict[str, Answer]) -> list[str]:
    at = datetime(2026, 12, 8, 10, tzinfo=UTC)
    review = _sample_review(
        at, first_name="Sam", age=15, is_uasc=True, place="Oak House family hub"
    )
    answers = dict(answers)
    answers["language"] = Answer(
        review_id=1, question_id="language", kind="choice", value=locale, locale=locale
    )
    data = summary_data(
        content=content, review=review, answers=answers, tz=LONDON, updated=False, sent_at=at
    )
    templates = Templates(content.templates_dir)
    return [templates.render(name, **data) for name in ("summary.txt", "summary.html")]


def test_every_option_of_every_question_renders_filled_in_every_language(content):
    base = _sample_answers(content, "ar")
    checked = 0
    for locale in content.locales:
        for q in content.questions:
            for option in q.options if q.type in ("single", "text") else ():
                answers = dict(base)
                answers[q.id] = Answer(
                    review_id=1, question_id=q.id, kind="choice", value=option.id, locale=locale
                )
                for body in renders(content, locale, answers):
                    assert not LEFTOVER.findall(body), (locale, q.id, option.id)
                    checked += 1
    assert checked > 100


@pytest.mark.parametrize("locale", chat_languages())
def test_the_plain_text_keeps_its_lines(content, locale):
    plain, _ = renders(content, locale, _sample_answers(content, locale))
    lines = plain.splitlines()
    assert any(line.endswith("at Oak House family hub") for line in lines), plain
    for start in LINE_STARTS:
        assert any(line.startswith(start) for line in lines), (start, plain)
        # Run into the field before it ("hubSent to"), as trimmed template blocks did.
        assert not re.search(r"[^\W_]" + re.escape(start), plain), start
