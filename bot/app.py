"""The app factory: builds the adapter, storage, dialogs and delivery from one Settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from aiohttp import web
from botbuilder.core import ConversationState, TurnContext
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication

from bot.adapter import MyReviewAdapter
from bot.delivery.notifier import OutboxNotifier
from bot.delivery.outbox import FileTransport, OutboxWorker, SmtpTransport, Transport
from bot.delivery.summary import check_templates
from bot.handler import MyReviewBot, RepliesNotDelivered
from bot.settings import Settings
from bot.state import SqlStorage
from dialogs.consultation import Consultation
from dialogs.context import InviteCodes, Services
from dialogs.messages import CONTRACT
from storage.content import FileContentSource
from storage.db import Database
from storage.repositories import Repositories

log = logging.getLogger(__name__)
HOUSEKEEPING_SECONDS = 3600
MAX_BODY = 256 * 1024  # Teams caps a message at 100 KB; anything far larger is not a channel


@dataclass
class Parts:
    """What create_app built, for the CLI and for tests."""

    settings: Settings
    db: Database
    repos: Repositories
    services: Services
    adapter: MyReviewAdapter
    bot: MyReviewBot
    worker: OutboxWorker


PARTS = web.AppKey("parts", Parts)


def build_transport(settings: Settings) -> Transport:
    if settings.smtp_host:
        return SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            starttls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
    return FileTransport(settings.outbox_dir)


def build_parts(settings: Settings) -> Parts:
    tz = ZoneInfo(settings.timezone)
    db = Database(settings.database_url)
    repos = Repositories(db)
    content_source = FileContentSource(settings.content_dir, required=CONTRACT)
    # A template typo must stop the start, not the first child who sends.
    check_templates(content_source.current(), tz)
    conversation_state = ConversationState(SqlStorage(repos.bot_state))
    worker = OutboxWorker(
        repo=repos.outbox,
        transport=build_transport(settings),
        sender=settings.mail_from,
        poll_seconds=settings.outbox_poll_seconds,
        max_attempts=settings.outbox_max_attempts,
    )
    notifier = OutboxNotifier(
        repos=repos,
        content_source=content_source,
        worker=worker,
        duty_email=settings.duty_email,
        timezone=tz,
    )
    services = Services(
        content_source=content_source,
        repos=repos,
        notifier=notifier,
        codes=InviteCodes(settings.secret_key.get_secret_value()),
        conversation_state=conversation_state,
        timezone=tz,
        code_attempts_allowed=settings.code_attempts_allowed,
        code_window=timedelta(minutes=settings.code_attempt_window_minutes),
        burst_window=timedelta(seconds=settings.burst_window_seconds),
    )
    bot = MyReviewBot(services, Consultation(services))
    auth = ConfigurationBotFrameworkAuthentication(
        SimpleNamespace(
            APP_ID=settings.microsoft_app_id,
            APP_PASSWORD=settings.microsoft_app_password.get_secret_value(),
            APP_TYPE=settings.microsoft_app_type,
            APP_TENANTID=settings.microsoft_app_tenant_id,
        )
    )
    adapter = MyReviewAdapter(auth)

    async def on_error(context: TurnContext, error: Exception) -> None:
        if isinstance(error, RepliesNotDelivered):
            raise error  # answered 503, so the channel resends and the replies go out then
        # The bot catches its own failures; this is the adapter's last line.
        log.error("unhandled turn error", exc_info=error)

    adapter.on_turn_error = on_error
    return Parts(settings, db, repos, services, adapter, bot, worker)


def create_app(settings: Settings) -> web.Application:
    parts = build_parts(settings)
    app = web.Application(client_max_size=MAX_BODY)
    app[PARTS] = parts

    async def messages(request: web.Request) -> web.StreamResponse:
        try:
            response = await parts.adapter.process(request, parts.bot)
        except RepliesNotDelivered:
            # The turn is committed; a resend of this activity delivers its replies.
            return web.json_response(
                {"error": "replies could not be delivered; resend the activity"},
                status=503,
                headers={"Retry-After": "2"},
            )
        return response or web.Response(status=201)

    async def healthz(request: web.Request) -> web.Response:
        if await parts.db.ping():
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)

    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def housekeeping(parts: Parts) -> None:
    """Queue any summary a sent review is missing; forget what is only kept for a while:
    activity ids seen (channels resend within minutes) and wrong-code attempts (they count
    for 15 minutes)."""
    now = parts.services.clock()
    requeued = await requeue_missing_summaries(parts)
    alerts = await requeue_missing_alerts(parts)
    seen = await parts.repos.activities.forget_before(before=now - timedelta(days=2))
    codes = await parts.repos.code_attempts.forget_before(before=now - timedelta(days=1))
    log.info(
        "housekeeping",
        extra={
            "activity_ids": seen,
            "code_attempts": codes,
            "summaries_requeued": requeued,
            "alerts_requeued": alerts,
        },
    )


async def requeue_missing_alerts(parts: Parts) -> int:
    """Every alert has its email queued: they commit together, so this finds only what an
    older version or a restored backup left behind."""
    since = parts.services.clock() - timedelta(days=7)
    missing = await parts.repos.alerts.without_email(since=since)
    for alert in missing:
        async with parts.repos.db.unit_of_work():
            await parts.services.notifier.alert(alert_id=alert.id or 0)
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


async def _housekeeping_forever(parts: Parts) -> None:
    while True:
        try:
            await housekeeping(parts)
        except Exception:  # a missed clean-up is retried next hour
            log.exception("housekeeping failed")
        await asyncio.sleep(HOUSEKEEPING_SECONDS)


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    parts = app[PARTS]
    await parts.db.migrate()
    tasks = [
        asyncio.create_task(parts.worker.run_forever(), name="outbox"),
        asyncio.create_task(_housekeeping_forever(parts), name="housekeeping"),
    ]
    log.info("started", extra={"transport": parts.worker.transport.name})
    yield
    await parts.bot.close()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await parts.db.dispose()
    parts.adapter.close()  # its connector thread pool
