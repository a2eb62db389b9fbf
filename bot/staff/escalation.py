"""Escalation: an urgent alert no one has acknowledged on the duty board after N working hours
(MYREVIEW_ALERT_ESCALATION_HOURS, counted in the council's working hours and days) is emailed
to the duty manager, and once more after 2N; never more.

Each step is sent once, whatever restarts or how many app instances run the job: the step is
claimed on the alert's row (`escalations`, a compare-and-set) in the same transaction as the
email is queued in the outbox (keyed `escalation:<alert>:<step>` too) and the history and audit
rows are written, so a step is either all recorded and queued, or not at all. An instance that
was down past 2N sends the second step only: one email, not two at once.

The email holds no child's words and no child's name: when it was raised, how long it has
waited, the IRO if there is a review, the owner if any, and a link to the alert page (signing
in, and every reading recorded).
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.parts import Parts
from bot.staff.accounts import base_url
from bot.working_hours import WorkingHours
from storage.models import OutboxMessageCreate, SafeguardingAlert

log = logging.getLogger(__name__)
STEPS = 2


def working_hours(parts: Parts) -> WorkingHours:
    s = parts.settings
    return WorkingHours.parse(s.working_hours, s.working_days, parts.services.timezone)


def due_step(alert: SafeguardingAlert, hours: WorkingHours, n: float, now: datetime) -> int:
    """The last escalation step due now (0: none yet)."""
    due = 0
    for step in range(1, STEPS + 1):
        if now >= hours.after(alert.created_at, n * step):
            due = step
    return due


def hours_text(hours: float) -> str:
    n = f"{hours:g}"
    return f"{n} working hour" + ("" if n == "1" else "s")


async def escalate(parts: Parts) -> int:
    """Queues the escalation emails due now (the services' clock); how many were queued."""
    now = parts.services.clock()
    repos = parts.repos
    settings = parts.settings
    hours = working_hours(parts)
    n = settings.alert_escalation_hours
    queued = 0
    for alert in await repos.alerts.awaiting_acknowledgement(steps=STEPS):
        step = due_step(alert, hours, n, now)
        if step <= alert.escalations:
            continue
        alert_id = alert.id or 0
        async with repos.db.unit_of_work():
            if not await repos.alerts.claim_escalation(alert_id=alert_id, step=step):
                continue  # another instance, or an acknowledgement, came first
            await repos.alerts.change(
                alert_id=alert_id,
                staff_id=None,
                at=now,
                action="escalated",
                note=None,
                from_states=("new",),
            )
            await repos.audit.record(
                action="alert.escalated",
                staff_id=None,
                review_id=alert.review_id,
                details={"alert": alert_id, "step": step, "working_hours": n * step},
                at=now,
            )
            await repos.outbox.enqueue(
                message=await _email(parts, alert, step=step, n=n), review_id=alert.review_id
            )
            repos.db.after_commit(parts.worker.wake)
        queued += 1
        log.warning(
            "alert escalated to the duty manager", extra={"alert_id": alert_id, "step": step}
        )
    return queued


async def _email(
    parts: Parts, alert: SafeguardingAlert, *, step: int, n: float
) -> OutboxMessageCreate:
    settings = parts.settings
    tz = parts.services.timezone
    review = await parts.repos.reviews.get(review_id=alert.review_id) if alert.review_id else None
    owner = await parts.repos.staff.get(staff_id=alert.owner_id) if alert.owner_id else None
    waited = hours_text(n * step)
    raised = alert.created_at.astimezone(tz).strftime("%A %-d %B %Y at %H:%M")
    link = f"{base_url(settings)}/staff/alerts/{alert.id}"
    still = "still " if step > 1 else ""
    subject = f"MyReview: urgent alert {alert.id} {still}not acknowledged after {waited}"
    if step < STEPS:
        after = (
            f"If it is still not acknowledged after {hours_text(n * (step + 1))}, you will get "
            "one more email. That is the last."
        )
    else:
        after = "This is the last email about this alert."
    text = "\n".join(
        [
            f"An urgent safeguarding alert raised in a MyReview chat on {raised} has {still}not "
            f"been acknowledged on the duty board after {waited} "
            f"(working hours {settings.working_hours}, {settings.working_days}).",
            "",
            f"Open it (you will be asked to sign in): {link}",
            "",
            "Review: "
            + (
                f"yes, IRO {review.iro_name}"
                if review
                else "none yet: the chat had not entered an invite code (the duty team's alone)"
            ),
            f"Owner: {owner.display_name if owner else 'no one has taken it'}",
            "",
            "What the young person wrote is not in this email: it is on the alert page, where "
            "every reading is recorded.",
            after,
        ]
    )
    return OutboxMessageCreate(
        kind="escalation",
        idempotency_key=f"escalation:{alert.id}:{step}",
        recipients=[settings.escalation_email],
        subject=subject,
        text_body=text + "\n",
        urgent=True,
    )
