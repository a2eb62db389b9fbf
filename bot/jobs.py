"""The app's background jobs, beside the turns: housekeeping (hourly: summaries and alerts an
older version left unqueued, forgetting what is kept only for a while, resealing, retention),
the release of held alerts (every few seconds), the escalation of alerts no one has
acknowledged (every minute), and notices to children (as staff change a review:
bot/notices.py). bot/app.py starts them with the app; the CLI runs purge. Each reads the time
from the services' clock, so tests move it instead of waiting."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.delivery.outbox import forget_emails
from bot.parts import Parts
from bot.staff.escalation import escalate
from bot.staff.imports import KEEP as IMPORT_KEEP
from dialogs.alert_routing import RELEASE_EVERY, release_held

log = logging.getLogger(__name__)
# Held alerts are looked at this often: a follow-up is at most this late.
RELEASE_SECONDS = RELEASE_EVERY.total_seconds()
HOUSEKEEPING_SECONDS = 3600
# Alerts waiting for acknowledgement are looked at this often: an escalation is at most this late.
ESCALATION_SECONDS = 60


async def housekeeping(parts: Parts) -> None:
    """Queue any summary a sent review is missing; forget what is only kept for a while:
    activity ids seen (channels resend within minutes), wrong-code attempts (they count for a
    day at most), the state of chats that never linked to a review (a week idle), everything
    about a review `retention_days` after it (and alerts from chats with no review as long
    after they were raised), and development .eml files after `eml_keep_days`. Seals anew any
    value under an older data key. Logs counts."""
    now = parts.services.clock()
    requeued = await requeue_missing_summaries(parts)
    alerts = await requeue_missing_alerts(parts)
    seen = await parts.repos.activities.forget_before(before=now - timedelta(days=2))
    codes = await parts.repos.code_attempts.forget_before(before=now - timedelta(days=1))
    unlinked = await parts.repos.bot_state.forget_unlinked_before(before=now - timedelta(days=7))
    # Staff sessions past their timeouts (refused anyway), and failed sign-ins over a day old.
    sessions = await parts.repos.staff.forget_sessions(
        idle_before=now - timedelta(minutes=parts.settings.staff_idle_minutes),
        started_before=now - timedelta(hours=parts.settings.staff_session_hours),
    )
    await parts.repos.staff.forget_failures_before(before=now - timedelta(days=1))
    # CSV files of reviews uploaded and never confirmed or cancelled (bot/staff/imports.py).
    imports = await parts.repos.imports.forget_before(before=now - IMPORT_KEEP)
    # Values under an older data key, or written before encryption, are sealed anew.
    resealed = await parts.repos.sealed.reseal_all()
    retention = timedelta(days=parts.settings.retention_days)
    purged = 0
    for review_id in await parts.repos.privacy.reviews_before(before=now - retention):
        # What the child told us about how to speak with them is kept for their next review,
        # for its own period (below).
        await purge(parts, review_id, keep_language_of_care=True)
        purged += 1
    care = await parts.repos.children.forget_language_of_care_before(
        before=now - timedelta(days=parts.settings.language_of_care_days)
    )
    old_alerts = await parts.repos.privacy.forget_unlinked_alerts(before=now - retention)
    emails = forget_eml_files(
        parts.settings.outbox_dir, before=now - timedelta(days=parts.settings.eml_keep_days)
    )
    log.info(
        "housekeeping",
        extra={
            "activity_ids": seen,
            "code_attempts": codes,
            "unlinked_chats": unlinked,
            "staff_sessions_ended": sessions,
            "imports_deleted": imports,
            "reviews_deleted": purged,
            "languages_of_care_deleted": care,
            "unlinked_alerts_deleted": old_alerts,
            "eml_files_deleted": emails,
            "summaries_requeued": requeued,
            "alerts_requeued": alerts,
            "values_resealed": resealed.resealed,
        },
    )


async def purge(
    parts: Parts, review_id: int, *, keep_language_of_care: bool = False
) -> dict[str, int]:
    """Deletes everything held about a review: its rows in one transaction, then the .eml
    files of its emails (development mail), which quote the child. At a young person's
    request, their Language of Care kept from it goes too; at the end of retention it stays
    for its own period (settings.language_of_care_days)."""
    async with parts.repos.db.unit_of_work():
        emails = await parts.repos.privacy.email_ids(review_id=review_id)
        counts = await parts.repos.privacy.purge(
            review_id=review_id, keep_language_of_care=keep_language_of_care
        )
    counts["eml_files"] = forget_emails(parts.settings.outbox_dir, emails)
    return counts


def forget_eml_files(directory: Path, *, before: datetime) -> int:
    """The .eml files (development mail) written before `before`: they hold children's words."""
    if not directory.exists():
        return 0
    gone = 0
    for path in directory.glob("*.eml"):
        with contextlib.suppress(FileNotFoundError):
            if datetime.fromtimestamp(path.stat().st_mtime, UTC) < before:
                path.unlink()
                gone += 1
    return gone


