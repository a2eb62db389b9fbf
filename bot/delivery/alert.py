"""The safeguarding alert and the note on a message the screen was unsure of: what their
templates show, assembled here (words in content/templates), and the plain alert sent when a
template fails or in a digest of held alerts. In English, whatever language the child used."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from bot.delivery.english import CATEGORY_NAMES, english_name
from dialogs.display import continued, shown
from storage.content import FALLBACK_LOCALE, Content
from storage.models import Review, SafeguardingAlert


def alert_data(
    *,
    content: Content,
    alert: SafeguardingAlert,
    review: Review | None,
    tz: ZoneInfo,
    more: int = 0,
    linked_later: bool = False,
) -> dict[str, Any]:
    """What the alert templates show. `more`: the messages in a follow-up to an alert already
    sent (0 for the alert itself); `linked_later`: the chat has just entered its code, so the
    IRO hears now of what the duty team already has."""
    not_english = alert.locale != FALLBACK_LOCALE
    language = english_name(content, alert.locale)
    return {
        "categories": [CATEGORY_NAMES.get(c, c) for c in alert.categories],
        "message": alert.message,
        "language": language,
        # "clear" (urgent), "unsure" (a note: the screen was not sure), as the child was told.
        "tier": alert.tier,
        "not_english": not_english,
        # The first line of an alert the duty team may not be able to read: what to do today.
        "language_line": (
            None
            if not not_english
            else f"Written in {language}. An English machine translation is below: check "
            f"anything you act on with an interpreter or a speaker of {language}."
            if alert.translation
            else f"Written in {language}. Not translated: book an interpreter or a speaker of "
            f"{language} to read it today."
        ),
        "translation": alert.translation,
        "at": alert.created_at.astimezone(tz).strftime("%A %-d %B %Y at %H:%M"),
        "channel": alert.channel_id,
        "child": {
            "first_name": review.first_name,
            "case_reference": review.case_reference,
            "date_of_birth": review.date_of_birth.strftime("%-d %B %Y")
            if review.date_of_birth
            else None,
            "iro_name": review.iro_name,
            "review": review.review_at.astimezone(tz).strftime("%-d %B %Y"),
        }
        if review
        else None,
        "alert_id": alert.id,
        # What the child was actually told: the IRO is named only once a review is linked.
        "told": "their IRO and the duty team" if review else "the duty team",
        "question": _asked(content, alert.question_id),
        "reach": {
            "channel": alert.channel_id,
            "conversation_id": alert.conversation_id,
            "user_id": alert.user_id or "not given",
            "tenant_id": alert.tenant_id or "not given",
            "aad_object_id": alert.aad_object_id or "not given",
        },
        "more": more,
        "linked_later": linked_later,
    }


def plain_subject(data: dict[str, Any]) -> str:
    """The subject of the alert sent without its templates (see `plain_alert`)."""
    if data.get("more"):
        subject = (
            f"URGENT: {data['more']} more message(s) in a MyReview chat already reported "
            f"(alert {data['alert_id']})"
        )
    elif data.get("tier") == "unsure":
        subject = "MyReview: please check a message a young person wrote (not urgent)"
    else:
        subject = "URGENT: safeguarding concern raised in a MyReview chat"
    if data.get("not_english"):
        subject += f" (written in {data['language']})"
    if data.get("linked_later") and data.get("tier") != "unsure" and not data.get("more"):
        subject += " (raised before the young person entered their code)"
    return subject


def plain_alert(data: dict[str, Any], *, held: bool = False) -> str:
    """The alert without its template: used if the template fails, so it never waits on an
    edit, and for each alert in a digest of held alerts (staff-facing, English)."""
    child = data.get("child")
    who = (
        f"{child['first_name']} (review on {child['review']}, IRO {child['iro_name']})"
        if child
        else "not yet identified (no invite code entered yet)"
    )
    reach = data["reach"]
    first = [data["language_line"], ""] if data.get("language_line") else []
    return "\n".join(
        [
            *first,
            "URGENT: possible safeguarding concern raised in a MyReview chat"
            if data.get("tier") != "unsure"
            else "Please check: a message MyReview was not sure about (not urgent)",
            "",
            f"When: {data['at']}",
            f"Young person: {who}",
            f"What they were answering: {data['question']}",
            f"What it may be about: {', '.join(data['categories'])}",
            f"Language: {data['language']}",
            "",
            "Their words:",
            continued(shown(str(data["message"]))),
            *(
                ["In English (machine translation):", continued(shown(str(data["translation"])))]
                if data.get("translation")
                else []
            ),
            "",
            f"They were given Childline (0800 1111) and 999, and told that {data['told']} "
            "would be told.",
            f"To find the chat: channel {reach['channel']}, conversation "
            f"{reach['conversation_id']}, user {reach['user_id']}, tenant {reach['tenant_id']}.",
            f"Alert reference: {data['alert_id']}."
            + (
                ""
                if held
                else " (Sent without its usual template, which failed: please tell whoever "
                "edits the templates.)"
            ),
        ]
    )


def _asked(content: Content, question_key: str | None) -> str:
    """The question on screen when the child wrote, in English, for the adults."""
    if not question_key:
        return "between questions"
    qid = question_key.split(".")[0]
    for key in (f"questions.{qid}.summary", f"questions.{qid}.prompt"):
        if content.has(key, FALLBACK_LOCALE):
            return content.text(key, FALLBACK_LOCALE)
    return qid
