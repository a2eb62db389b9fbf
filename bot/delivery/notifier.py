"""Turns what the bot produces (a sent consultation, a safeguarding alert) into outbox rows."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.delivery.alert import alert_data, plain_alert, plain_subject
from bot.delivery.outbox import OutboxWorker
from bot.delivery.summary import summary_data
from bot.delivery.templating import Templates
from dialogs.context import Translator
from storage.content import FALLBACK_LOCALE, ContentSource
from storage.models import Answer, OutboxMessageCreate
from storage.repositories import Repositories
from storage.types import utcnow

log = logging.getLogger(__name__)


def _render_alert(templates: Templates, data: dict[str, Any]) -> tuple[str, str, str | None]:
    """The alert's subject, text and HTML, or the plain built-in alert if a template fails: the
    alert must go whatever an edit did to its templates."""
    try:
        return (
            templates.subject("alert_subject.txt", **data),
            templates.render("alert.txt", **data),
            templates.render("alert.html", **data),
        )
    except Exception:
        log.exception("alert template failed; the plain alert goes instead")
        return plain_subject(data), plain_alert(data), None


class OutboxNotifier:
    def __init__(
        self,
        *,
        repos: Repositories,
        content_source: ContentSource,
        worker: OutboxWorker,
        duty_email: str,
        timezone: ZoneInfo,
        translator: Translator | None = None,
    ) -> None:
        self.repos = repos
        self.content_source = content_source
        self.worker = worker
        self.duty_email = duty_email
        self.tz = timezone
        self.translator = translator
        self._templates: dict[str, Templates] = {}

    def _templates_for(self, version: str | None) -> Templates:
        content = self.content_source.version(version) if version else self.content_source.current()
        if content.version not in self._templates:
            self._templates[content.version] = Templates(content.templates_dir)
        return self._templates[content.version]

    async def summary(self, *, review_id: int, updated: bool) -> None:
        review = await self.repos.reviews.get(review_id=review_id)
        if review is None:
            raise LookupError(review_id)
        content = self.content_source.version(review.content_version)
        answers = await self.repos.answers.all_for(review_id=review_id)
        alerts = await self.repos.alerts.for_review(review_id=review_id)
        first = review.submitted_at or review.created_at
        data = summary_data(
            content=content,
            review=review,
            answers=answers,
            tz=self.tz,
            updated=updated,
            sent_at=utcnow() if updated else first,
            first_sent_at=first,
            alerts=alerts,
            previous=review.sent_answers if updated else None,
            translations=await self._translations(answers),
        )
        await self.repos.reviews.remember_sent(
            review_id=review_id,
            answers=data["snapshot"],
            # The staff summary page's history: what each update told the IRO had changed.
            update_sent={
                "at": utcnow().isoformat(),
                "changed": [[row.question, row.answer] for row in data["changed"]],
            }
            if updated
            else None,
        )
        templates = self._templates_for(review.content_version)
        await self.repos.outbox.enqueue(
            message=OutboxMessageCreate(
                kind="summary",
                idempotency_key=f"summary:{review_id}:{review.summary_sends}",
                recipients=[review.iro_email],
                subject=templates.subject("summary_subject.txt", **data),
                text_body=templates.render("summary.txt", **data),
                html_body=templates.render("summary.html", **data),
            ),
            review_id=review_id,
        )
        # Waking the worker before the turn commits would have it look before the row exists.
        self.repos.db.after_commit(self.worker.wake)

    async def _translations(self, answers: dict[str, Answer]) -> dict[str, str]:
        """Written answers not in English, in English by machine: one request per language,
        and none at all without a translator (the summary then says who should read them)."""
        if self.translator is None or not self.translator.enabled:
            return {}
        by_language: dict[str, list[str]] = {}
        for key, a in answers.items():
            if a.kind == "text" and a.locale != FALLBACK_LOCALE and str(a.value).strip():
                by_language.setdefault(a.locale, []).append(key)
        found: dict[str, str] = {}
        for locale, keys in sorted(by_language.items()):
            english = await self.translator.many_to_english(
                [str(answers[k].value) for k in keys], source=locale
            )
            found.update({k: e for k, e in zip(keys, english, strict=True) if e})
        return found

    async def alert(self, *, alert_id: int, linked_later: bool = False) -> None:
        """Queues the alert email: to the IRO and the duty team, or the duty team alone before
        a review is known. `linked_later`: the chat has just linked to a review, so the IRO is
        now told of an alert the duty team already has."""
        alerts = self.repos.alerts
        alert = await alerts.get(alert_id=alert_id)
        review = (
            await self.repos.reviews.get(review_id=alert.review_id) if alert.review_id else None
        )
        content = (
            self.content_source.version(review.content_version)
            if review
            else (self.content_source.current())
        )
        data = alert_data(
            content=content,
            alert=alert,
            review=review,
            tz=self.tz,
            linked_later=linked_later and review is not None,
        )
        templates = self._templates_for(review.content_version if review else None)
        recipients = [review.iro_email, self.duty_email] if review else [self.duty_email]
        if linked_later and review is not None:
            recipients = [review.iro_email]
        subject, text_body, html_body = _render_alert(templates, data)
        await self.repos.outbox.enqueue(
            message=OutboxMessageCreate(
                kind="alert",
                idempotency_key=f"alert:{alert_id}" + (":linked" if linked_later else ""),
                recipients=list(dict.fromkeys(recipients)),
                subject=subject,
                text_body=text_body,
                html_body=html_body,
                urgent=True,
            ),
            review_id=review.id if review else None,
        )
        self.repos.db.after_commit(self.worker.wake)

    async def alert_group(self, *, lead_id: int, alert_ids: list[int]) -> None:
        """One follow-up for the messages a chat sent after its alert that raised nothing new:
        the same people, the same template, with every message and when it came."""
        lead = await self.repos.alerts.get(alert_id=lead_id)
        alerts = [await self.repos.alerts.get(alert_id=i) for i in alert_ids]
        review = await self.repos.reviews.get(review_id=lead.review_id) if lead.review_id else None
        version = review.content_version if review else None
        content = self.content_source.version(version) if version else self.content_source.current()
        words = "\n".join(
            f"[{a.created_at.astimezone(self.tz):%H:%M}]"
            + (" (after the help)" if a.tier == "after" else "")
            # One code used in several chats: each named, so each can be found.
            + (
                f" (in another chat: {a.channel_id} conversation {a.conversation_id})"
                if a.conversation_id != lead.conversation_id
                else ""
            )
            + f" {a.message}"
            for a in alerts
        )
        group = lead.model_copy(update={"message": words, "created_at": alerts[0].created_at})
        data = alert_data(content=content, alert=group, review=review, tz=self.tz, more=len(alerts))
        templates = self._templates_for(version)
        subject, text_body, html_body = _render_alert(templates, data)
        await self.repos.outbox.enqueue(
            message=OutboxMessageCreate(
                kind="alert",
                # A second batch for the same alert (said later, after the help) is its own email.
                idempotency_key=f"alert:{lead_id}:more:{alert_ids[0]}",
                recipients=list(
                    dict.fromkeys(
                        [review.iro_email, self.duty_email] if review else [self.duty_email]
                    )
                ),
                subject=subject,
                text_body=text_body,
                html_body=html_body,
                urgent=True,
            ),
            review_id=review.id if review else None,
        )
        self.repos.db.after_commit(self.worker.wake)

    async def note(self, *, alert_id: int, linked_later: bool = False) -> None:
        """A message the screen was unsure of: not urgent, to the IRO (or the duty team before
        a review is known), whatever the child answered to the gentle check. `linked_later`:
        the chat has just entered its code, so the IRO now has the note the duty team had."""
        alert = await self.repos.alerts.get(alert_id=alert_id)
        review = (
            await self.repos.reviews.get(review_id=alert.review_id) if alert.review_id else None
        )
        version = review.content_version if review else None
        content = self.content_source.version(version) if version else self.content_source.current()
        data = alert_data(
            content=content, alert=alert, review=review, tz=self.tz, linked_later=linked_later
        )
        subject, text_body, html_body = _render_alert(self._templates_for(version), data)
        await self.repos.outbox.enqueue(
            message=OutboxMessageCreate(
                kind="note",
                idempotency_key=f"alert:{alert_id}" + (":linked" if linked_later else ""),
                recipients=[review.iro_email] if review else [self.duty_email],
                subject=subject,
                text_body=text_body,
                html_body=html_body,
            ),
            review_id=review.id if review else None,
        )
        self.repos.db.after_commit(self.worker.wake)

    async def alert_digest(self, *, alert_ids: list[int], waited: timedelta) -> None:
        """One email to the duty team for the alerts held back by its hourly limit, oldest
        first; `waited`: how long the oldest of them was held."""
        content = self.content_source.current()
        sections = []
        for alert_id in alert_ids:
            alert = await self.repos.alerts.get(alert_id=alert_id)
            review = (
                await self.repos.reviews.get(review_id=alert.review_id) if alert.review_id else None
            )
            data = alert_data(content=content, alert=alert, review=review, tz=self.tz)
            sections.append(plain_alert(data, held=True))
        head = (
            f"{len(alert_ids)} safeguarding alert(s) from chats with no review yet were held "
            "back, because more arrived within an hour than the limit for separate emails "
            "(MYREVIEW_DUTY_ALERTS_PER_HOUR). Each young person was given the help at once. "
            f"The oldest was held for {int(waited.total_seconds() // 60)} minute(s). "
            "Here they are, oldest first."
        )
        await self.repos.outbox.enqueue(
            message=OutboxMessageCreate(
                kind="alerts",
                idempotency_key=f"alerts:{alert_ids[0]}-{alert_ids[-1]}",
                recipients=[self.duty_email],
                subject=f"URGENT: {len(alert_ids)} safeguarding alert(s) held back in MyReview",
                text_body="\n\n".join([head, *sections]),
                urgent=True,
            ),
            review_id=None,
        )
        self.repos.db.after_commit(self.worker.wake)

    async def code_guessing(self, *, wrong_in_last_hour: int, at: datetime) -> None:
        """Warns the duty team (at most hourly, the caller decides) that invite codes are being
        guessed across the service. For staff: no child's data, so no template is needed."""
        when = at.astimezone(self.tz).strftime("%-d %B %Y %H:%M")
        await self.repos.outbox.enqueue(
            message=OutboxMessageCreate(
                kind="warning",
                idempotency_key=f"code-guessing:{at:%Y%m%d%H%M}",
                recipients=[self.duty_email],
                subject="MyReview: invite codes are being guessed",
                text_body=(
                    f"At {when}, {wrong_in_last_hour} wrong invite codes had been entered in "
                    "the last hour, across all chats. That is more than children mistyping.\n\n"
                    "Until the rate falls, MyReview answers wrong codes slowly, one at a time; "
                    "a child with the right code still gets in at once. No code has been "
                    "given away. If this goes on, tell the MyReview "
                    "administrator; they can see the details in the logs.\n\n"
                    "You will not get this email more than once an hour."
                ),
                urgent=True,
            ),
            review_id=None,
        )
        self.repos.db.after_commit(self.worker.wake)
