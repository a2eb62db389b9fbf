"""Each email's subject comes from its template (content/templates/*_subject.txt), rendered in
the same sandbox as the body and sent as one line. These pin the subjects word for word, and
that the plain alert sent when a template fails has the same subject as the template gives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.delivery.alert import alert_data, plain_subject
from bot.delivery.samples import _sample_alert, _sample_review, sample_data
from bot.delivery.summary import summary_data
from bot.delivery.templating import Templates, check_templates
from bot.settings import REPO_ROOT
from dialogs.messages import CONTRACT
from storage.content import Content, ContentError, load_content

LONDON = ZoneInfo("Europe/London")
AT = datetime(2026, 12, 8, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content(REPO_ROOT / "content", required=CONTRACT)


def alert_subject(
    content: Content, locale: str, tier: str = "clear", *, more: int = 0, linked_later: bool = False
) -> str:
    data = alert_data(
        content=content,
        alert=_sample_alert(AT, locale, tier),
        review=_sample_review(AT, first_name="Sam", age=14),
        tz=LONDON,
        more=more,
        linked_later=linked_later,
    )
    return Templates(content.templates_dir).subject("alert_subject.txt", **data)


def test_alert_subjects_word_for_word(content: Content):
    urgent = "URGENT: safeguarding concern raised in a MyReview chat"
    assert alert_subject(content, "en") == urgent
    assert alert_subject(content, "ar") == f"{urgent} (written in Arabic)"
    assert (
        alert_subject(content, "ar", linked_later=True)
        == f"{urgent} (written in Arabic) (raised before the young person entered their code)"
    )
    assert alert_subject(content, "en", more=3) == (
        "URGENT: 3 more message(s) in a MyReview chat already reported (alert 1)"
    )
    note = "MyReview: please check a message a young person wrote (not urgent)"
    assert alert_subject(content, "en", "unsure") == note
    # A note the IRO hears of once the code is in says nothing of it, as before.
    assert alert_subject(content, "ar", "unsure", linked_later=True) == (
        f"{note} (written in Arabic)"
    )


def test_the_plain_alert_has_the_subject_the_template_gives(content: Content):
    templates = Templates(content.templates_dir)
    for data in sample_data(content, LONDON)["alert"]:
        assert templates.subject("alert_subject.txt", **data) == plain_subject(data)


@pytest.mark.parametrize(
    ("first_name", "updated", "subject"),
    [
        ("Sam", False, "My Review: Sam's views for the review on 8 December 2026"),
        ("Sam", True, "[Updated] My Review: Sam's views for the review on 8 December 2026"),
        # A line break typed into a name cannot go in a mail header.
        ("Sam\nLee", False, "My Review: Sam Lee's views for the review on 8 December 2026"),
    ],
)
def test_summary_subject_word_for_word(
    content: Content, first_name: str, updated: bool, subject: str
):
    data = summary_data(
        content=content,
        review=_sample_review(AT, first_name=first_name, age=14),
        answers={},
        tz=LONDON,
        updated=updated,
        sent_at=AT,
    )
    assert Templates(content.templates_dir).subject("summary_subject.txt", **data) == subject


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("summary_subject.txt", "{{ review.day }}", "{{ review.dya }}"),
        # Only in an alert in another language than English.
        ("alert_subject.txt", "{{ language }}", "{{ langauge }}"),
    ],
)
def test_a_misspelt_name_in_a_subject_stops_the_app(
    tmp_path: Path, content_copy: Callable[[Path], Path], name: str, old: str, new: str
):
    copy = content_copy(tmp_path / "content")
    path = copy / "templates" / name
    source = path.read_text(encoding="utf-8")
    line = source[: source.index(old)].count("\n") + 1
    path.write_text(source.replace(old, new, 1), encoding="utf-8")

    with pytest.raises(ContentError) as error:
        check_templates(load_content(copy, required=CONTRACT))

    assert str(error.value).startswith(f"{path}, line {line}: ")
    assert f"check the spelling of {new}" in str(error.value).lower()