async def release_held_alerts(parts: Parts) -> int:
    """Sends the held alerts that are due (dialogs/alert_routing.py); how many went."""
    return await release_held(parts.services, parts.services.clock())


async def escalate_alerts(parts: Parts) -> int:
    """Emails the duty manager about urgent alerts no one has acknowledged within the working
    hours allowed (bot/staff/escalation.py); how many emails were queued."""
    return await escalate(parts)


async def requeue_missing_alerts(parts: Parts) -> int:
    """Every alert has its email queued: they commit together, so this finds only what an
    older version or a restored backup left behind."""
    since = parts.services.clock() - timedelta(days=7)
    missing = await parts.repos.alerts.without_email(since=since)
    for alert in missing:
        notifier = parts.services.notifier
        async with parts.repos.db.unit_of_work():
            if alert.tier == "unsure":
                await notifier.note(alert_id=alert.id or 0)
            else:
                await notifier.alert(alert_id=alert.id or 0)
        log.warning("alert email was missing and is queued now", extra={"alert_id": alert.id})
    return len(missing)


async def requeue_missing_summaries(parts: Parts) -> int:
    """A review marked sent always has its summary queued: sending commits both together, so
    this finds only what an older version or a restored backup left behind."""
    since = parts.services.clock() - timedelta(days=2)
    missing = await parts.repos.reviews.sent_without_summary(since=since)
    for review in missing:
        async with parts.repos.db.unit_of_work():
            await parts.services.notifier.summary(
                review_id=review.id or 0, updated=review.summary_sends > 1
            )
        log.warning("summary was missing and is queued now", extra={"review_id": review.id})
    return len(missing)


async def deliver_notices(parts: Parts) -> int:
    """Tells children what staff changed (bot/notices.py): every notice due now, to every
    device linked to its review; how many were delivered."""
    return await parts.notices.run_once()


async def notices_forever(parts: Parts) -> None:
    """At start-up, what a stopped process of this instance was sending is released and sent;
    then each notice as it is queued, and a look every `notice_poll_seconds`."""
    await parts.notices.run_forever()


async def housekeeping_forever(parts: Parts) -> None:
    while True:
        try:
            await housekeeping(parts)
        except Exception:  # a missed clean-up is retried next hour
            log.exception("housekeeping failed")
        await asyncio.sleep(HOUSEKEEPING_SECONDS)


async def release_forever(parts: Parts) -> None:
    while True:
        await asyncio.sleep(RELEASE_SECONDS)
        try:
            await release_held_alerts(parts)
        except Exception:  # tried again shortly; the alerts stay held, never lost
            log.exception("releasing held alerts failed")


async def escalate_forever(parts: Parts) -> None:
    while True:
        await asyncio.sleep(ESCALATION_SECONDS)
        try:
            await escalate_alerts(parts)
        except Exception:  # tried again next minute; a step claimed is a step queued
            log.exception("escalating alerts failed")
