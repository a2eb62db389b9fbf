"""Sample emails' data for the start-up render of the templates (`check_templates`): sample
reviews, answers and alerts that take every branch a template has."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.delivery.alert import alert_data
from bot.delivery.summary import summary_data
from storage.content import FALLBACK_LOCALE, SAFEGUARDING_CATEGORIES, Content
from storage.models import Answer, Review, SafeguardingAlert


def sample_data(content: Content, tz: ZoneInfo) -> dict[str, list[dict[str, Any]]]:
    """Data for the summary templates and for the alert templates ("summary", "alert"), built
    the way real emails are, from sample reviews."""
    draft = next(
        (code for code, loc in content.locales.items() if loc.meta.status == "draft"),
        next((code for code in content.locales if code != FALLBACK_LOCALE), FALLBACK_LOCALE),
    )
    at = datetime(2026, 12, 8, 10, tzinfo=UTC)
    full = _sample_review(at, first_name="Sam", age=14, is_uasc=True, place="Oak House family hub")
    preferred = _sample_review(at, first_name="Sam", age=9, preferred_name="Sammy")
    plain = _sample_review(at, first_name="Sam", age=9)

    def summary(review: Review, answers: dict[str, Answer], updated: bool) -> dict[str, Any]:
        return summary_data(
            content=content,
            review=review,
            answers=answers,
            tz=tz,
            updated=updated,
            sent_at=at,
            alerts=[_sample_alert(at, draft)] if updated else [],
        )

    summaries = [
        summary(full, _sample_answers(content, draft), True),
        summary(preferred, {}, False),
        summary(plain, {}, False),
    ]
    alerts = [
        alert_data(content=content, alert=_sample_alert(at, locale, tier), review=review, tz=tz)
        for review in (full, None)
        for locale, tier in ((draft, "clear"), ("en", "clear"), (draft, "unsure"))
    ]
    # A follow-up to an alert already sent; an alert the IRO hears of once the code is in.
    alerts += [
        alert_data(content=content, alert=_sample_alert(at, draft), review=full, tz=tz, more=2),
        alert_data(
            content=content, alert=_sample_alert(at, draft), review=full, tz=tz, linked_later=True
        ),
    ]
    return {"summary": summaries, "alert": alerts}


def _sample_review(at: datetime, **values: Any) -> Review:
    return Review(
        id=1,
        iro_name="Jo Example",
        iro_email="jo.example@council.example",
        review_at=at,
        invite_code_hash="sample",
        invite_expires_at=at + timedelta(days=1),
        submitted_at=at,
        **values,
    )


def _sample_alert(at: datetime, locale: str, tier: str = "clear") -> SafeguardingAlert:
    return SafeguardingAlert(
        id=1,
        tier=tier,
        categories=list(SAFEGUARDING_CATEGORIES),
        message="Sample words of a young person,\nwritten on two lines",
        locale=locale,
        channel_id="msteams",
        conversation_id="sample",
        question_id="name",
        user_id="29:sample-user",
        tenant_id="sample-tenant",
        created_at=at,
    )


def _sample_answers(content: Content, draft: str) -> dict[str, Answer]:
    """An answer to every question, each choice picked so that the questions that depend on
    it are asked too; written answers alternate between everyone and just the IRO, and
    between English and a draft language; one is skipped with a picture sent instead."""
    wanted = _wanted(content)
    answers: dict[str, Answer] = {}

    def put(
        key: str, kind: str, value: Any, locale: str = FALLBACK_LOCALE, vis: Any = None
    ) -> None:
        answers[key] = Answer(
            review_id=1, question_id=key, kind=kind, value=value, locale=locale, visibility=vis
        )

    def written(key: str) -> None:
        n = len(answers)
        put(
            key,
            "text",
            f"Sample answer {n},\nwritten on two lines",
            locale=draft if n % 3 == 1 else FALLBACK_LOCALE,
            vis="iro" if n % 2 else "everyone",
        )

    skippable = [
        q.id
        for q in content.questions
        if q.type == "text" and not q.essential and not q.for_each_chosen and q.id not in wanted
    ]
    for q in content.questions:
        if q.for_each_chosen is not None:
            for topic in content.question(q.for_each_chosen).options:
                written(f"{q.id}.{topic.id}")
        elif skippable and q.id == skippable[-1]:
            put(q.id, "skipped", None)
            put(f"media.{q.id}", "media", "picture")
        elif q.type == "text":
            written(q.id)
        else:
            put(q.id, *_picked(q, wanted.get(q.id, []), draft))
    return answers


def _wanted(content: Content) -> dict[str, list[Any]]:
    """The answers that other questions' conditions (or their options') ask for, by the
    question whose answer they name."""
    wanted: dict[str, list[Any]] = {}
    for q in content.questions:
        for cond in (q.when, *(o.when for o in q.options)):
            if cond is not None and cond.answer is not None:
                wanted.setdefault(cond.answer.question, []).append(cond.answer)
    return wanted


def _picked(question: Any, conds: list[Any], draft: str) -> tuple[str, Any, str]:
    """The kind, value and language of an answer to a question with options: the one the
    conditions ask for where there is one, so the questions behind it are asked too."""
    if question.type == "language":
        return "choice", draft, draft
    if question.type == "yesno":
        return "yesno", next((c.is_ for c in conds if c.is_ is not None), True), FALLBACK_LOCALE
    if question.type == "multi":
        return "choices", [o.id for o in question.options], FALLBACK_LOCALE
    ids = [o.id for o in question.options]
    asked_for = [i for c in conds for i in (c.any_of or []) if i in ids]
    coded = [o.id for o in question.options if o.participation]
    return "choice", (asked_for or coded or ids)[0], FALLBACK_LOCALE
