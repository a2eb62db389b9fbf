"""Telling a child something outside their turns: their review moved, was cancelled, has a new
IRO, or their IRO read their answers (bot/reviews.py queues these with the change).

A notice is a row (storage ChildNotice), so a restart delivers what was pending. Each pass
leases the due notices to this instance and sends each to every device linked to the review
and not closed: on a Bot Framework channel (Teams) through the adapter's
continue_conversation with the device's stored reference; at the web door by queueing it in
the chat (bot/directline.py). Before sending to a device a "sending" row is written, so no
device is sent a notice twice, even if the process dies mid-send (that device is then not
tried again: a notice shown twice is worse than one a child may have missed, and the next
turn's words carry the same news). A failed send is tried again with back-off.

A notice is only a message: the chat's state is not touched, and the question the child was
answering is still the one their next answer goes to. It waits for a turn of the same chat to
finish, so it never lands among that turn's replies. The words are the child's chat language
(their `language` answer, else the review's language), easy read where their chat is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_date, format_time
from botbuilder.core import TurnContext
from botbuilder.schema import ConversationReference

from bot.adapter import MyReviewAdapter
from bot.delivery.outbox import backoff
from bot.directline import CHANNEL_ID as WEB_CHANNEL
from bot.directline import DirectLine
from bot.handler import MyReviewBot
from bot.held import as_activity
from dialogs.context import Services
from dialogs.flow import band_for
from dialogs.render import Activity, text_message
from storage.content import FALLBACK_LOCALE, Content
from storage.models import Answer, ChannelLink, ChildNotice, Review
from storage.translations import is_translated

log = logging.getLogger(__name__)

# The messages a notice can say (content/locales, `messages:`), and their placeholders.
MOVED = "notice_moved"
MOVED_PLACE = "notice_moved_place"
CANCELLED = "notice_cancelled"
NEW_IRO = "notice_new_iro"
READ = "notice_read"
NOTICE_MESSAGES = (MOVED, MOVED_PLACE, CANCELLED, NEW_IRO, READ)
# A notice's lease: one pass of one notice to a few devices takes seconds.
LEASE = timedelta(minutes=2)


def notice_locale(content: Content, review: Review, answers: dict[str, Answer]) -> str:
    """The chat's language: the child's `language` answer, else the review's, else English."""
    chosen = answers.get("language")
    if chosen is not None and chosen.kind == "choice" and str(chosen.value) in content.locales:
        return str(chosen.value)
    hint = (review.language_hint or "").split("-")[0].lower()
    return hint if hint in content.locales else FALLBACK_LOCALE


def notice_words(
    content: Content,
    review: Review,
    answers: dict[str, Answer],
    notice: ChildNotice,
    *,
    tz: Any,
) -> tuple[str, str]:
    """What the notice says to this child, and in which language."""
    locale = notice_locale(content, review, answers)
    band = band_for(content, review, tz)
    pronouns = answers.get("pronouns")
    given = pronouns.value if pronouns is not None and pronouns.kind == "choice" else None
    form = {"she_her": "f", "he_him": "m"}.get(str(given))
    params = dict(notice.params or {})
    values: dict[str, Any] = {"iro": params.get("iro") or review.iro_name}
    at = params.get("at")
    when = datetime.fromisoformat(at) if isinstance(at, str) else review.review_at
    values["date"] = format_date(when.astimezone(tz).date(), "EEEE d MMMM", locale=locale)
    values["time"] = format_time(when.astimezone(tz), "HH:mm", locale=locale)
    values["place"] = params.get("place") or ""
    key = f"messages.{notice.message_id}"
    said = content.text(key, locale, band, form=form, **values)
    if not is_translated(content, key, locale):
        said += "\n" + content.text("messages.not_translated_yet", locale, band)
    return said, locale


class DeviceGone(Exception):
    """The device's chat has ended (a web door chat forgotten): nothing to send to."""


