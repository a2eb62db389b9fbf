"""The bot: one turn at a time per conversation, each activity once, state saved at the end."""

from __future__ import annotations

import asyncio
import logging
import weakref

from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.schema import ActivityTypes, ChannelAccount

from dialogs.consultation import Consultation
from dialogs.context import Services, Turn
from dialogs.render import text_message

log = logging.getLogger(__name__)
DEDUPLICATED = {ActivityTypes.message, ActivityTypes.invoke}


class MyReviewBot(ActivityHandler):
    def __init__(self, services: Services, consultation: Consultation) -> None:
        self.services = services
        self.consultation = consultation
        # Turns of one conversation run one after another; held locks keep their entry alive.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def on_turn(self, turn_context: TurnContext) -> None:
        act = turn_context.activity
        conversation_id = act.conversation.id if act.conversation else ""
        repos = self.services.repos
        if act.id and act.type in DEDUPLICATED:
            first = await repos.activities.first_delivery(
                conversation_id=conversation_id, activity_id=act.id
            )
            if not first:
                log.info("duplicate activity ignored", extra={"channel": act.channel_id})
                return
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        async with lock:
            try:
                await super().on_turn(turn_context)
                await self.services.conversation_state.save_changes(turn_context)
            except Exception:
                log.exception("turn failed", extra={"channel": act.channel_id, "type": act.type})
                if act.id and act.type in DEDUPLICATED:
                    # Let the channel's retry of this activity run again.
                    await repos.activities.forget(
                        conversation_id=conversation_id, activity_id=act.id
                    )
                await self._say_sorry(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await self.consultation.run(turn_context)

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        if any(m.id != bot_id for m in members_added):
            await self.consultation.run(turn_context)

    async def _say_sorry(self, turn_context: TurnContext) -> None:
        try:
            turn = await Turn.load(self.services, turn_context)
            await turn_context.send_activity(text_message(turn.msg("error"), turn))
        except Exception:
            log.exception("could not send the error message")
