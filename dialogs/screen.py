"""Safeguarding screening: one stage of every turn, in front of the dialogs.

Whatever the dialog is doing (asking, paused, sent, closed, or nothing at all), every message
and every edited message is screened. A match gets help at once, an honest word on who will be
told, and an alert committed on its own, before the dialogs run: a later failure in the turn
must not lose it, and a channel's resend of the same message raises no second alert.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ActivityTypes

from dialogs.context import Services, Turn
from storage.models import SafeguardingAlert, SafeguardingAlertBase

log = logging.getLogger(__name__)

FLAGGED = "myreview.flagged"
# Longer texts are screened off the event loop so that other children's turns carry on.
OFF_LOOP_CHARS = 4000


def written(context: TurnContext) -> str | None:
    """What the child wrote in this activity, with or without a card's value beside it."""
    act = context.activity
    if act.type not in (ActivityTypes.message, ActivityTypes.message_update):
        return None
    text = act.text if isinstance(act.text, str) else ""
    return text.strip() or None


def flagged(context: TurnContext) -> list[str]:
    """The categories this turn's screening found (empty when nothing, or not screened)."""
    found = context.turn_state.get(FLAGGED)
    return list(found) if isinstance(found, list) else []


async def screen(services: Services, context: TurnContext) -> list[str]:
    """Screens what the child wrote; on a match alerts the adults and says so to the child."""
    text = written(context)
    if text is None:
        return []
    matcher = services.matcher(services.content_source.current())
    if len(text) > OFF_LOOP_CHARS:
        categories = await asyncio.to_thread(matcher.categories, text)
    else:
        categories = matcher.categories(text)
    context.turn_state[FLAGGED] = categories
    if not categories:
        return []
    turn = await Turn.load(services, context)
    # Help first: whatever fails after this, the child has it.
    await turn.say(
        "safeguarding_thanks",
        "safeguarding_help",
        "safeguarding_tell_iro" if turn.review else "safeguarding_tell_duty",
        "carry_on",
    )
    act = context.activity
    async with services.repos.db.unit_of_work():
        alert, new = await services.repos.alerts.create_once(
            data=SafeguardingAlertBase(
                categories=categories,
                channel_id=act.channel_id or "",
                conversation_id=act.conversation.id if act.conversation else "",
                locale=turn.locale,
                question_id=_waiting_for(turn),
                **_who(act),
            ),
            review_id=turn.review.id if turn.review else None,
            message=text,
            activity_id=act.id or None,
        )
        if new:
            await route(services, alert, turn.now())
    # The dialogs read the review and answers again inside the turn's own transaction.
    context.turn_state.pop(Turn.CACHE, None)
    return categories


async def route(services: Services, alert: SafeguardingAlert, now: datetime) -> None:
    """Emails the alert at once, unless it only repeats what this chat raised in the last few
    minutes (it then goes in one follow-up when those minutes are up), or the duty team has
    had as many alerts from chats with no review this hour as it should get (it then goes in
    the next digest). Either way it is stored now, and the child already has the help."""
    repos = services.repos
    found = await repos.alerts.lead_in_chat(
        channel_id=alert.channel_id,
        conversation_id=alert.conversation_id,
        since=now - services.alert_group_window,
        not_id=alert.id or 0,
    )
    if found is not None and set(alert.categories) <= found[1]:
        await repos.alerts.hold(alert_id=alert.id or 0, merged_into=found[0].id)
        return
    if alert.review_id is None:
        sent = await repos.outbox.duty_only_alerts_since(since=now - timedelta(hours=1))
        if sent >= services.duty_alerts_per_hour:
            log.warning("alert held for the next digest", extra={"alert_id": alert.id})
            await repos.alerts.hold(alert_id=alert.id or 0, merged_into=None)
            return
    await services.notifier.alert(alert_id=alert.id or 0)


def _who(act: Activity) -> dict[str, str | None]:
    """The channel's ids for the young person, so a duty worker can find the chat."""
    sender = act.from_property
    tenant = act.conversation.tenant_id if act.conversation else None
    data = act.channel_data if isinstance(act.channel_data, dict) else {}
    if not tenant and isinstance(data.get("tenant"), dict):
        tenant = data["tenant"].get("id")
    return {
        "user_id": (sender.id or None) if sender else None,
        "tenant_id": str(tenant)[:64] if tenant else None,
        "aad_object_id": (sender.aad_object_id or None) if sender else None,
    }


def _waiting_for(turn: Turn) -> str | None:
    """The question the child was looking at, for the adults reading the alert."""
    asked = turn.profile.get("asked")
    return str(asked["key"]) if isinstance(asked, dict) and asked.get("key") else None
