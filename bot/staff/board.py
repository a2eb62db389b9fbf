"""What the staff pages show, worked out from the stored rows: each review's progress for the
IRO's board, and the duty team's alert board. No child's words here: those are read on the
review and alert pages only, where each reading is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.delivery.english import CATEGORY_NAMES
from dialogs.flow import band_for, facts_for, steps
from dialogs.screen import CHECK, WHEN
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


STATE_NAMES = {
    "new": "New",
    "acknowledged": "Acknowledged",
    "action": "Action recorded",
    "closed": "Closed",
}


def waited(delta: timedelta) -> str:
    """ "2 days 3 h", "3 h 5 min", "4 min": how long, to read at a glance."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


@dataclass
class AlertCard:
    id: int
    raised: str
    categories: str
    urgent: bool
    review_id: int | None
    child: str | None  # the review's first name: not the child's words
    acknowledged: str | None  # "by Pat Lee, Mon 7 Dec 2026, 10:04"
    state: str = "new"
    owner: str | None = None  # the owner's name
    waiting: str = ""  # since it was raised: "3 h 5 min"
    more: int = 0  # messages kept with it (repeats, and what was said after the help)
    escalations: int = 0

    @property
    def state_name(self) -> str:
        return STATE_NAMES.get(self.state, self.state)

    @property
    def is_open(self) -> bool:
        return self.state != "closed"


def staff_name(staff: dict[int, StaffMember], staff_id: int | None) -> str:
    who = staff.get(staff_id or 0)
    return who.display_name if who else "a former member of staff"


def alert_card(
    alert: SafeguardingAlert,
    review: Review | None,
    staff: dict[int, StaffMember],
    tz: ZoneInfo,
    *,
    now: datetime | None = None,
    more: int = 0,
) -> AlertCard:
    acknowledged = None
    if alert.acknowledged_at is not None:
        acknowledged = f"by {staff_name(staff, alert.acknowledged_by)}, " + when(
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
        state=alert.state,
        owner=staff_name(staff, alert.owner_id) if alert.owner_id else None,
        waiting=waited((now or utcnow()) - alert.created_at),
        more=more,
        escalations=alert.escalations,
    )


def told(
    content: Content,
    alert: SafeguardingAlert,
    review: Review | None,
    *,
    before_code: bool,
    contact_within: str,
    tz: ZoneInfo,
) -> tuple[str, list[str]]:
    """What the child was told when the alert was raised (dialogs/screen.py), in English, in
    the wording of their age band: a summary, and the messages. The chat said it in the
    child's language (`alert.locale`)."""
    band = band_for(content, review, tz)
    iro = review.iro_name if review and not before_code else ""

    def say(key: str) -> str:
        return content.text(f"messages.{key}", FALLBACK_LOCALE, band, iro=iro, name="")

    if alert.tier == "unsure":
        return (
            "A gentle check: asked whether something is making them feel unsafe (not the "
            "help: the screen was not sure). Whatever they answered, this note was kept; "
            '"yes" would have raised an urgent alert of its own.',
            [content.text(f"questions.{CHECK}.prompt", FALLBACK_LOCALE, band)],
        )
    tell = "safeguarding_tell_duty" if before_code or review is None else "safeguarding_tell_iro"
    if alert.merged_into is not None:
        added = "safeguarding_added_duty" if tell.endswith("duty") else "safeguarding_added_iro"
        return ("A short word that this is passed on too (it followed an alert).", [say(added)])
    within = WHEN.get(contact_within, WHEN["one_day"])
    return (
        "The help at once: not in trouble, who can help now, who is told and when someone "
        "will be in touch.",
        [say("safeguarding_thanks"), say("safeguarding_help"), say(tell), say(within)],
    )
