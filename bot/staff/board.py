"""What the staff pages show, worked out from the stored rows: each review's progress for the
IRO's board, and the duty team's alert board. No child's words here: those are read on the
review and alert pages only, where each reading is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.delivery.english import CATEGORY_NAMES
from dialogs.flow import facts_for, steps
from storage.content import FALLBACK_LOCALE, Content
from storage.models import Answer, Review, SafeguardingAlert, StaffMember
from storage.types import utcnow

STATES = {
    "invited": "Invited",
    "linked": "Linked",
    "answering": "Answering",
    "sent": "Sent",
    "read": "Read",
    "held": "Review held",
    "cancelled": "Cancelled",
}


@dataclass
class Progress:
    state: str  # invited | linked | answering | sent | read | held | cancelled
    answered: int = 0
    total: int = 0

    @property
    def label(self) -> str:
        if self.state == "answering":
            return f"Answering ({self.answered} of {self.total})"
        return STATES[self.state]


def chat_locale(answers: dict[str, Answer]) -> str:
    chosen = answers.get("language")
    return str(chosen.value) if chosen is not None and chosen.kind == "choice" else FALLBACK_LOCALE


def progress(
    content: Content,
    review: Review,
    answers: dict[str, Answer],
    *,
    linked: bool,
    tz: ZoneInfo,
    now: datetime | None = None,
) -> Progress:
    """Where the child is: the questions counted are the ones their chat asks them now
    (dialogs/flow.py), so "12 of 20" means what the child sees. A cancelled review says so;
    once its time has passed, a review is held, whatever the child did."""
    if review.cancelled_at is not None:
        return Progress("cancelled")
    if review.review_at <= (now or utcnow()):
        return Progress("held")
    if review.read_at is not None:
        return Progress("read")
    if review.submitted_at is not None:
        return Progress("sent")
    if answers:
        facts = facts_for(content, review, answers, tz=tz, locale=chat_locale(answers))
        asked = steps(content, facts)
        return Progress(
            "answering", answered=sum(1 for s in asked if s.key in answers), total=len(asked)
        )
    return Progress("linked" if linked else "invited")


@dataclass
class ReviewCard:
    id: int
    first_name: str
    review_date: str
    days_left: int
    progress: Progress
    open_alerts: int


def when(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%a %-d %b %Y, %H:%M")


def question_title(content: Content, question_id: str | None) -> str | None:
    if not question_id:
        return None
    qid = question_id.split(".")[0]
    if qid not in content.by_id:
        return None
    return content.text(f"questions.{qid}.summary", FALLBACK_LOCALE)


@dataclass
class AlertCard:
    id: int
    raised: str
    categories: str
    urgent: bool
    review_id: int | None
    child: str | None  # the review's first name: not the child's words
    acknowledged: str | None  # "by Pat Lee, Mon 7 Dec 2026, 10:04"


def alert_card(
    alert: SafeguardingAlert,
    review: Review | None,
    staff: dict[int, StaffMember],
    tz: ZoneInfo,
) -> AlertCard:
    acknowledged = None
    if alert.acknowledged_at is not None:
        who = staff.get(alert.acknowledged_by or 0)
        acknowledged = f"by {who.display_name if who else 'a former member of staff'}, " + when(
            alert.acknowledged_at, tz
        )
    return AlertCard(
        id=alert.id or 0,
        raised=when(alert.created_at, tz),
        categories=", ".join(CATEGORY_NAMES.get(c, c) for c in alert.categories) or "not named",
        urgent=alert.tier == "clear",
        review_id=alert.review_id,
        child=review.first_name if review else None,
        acknowledged=acknowledged,
    )
