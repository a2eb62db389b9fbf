"""The bot: every activity goes through one pipeline, in this order. The order is the design.

1. repair   the channel's strings were made safe at the door (bot/door.py), before all this
2. replay   a resend of an activity whose turn committed gets that turn's replies, if they
            never went out and no later turn has said anything, and stores nothing twice
3. screen   safeguarding screens everything written, whatever the dialog state
            (dialogs/screen.py); an alert commits on its own, first
4. apply    the dialogs classify the input against the question waiting (dialogs/ask.py) and
            act on it; replies are held back (bot/held.py)
5. commit   answers, dialog state and the activity's "seen" marker with its replies: one
            transaction
6. reply    the held replies go out; the marker then keeps their ids, not their words

A failure in 4 or 5 commits nothing: the child hears sorry (and any safeguarding help), and the
channel's resend of the activity runs the turn again. Turns of one conversation run one at a
time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from http import HTTPStatus

from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
from botbuilder.schema import Activity, ChannelAccount, SignInConstants

from bot.held import HeldContext, as_activity, deliver, from_stored
from dialogs.consultation import Consultation
from dialogs.context import Services, TurnFacts
from dialogs.render import text_message
from dialogs.screen import screen
from storage.content import FALLBACK_LOCALE
from storage.repositories import Delivered

log = logging.getLogger(__name__)


DELIVERED_DELAY = 0.5


class RepliesNotDelivered(Exception):
    """The turn committed but its replies could not reach the channel: its resend will."""


class MyReviewBot(ActivityHandler):
    def __init__(self, services: Services, consultation: Consultation) -> None:
        self.services = services
        self.consultation = consultation
        # Held locks keep their entry alive; idle conversations cost nothing.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # "Delivered" marks ride along with the next turn's commit rather than costing one of
        # their own; a quiet moment writes them after DELIVERED_DELAY. Losing them in a crash
        # costs little: a resend then gets its replies again, and housekeeping forgets them.
        self._delivered: list[Delivered] = []
        self._flush_task: asyncio.Task[None] | None = None

    async def on_turn(self, turn_context: TurnContext) -> None:
        received = self.services.clock().timestamp()
        act = turn_context.activity
        conversation_id = act.conversation.id if act.conversation else ""
        async with self._lock(f"{act.channel_id}/{conversation_id}"):
            if act.id and await self._replayed(turn_context, conversation_id, act.id):
                return
            held = HeldContext(turn_context)
            TurnFacts.of(held).received_at = received
            safety_replies = 0
            marks, self._delivered = self._delivered, []
            try:
                try:
                    await screen(self.services, held)
                finally:
                    safety_replies = len(held.held)
                async with self.services.repos.db.unit_of_work():
                    await self.services.repos.activities.delivered(marks=marks)
                    await super().on_turn(held)
                    await self.services.chats.save(held)
                    if act.id:
                        await self.services.repos.activities.record(
                            conversation_id=conversation_id,
                            activity_id=act.id,
                            replies=held.stored(),
                        )
            except Exception:
                self._delivered[:0] = marks  # rolled back with the turn: the next one writes them
                log.exception("turn failed", extra={"channel": act.channel_id, "type": act.type})
                await self._say_sorry(turn_context, held, safety_replies)
                return
            await self._deliver(turn_context, conversation_id, act.id, held.held)

    async def _replayed(self, context: TurnContext, conversation_id: str, activity_id: str) -> bool:
        """A resend of a committed activity: deliver its replies if they never went out, and
        the chat has not moved on since (a later turn said something). Its "delivered" mark
        can be lost in a crash; then a late duplicate would put an old question below the one
        the child is answering, and their next message would answer the wrong one."""
        activities = self.services.repos.activities
        seen = await activities.seen(conversation_id=conversation_id, activity_id=activity_id)
        if seen is None:
            return False
        pending = any(
            m.conversation_id == conversation_id and m.activity_id == activity_id
            for m in self._delivered
        )
        if seen.delivered or pending or not seen.replies:
            log.info("duplicate activity ignored", extra={"channel": context.activity.channel_id})
            return True
        if seen.seen_at is not None and await activities.answered_since(
            conversation_id=conversation_id, since=seen.seen_at
        ):
            log.info(
                "late duplicate ignored: the chat has moved on",
                extra={"channel": context.activity.channel_id},
            )
            return True
        log.info("replies delivered again", extra={"channel": context.activity.channel_id})
        await self._deliver(context, conversation_id, activity_id, from_stored(seen.replies))
        return True

    async def _deliver(
        self,
        context: TurnContext,
        conversation_id: str,
        activity_id: str | None,
        replies: list[tuple[str, Activity]],
    ) -> None:
        try:
            ids = await deliver(context, replies)
        except Exception as exc:
            log.warning("replies not delivered", extra={"error": type(exc).__name__})
            raise RepliesNotDelivered from exc
        if activity_id:
            self._delivered.append(
                Delivered(conversation_id, activity_id, ids, self.services.clock())
            )
            if self._flush_task is None or self._flush_task.done():
                self._flush_task = asyncio.create_task(self._flush_later())

    async def _write_delivered(self) -> None:
        marks, self._delivered = self._delivered, []
        try:
            await self.services.repos.activities.delivered(marks=marks)
        except BaseException:
            self._delivered[:0] = marks
            raise

    async def _flush_later(self) -> None:
        await asyncio.sleep(DELIVERED_DELAY)
        await self.flush_delivered()

    async def close(self) -> None:
        """Shutting down: the pending marks are written now, not in a timer that will not run."""
        task = self._flush_task
        if task is not None and not task.done():
            task.cancel()
            # Awaited, so that a write it had begun is rolled back while the database is still
            # open: left to finish after the database closed, its rollback waited forever.
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush_delivered()

    async def flush_delivered(self) -> None:
        """Writes the pending "delivered" marks now (a quiet moment, or shutting down)."""
        if not self._delivered:
            return
        try:
            async with self.services.repos.db.unit_of_work():
                await self._write_delivered()
        except Exception:  # the next turn's commit takes them
            log.exception("delivered marks not written")

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        # ActivityHandler would call on_teams_signin_token_exchange, which only
        # TeamsActivityHandler defines; this bot has no sign-in (the door answers 200).
        if turn_context.activity.name == SignInConstants.token_exchange_operation_name:
            return InvokeResponse(status=int(HTTPStatus.NOT_IMPLEMENTED))
        return await super().on_invoke_activity(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await self.consultation.run(turn_context)

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        if any(m is not None and m.id != bot_id for m in members_added):
            await self.consultation.run(turn_context)

    def conversation_lock(self, channel_id: str, conversation_id: str) -> asyncio.Lock:
        """Held while a turn of this chat runs. A message from outside a turn (a notice to the
        child, bot/notices.py) takes it too, so it never lands among a turn's replies."""
        return self._lock(f"{channel_id}/{conversation_id}")

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def _say_sorry(self, context: TurnContext, held: HeldContext, keep: int) -> None:
        """Nothing was stored: say sorry, after any safeguarding help (which must still go)."""
        try:
            ops = held.held[:keep]
            ops.append(("send", as_activity(text_message(self._sorry_words(context)))))
            await deliver(context, ops)
        except Exception:
            log.exception("could not send the error message")

    def _sorry_words(self, context: TurnContext) -> str:
        turn = TurnFacts.of(context).turn
        if turn is not None:
            try:
                return turn.msg("error")
            except Exception:  # noqa: BLE001 - the plainest words are better than none
                log.info("error message in English")
        return self.services.content_source.current().text("messages.error", FALLBACK_LOCALE)