class NoticeSender:
    """Sends the due notices; woken at once when one is queued here, else polls."""

    def __init__(
        self,
        *,
        services: Services,
        adapter: MyReviewAdapter,
        web: DirectLine,
        bot: MyReviewBot,
        app_id: str,
        owner: str,
        poll_seconds: float,
        max_attempts: int,
    ) -> None:
        self.services = services
        self.repos = services.repos
        self.adapter = adapter
        self.web = web
        self.bot = bot
        self.app_id = app_id
        self.owner = owner
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> int:
        """What a process of this instance's name held when it stopped is free now."""
        released = await self.repos.notices.release(owner=self.owner)
        if released:
            log.warning("notices a stopped process held are released", extra={"count": released})
        return released

    async def run_once(self) -> int:
        """Delivers every notice due now; how many were delivered to all their devices."""
        done = 0
        while True:
            now = self.services.clock()
            due = await self.repos.notices.claim_due(now=now, owner=self.owner, lease=LEASE)
            if not due:
                return done
            for notice in due:
                try:
                    delivered = await self._deliver(notice)
                except Exception as exc:  # its words could not be made: tried again later
                    log.exception("notice failed", extra={"notice_id": notice.id})
                    await self._failed(notice, type(exc).__name__, devices=notice.devices)
                    continue
                if delivered:
                    done += 1

    async def run_forever(self) -> None:
        await self.start()
        while True:
            try:
                await self.run_once()
            except Exception:  # a database hiccup: the notices stay pending, tried next pass
                log.exception("notice pass failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            self._wake.clear()

    # --- one notice --------------------------------------------------------------------------

    async def _deliver(self, notice: ChildNotice) -> bool:
        notice_id = notice.id or 0
        review = await self.repos.reviews.get(review_id=notice.review_id)
        devices = await self.repos.notices.devices(review_id=notice.review_id)
        gone_before = await self.repos.notices.deliveries(notice_id=notice_id)
        told = sum(1 for state in gone_before.values() if state == "sent")
        failures: list[str] = []
        if review is not None and devices:
            answers = await self.repos.answers.all_for(review_id=notice.review_id)
            content = self.services.content_source.version(review.content_version)
            text, locale = notice_words(content, review, answers, notice, tz=self.services.timezone)
            rtl = content.direction(locale) == "rtl"
            for link in devices:
                if link.id in gone_before:
                    continue  # sent, or begun and cut short by a crash: never twice
                # Made untrue since it was claimed (the review moved again): not sent.
                if not await self.repos.notices.still_pending(notice_id=notice_id):
                    return False
                activity = text_message(text, rtl=rtl, channel=link.channel_id, locale=locale)
                outcome = await self._send(notice_id, link, activity)
                if outcome == "sent":
                    told += 1
                elif outcome != "gone":
                    failures.append(outcome)
        now = self.services.clock()
        if not failures:
            await self.repos.notices.delivered(notice_id=notice_id, at=now, devices=told)
            log.info(
                "notice delivered",
                extra={"notice_id": notice_id, "says": notice.message_id, "devices": told},
            )
            return True
        await self._failed(notice, failures[0], devices=told)
        return False

    async def _failed(self, notice: ChildNotice, error: str, *, devices: int) -> None:
        """Tried again after a back-off (30 s doubling to an hour); given up after the last."""
        attempts = notice.attempts + 1
        retry = self.services.clock() + backoff(attempts) if attempts < self.max_attempts else None
        await self.repos.notices.failed_attempt(
            notice_id=notice.id or 0, error=error, retry_at=retry, devices=devices
        )
        log.warning(
            "notice not delivered",
            extra={
                "notice_id": notice.id,
                "attempts": attempts,
                "error": error,
                "gave_up": retry is None,
            },
        )

    async def _send(self, notice_id: int, link: ChannelLink, activity: Activity) -> str:
        """sent | gone (the chat has ended) | the error's name. The device's chat is held
        while it is sent, so the notice never comes among the replies of a turn."""
        link_id = link.id or 0
        async with self.bot.conversation_lock(link.channel_id, link.conversation_id):
            if not await self.repos.notices.begin_sending(
                notice_id=notice_id, link_id=link_id, at=self.services.clock()
            ):
                return "gone"  # another pass got there first
            try:
                if link.channel_id == WEB_CHANNEL:
                    if not await self.web.tell(
                        conversation_id=link.conversation_id,
                        activity=activity,
                        key=f"notice:{notice_id}",
                    ):
                        raise DeviceGone
                else:
                    await self._continue(link, activity)
            except DeviceGone:
                # Nothing went; and there is nobody to try again for.
                await self.repos.notices.not_sent(notice_id=notice_id, link_id=link_id)
                return "gone"
            except Exception as exc:  # noqa: BLE001 - any failure to send is tried again later
                await self.repos.notices.not_sent(notice_id=notice_id, link_id=link_id)
                return type(exc).__name__
            await self.repos.notices.sent(
                notice_id=notice_id, link_id=link_id, at=self.services.clock()
            )
            return "sent"

    async def _continue(self, link: ChannelLink, activity: Activity) -> None:
        """A proactive message on a Bot Framework channel, with the device's stored reference."""
        stored = link.conversation_reference or {}
        if not stored.get("serviceUrl") or not (stored.get("conversation") or {}).get("id"):
            raise DeviceGone
        reference = ConversationReference().deserialize(stored)
        failed: list[BaseException] = []

        async def send(context: TurnContext) -> None:
            # Caught here: the adapter would hand it to its on_turn_error, which only logs.
            try:
                await context.send_activity(as_activity(activity))
            except Exception as exc:  # noqa: BLE001 - raised again below
                failed.append(exc)

        await self.adapter.continue_conversation(reference, send, self.app_id or None)
        if failed:
            raise failed[0]
