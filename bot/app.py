"""The app factory: builds the adapter, storage, dialogs and delivery from one Settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import stat
from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication

from bot import jobs, web_door
from bot.adapter import MyReviewAdapter
from bot.delivery.notifier import OutboxNotifier
from bot.delivery.outbox import (
    FileTransport,
    OutboxWorker,
    SmtpTransport,
    Transport,
)
from bot.delivery.templating import check_templates
from bot.delivery.translator import AzureTranslator, NoTranslator
from bot.directline import DirectLine
from bot.handler import MyReviewBot, RepliesNotDelivered
from bot.invite_card import check_invite_card
from bot.notices import NoticeSender
from bot.parts import PARTS, Parts
from bot.reviews import fill_child_keys
from bot.settings import Settings, UnsafeSetup
from bot.staff.pages import StaffPages
from dialogs.chat_state import ChatStates
from dialogs.consultation import Consultation
from dialogs.context import InviteCodes, Services
from dialogs.messages import CONTRACT
from dialogs.safeguarding_model import training_set
from storage.content import Content, ContentError, FileContentSource
from storage.crypto import load_keyring, missing_keys_error
from storage.db import Database, private_dir
from storage.repositories import Repositories
from storage.translations import gaps

log = logging.getLogger(__name__)
# Held alerts are looked at this often: a follow-up is at most this late.
MAX_BODY = 256 * 1024  # Teams caps a message at 100 KB; anything far larger is not a channel


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


def check_translations(content: Content, english_allowed: bool) -> None:
    """Logs each language's missing and stale wording (`myreview content check` lists it);
    refuses to start on missing wording where the council does not allow English for it."""
    for locale, found in gaps(content).items():
        if not found:
            continue
        log.warning(
            "wording not translated",
            extra={"locale": locale, "missing": len(found.missing), "stale": len(found.stale)},
        )
        if found.missing and not english_allowed:
            path = content.directory / "locales" / f"{locale}.yaml"
            raise ContentError(
                f"{path}: no wording yet for {', '.join(found.missing[:5])}"
                + (f" and {len(found.missing) - 5} more" if len(found.missing) > 5 else "")
                + ". Translate it (`myreview content check` lists it all), or set "
                "MYREVIEW_ENGLISH_WHERE_UNTRANSLATED=true to show the English with a note."
            )


def build_translator(settings: Settings) -> AzureTranslator | NoTranslator:
    key = settings.translator_key.get_secret_value()
    if not key:
        return NoTranslator()
    return AzureTranslator(
        endpoint=settings.translator_endpoint,
        key=key,
        region=settings.translator_region,
        timeout=settings.translator_timeout_seconds,
    )


def secure_var_dir(settings: Settings) -> None:
    """var/ holds the database and emails: owner-only. A developer's is tightened; production
    refuses to start rather than change a folder an operator set up."""
    var = settings.var_dir
    private_dir(var)
    mode = stat.S_IMODE(var.stat().st_mode)
    if mode & 0o077:
        if settings.environment == "production":
            raise UnsafeSetup(
                f"{var} can be read by other users (mode {mode:o}). Children's words are kept "
                f"there: run `chmod 700 {var}` and start again."
            )
        var.chmod(0o700)


def build_parts(settings: Settings) -> Parts:
    tz = ZoneInfo(settings.timezone)
    secure_var_dir(settings)
    keys = load_keyring(settings.data_keys.get_secret_value(), dev_key_file=settings.dev_key_file)
    db = Database(settings.database_url, keys=keys)
    repos = Repositories(db)
    content_source = FileContentSource(settings.content_dir, required=CONTRACT)
    # A template typo must stop the start, not the first child who sends.
    check_templates(content_source.current(), tz)
    check_invite_card(settings, content_source.current())
    worker = OutboxWorker(
        repo=repos.outbox,
        transport=build_transport(settings),
        sender=settings.mail_from,
        poll_seconds=settings.outbox_poll_seconds,
        max_attempts=settings.outbox_max_attempts,
        owner=settings.instance_name,
    )
    translator = build_translator(settings)
    notifier = OutboxNotifier(
        repos=repos,
        content_source=content_source,
        worker=worker,
        duty_email=settings.duty_email,
        timezone=tz,
        translator=translator,
    )
    services = Services(
        content_source=content_source,
        repos=repos,
        notifier=notifier,
        codes=InviteCodes(settings.secret_key.get_secret_value()),
        chats=ChatStates(repos.bot_state),
        timezone=tz,
        code_attempts_allowed=settings.code_attempts_allowed,
        code_window=timedelta(minutes=settings.code_attempt_window_minutes),
        code_attempts_per_user_per_day=settings.code_attempts_per_user_per_day,
        code_guesses_per_hour=settings.code_guesses_per_hour,
        code_slow_lane=timedelta(seconds=settings.code_slow_lane_seconds),
        code_devices_allowed=settings.code_devices_allowed,
        alert_group_window=timedelta(minutes=settings.alert_group_minutes),
        alert_max_hold=timedelta(minutes=settings.alert_max_hold_minutes),
        duty_alerts_per_hour=settings.duty_alerts_per_hour,
        burst_window=timedelta(seconds=settings.burst_window_seconds),
        advocacy_contact=settings.advocacy_contact,
        alert_contact_within=settings.alert_contact_within,
        translator=translator,
    )
    # A missing or unreadable safeguarding model must stop the start, too.
    screen = services.matcher(content_source.current())
    if screen.model.is_stale(training_set(content_source.current())):
        log.warning(
            "the safeguarding model was trained on other examples than content/safeguarding/"
            "examples holds: run `myreview safeguarding train` and commit the result"
        )
    check_translations(content_source.current(), settings.english_where_untranslated)
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
    web = DirectLine(settings, repos.web, bot)
    notices = NoticeSender(
        services=services,
        adapter=adapter,
        web=web,
        bot=bot,
        app_id=settings.microsoft_app_id,
        owner=settings.instance_name,
        poll_seconds=settings.notice_poll_seconds,
        max_attempts=settings.notice_max_attempts,
    )
    return Parts(settings, db, repos, services, adapter, bot, worker, web, notices)


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
    web_door.add_routes(app, settings)
    parts.web.add_routes(app)
    StaffPages(settings=settings, repos=parts.repos, services=parts.services).add_routes(app)
    app.on_response_prepare.append(_security_headers)
    app.cleanup_ctx.append(_lifecycle)
    return app


SECURITY_HEADERS = {
    # Nothing here is meant to be framed, sniffed, cached, or to load anything.
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    # No software or version for a scanner to match against known bugs.
    response.headers["Server"] = "MyReview"
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    parts = app[PARTS]
    await parts.db.migrate()
    # A data key taken out too early: stop now, naming it, rather than fail turn after turn.
    missing = await parts.repos.sealed.key_ids_not_held()
    if missing:
        await parts.db.dispose()
        parts.adapter.close()
        raise missing_keys_error(missing)
    # Reviews made before a child's reviews were linked: their child key (none, once done).
    await fill_child_keys(parts.repos, secret=parts.settings.secret_key.get_secret_value())
    # Before serving: what a crashed predecessor was sending goes again now, not in minutes.
    await parts.worker.start()
    tasks = [
        asyncio.create_task(parts.worker.run_forever(), name="outbox"),
        asyncio.create_task(jobs.housekeeping_forever(parts), name="housekeeping"),
        asyncio.create_task(jobs.release_forever(parts), name="held alerts"),
        asyncio.create_task(jobs.escalate_forever(parts), name="alert escalation"),
        asyncio.create_task(parts.web.run_forever(), name="web door"),
        asyncio.create_task(jobs.notices_forever(parts), name="notices to children"),
    ]
    log.info("started", extra={"transport": parts.worker.transport.name})
    yield
    await parts.bot.close()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    close = getattr(parts.services.translator, "close", None)
    if close is not None:
        await close()
    await parts.db.dispose()
    parts.adapter.close()  # its connector thread pool
