"""Where a safeguarding alert's email goes, and when: the one place that decides it.

Every alert is stored the moment the child writes, and every child gets the help at once; only
the emails are bounded, and none is held for long:

- a repeat (no new kind of worry) of what the same chat, or another chat on the same review,
  raised in the last few minutes goes in one follow-up for that alert when those minutes are
  up, so one code entered in twenty chats is not twenty URGENT emails;
- alerts from chats with no review yet are limited to a number an hour for the duty team;
  past it they are held and go together, oldest first, in the next digest the limit allows.
  New alerts never overtake held ones, and an alert is never held longer than the hold
  limit: then the digest goes whatever the hourly count.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from dialogs.context import Services
from storage.models import SafeguardingAlert

log = logging.getLogger(__name__)

# How often the app's background job calls `release_held` (bot/app.py).
RELEASE_EVERY = timedelta(seconds=20)


async def route(services: Services, alert: SafeguardingAlert, now: datetime) -> None:
    """Emails a new alert at once, or holds it (module docstring)."""
    repos = services.repos
    since = now - services.alert_group_window
    found = await repos.alerts.lead_in_chat(
        channel_id=alert.channel_id,
        conversation_id=alert.conversation_id,
        since=since,
        not_id=alert.id or 0,
    )
    if found is None and alert.review_id is not None:
        found = await repos.alerts.lead_for_review(
            review_id=alert.review_id, since=since, not_id=alert.id or 0
        )
    if found is not None and set(alert.categories) <= found[1]:
        await repos.alerts.hold(alert_id=alert.id or 0, merged_into=found[0].id)
        return
    if alert.review_id is None and await _queued_for_duty(services, alert, now):
        return
    await services.notifier.alert(alert_id=alert.id or 0)


async def route_note(services: Services, alert: SafeguardingAlert, now: datetime) -> None:
    """A note on a message the screen was unsure of: to the IRO at once; before a code is
    entered, to the duty team within the same hourly limit as alerts (a flood of unsure words
    from throwaway chats is no more emails than a flood of worries)."""
    if alert.review_id is None and await _queued_for_duty(services, alert, now):
        return
    await services.notifier.note(alert_id=alert.id or 0)


async def _queued_for_duty(services: Services, alert: SafeguardingAlert, now: datetime) -> bool:
    """Holds an alert for the duty team's next digest when the hour's limit is reached or
    others are already waiting (held ones go first: this one joins the end of the queue), and
    sends the digest at once if the hour has room. Whether it was held."""
    repos = services.repos
    sent = await repos.outbox.duty_only_alerts_since(since=now - timedelta(hours=1))
    waiting = await repos.alerts.held_for_duty()
    if sent < services.duty_alerts_per_hour and not waiting:
        return False
    log.warning("alert held for the next digest", extra={"alert_id": alert.id})
    await repos.alerts.hold(alert_id=alert.id or 0, merged_into=None)
    if sent < services.duty_alerts_per_hour:
        await _send_digest(services, [*waiting, alert], now)
    return True


async def release_held(services: Services, now: datetime) -> int:
    """Sends what is held and due: each alert's follow-up once its grouping minutes are up,
    and the duty team's digest once the hour has room, or at the latest when its oldest alert
    would otherwise wait longer than the hold limit. Returns how many alerts went."""
    repos = services.repos
    held = await repos.alerts.held()
    groups: dict[int, list[int]] = {}
    for alert in held:
        if alert.merged_into is not None:
            groups.setdefault(alert.merged_into, []).append(alert.id or 0)
    released = 0
    for lead_id, ids in groups.items():
        lead = await repos.alerts.get(alert_id=lead_id)
        if lead.created_at + services.alert_group_window > now:
            continue
        async with repos.db.unit_of_work():
            await services.notifier.alert_group(lead_id=lead_id, alert_ids=ids)
            await repos.alerts.mark_summarised(alert_ids=ids)
        released += len(ids)
    waiting = [a for a in held if a.merged_into is None]
    if not waiting:
        return released
    sent = await repos.outbox.duty_only_alerts_since(since=now - timedelta(hours=1))
    # Due a release before the limit runs out, so that none waits past it.
    overdue = waiting[0].created_at <= now - (services.alert_max_hold - RELEASE_EVERY)
    if sent < services.duty_alerts_per_hour or overdue:
        async with repos.db.unit_of_work():
            await _send_digest(services, waiting, now)
        released += len(waiting)
    return released


async def _send_digest(services: Services, alerts: list[SafeguardingAlert], now: datetime) -> None:
    ordered = sorted(alerts, key=lambda a: (a.created_at, a.id or 0))
    ids = [a.id or 0 for a in ordered]
    waited = now - ordered[0].created_at
    await services.notifier.alert_digest(alert_ids=ids, waited=waited)
    await services.repos.alerts.mark_summarised(alert_ids=ids)
