"""The durable outbox against a real SMTP server (aiosmtpd on 127.0.0.1) and a real database.

What an IRO or the duty team would notice: the email arrives, complete and once; an SMTP outage
delays it but loses nothing; a hopeless message is given up on without blocking the rest.
Time is the worker's injected clock: nothing here sleeps or measures durations.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from bot.app import build_transport
from bot.delivery.outbox import (
    LEASE,
    FileTransport,
    OutboxWorker,
    SmtpTransport,
    Transport,
)
from bot.settings import Settings
from storage.crypto import Keyring, new_key_entry
from storage.db import Database
from storage.models import OutboxMessage, OutboxMessageCreate
from storage.repositories import Repositories
from tests.crashchannel import BotProcess, MailSink, bot_env, free_port

SENDER = "MyReview <myreview@council.example>"


# --- helpers ---------------------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that keeps what it receives; `reject` answers with a 4xx instead."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.reject_next = 0
        self.received = threading.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.reject_next:
            self.reject_next -= 1
            return "451 4.3.0 Mail server temporarily unavailable"
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        self.received.set()
        return "250 OK"


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    """A mail server that is not running yet: its port refuses connections until start()."""
    server = SmtpServer(free_port())
    yield server
    server.stop()


class Clock:
    def __init__(self) -> None:
        # Ahead of real time, so rows just queued (stamped with real time) are already due.
        self.now = datetime.now(UTC) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
async def repos(tmp_path: Path) -> AsyncIterator[Repositories]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}", keys=Keyring.ephemeral())
    await db.migrate()
    yield Repositories(db)
    await db.dispose()


def smtp_transport(port: int) -> SmtpTransport:
    # aiosmtpd has no certificate here, so the test server cannot do STARTTLS.
    return SmtpTransport(
        host="127.0.0.1", port=port, username="", password="", starttls=False, timeout=5
    )


_instances = itertools.count(1)


def worker_for(
    repos: Repositories,
    transport: Transport,
    clock: Clock,
    *,
    max_attempts: int = 5,
    owner: str | None = None,
) -> OutboxWorker:
    """A worker as one app instance runs it; each is an instance of its own unless `owner`
    names the instance it restarts."""
    return OutboxWorker(
        repo=repos.outbox,
        transport=transport,
        sender=SENDER,
        poll_seconds=3600,
        max_attempts=max_attempts,
        owner=owner or f"instance-{next(_instances)}",
        clock=clock,
    )


def summary(key: str = "summary:1:1", **overrides: Any) -> OutboxMessageCreate:
    values: dict[str, Any] = {
        "kind": "summary",
        "idempotency_key": key,
        "recipients": ["jo.smith@council.example"],
        "subject": "My Review: Sam's views for the review on 8 December 2026",
        "text_body": "MY REVIEW CONSULTATION\nName to use: Sam\n",
        "html_body": "<p>My Review consultation: <strong>Sam</strong></p>",
    }
    values.update(overrides)
    return OutboxMessageCreate(**values)


async def row(repos: Repositories, message_id: int | None) -> OutboxMessage:
    rows = {r.id: r for r in await repos.outbox.list()}
    return rows[message_id]


def parts_of(msg: EmailMessage) -> dict[str, str]:
    return {p.get_content_type(): p.get_content() for p in msg.walk() if not p.is_multipart()}


# --- delivery --------------------------------------------------------------------------------


async def test_a_queued_message_is_delivered_complete(
    repos: Repositories, smtp: SmtpServer
) -> None:
    clock = Clock()
    queued = await repos.outbox.enqueue(message=summary(), review_id=None)
    worker = worker_for(repos, smtp_transport(smtp.port), clock)

    assert await worker.run_once() == 1

    [(rcpt, msg)] = smtp.inbox.messages
    assert rcpt == ["jo.smith@council.example"]
    assert msg["To"] == "jo.smith@council.example"
    assert msg["From"] == SENDER
    assert msg["Subject"] == "My Review: Sam's views for the review on 8 December 2026"
    assert msg["Message-ID"] == queued.message_id
    assert msg["Importance"] is None  # a summary is not flagged urgent
    body = parts_of(msg)
    assert "Name to use: Sam" in body["text/plain"]
    assert "<strong>Sam</strong>" in body["text/html"]
    sent = await row(repos, queued.id)
    assert (sent.status, sent.attempts, sent.sent_at) == ("sent", 0, clock.now)
    assert await repos.outbox.count_pending() == 0


async def test_an_alert_goes_first_to_every_recipient_marked_urgent(
    repos: Repositories, smtp: SmtpServer
) -> None:
    await repos.outbox.enqueue(message=summary(), review_id=None)
    await repos.outbox.enqueue(
        message=summary(
            "alert:1",
            kind="alert",
            recipients=["jo.smith@council.example", "duty@council.example"],
            subject="URGENT: safeguarding concern raised in a MyReview chat",
            urgent=True,
        ),
        review_id=None,
    )

    assert await worker_for(repos, smtp_transport(smtp.port), Clock()).run_once() == 2

    (alert_rcpt, alert), (_, later) = smtp.inbox.messages
    assert alert["Subject"].startswith("URGENT")
    assert sorted(alert_rcpt) == ["duty@council.example", "jo.smith@council.example"]
    assert alert["Importance"] == "high"
    assert later["Subject"].startswith("My Review")


async def test_enqueuing_the_same_key_twice_sends_once(
    repos: Repositories, smtp: SmtpServer
) -> None:
    first = await repos.outbox.enqueue(message=summary("summary:7:1"), review_id=None)
    again = await repos.outbox.enqueue(
        message=summary("summary:7:1", subject="a retried turn built this again"),
        review_id=None,
    )
    worker = worker_for(repos, smtp_transport(smtp.port), Clock())

    await worker.run_once()
    await worker.run_once()

    assert again.id == first.id and again.message_id == first.message_id
    assert [m["Subject"] for _, m in smtp.inbox.messages] == [first.subject]
    assert len(await repos.outbox.list()) == 1


async def test_two_instances_at_once_send_each_message_once(
    repos: Repositories, smtp: SmtpServer
) -> None:
    # Two app instances on one database, both woken by the same queued messages.
    other_db = Database(repos.db.url, keys=repos.db.keys)
    try:
        for i in range(5):
            await repos.outbox.enqueue(message=summary(f"summary:{i}:1"), review_id=None)
        clock = Clock()
        a = worker_for(repos, smtp_transport(smtp.port), clock)
        b = worker_for(Repositories(other_db), smtp_transport(smtp.port), clock)

        counts = await asyncio.gather(a.run_once(), b.run_once())

        assert sum(counts) == 5
        ids = [m["Message-ID"] for _, m in smtp.inbox.messages]
        assert len(ids) == 5 and len(set(ids)) == 5
    finally:
        await other_db.dispose()


class SendsThenRuns:
    """A transport that, while sending its first message, lets another worker run a pass."""

    name = "smtp"

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.during: OutboxWorker | None = None
        self.other_sent: int | None = None

    async def send(self, message: EmailMessage, *, outbox_id: int) -> None:
        if self.during is not None and self.other_sent is None:
            self.other_sent = await self.during.run_once()
        await self.inner.send(message, outbox_id=outbox_id)


async def test_messages_being_sent_are_not_taken_by_another_worker(
    repos: Repositories, smtp: SmtpServer
) -> None:
    for i in range(3):
        await repos.outbox.enqueue(message=summary(f"summary:{i}:1"), review_id=None)
    clock = Clock()
    slow = SendsThenRuns(smtp_transport(smtp.port))
    first = worker_for(repos, slow, clock)
    slow.during = worker_for(repos, smtp_transport(smtp.port), clock)

    # The other worker sends the two not yet leased, never the one on its way.
    assert await first.run_once() == 1
    assert slow.other_sent == 2
    ids = [m["Message-ID"] for _, m in smtp.inbox.messages]
    assert len(ids) == 3 and len(set(ids)) == 3


async def test_a_restarted_instance_sends_at_once_what_its_dead_process_held(
    repos: Repositories, smtp: SmtpServer
) -> None:
    clock = Clock()
    queued = await repos.outbox.enqueue(message=summary(), review_id=None)
    # The instance's process leases the message, then dies (kill -9) before sending it.
    generation, _ = await repos.outbox.start(owner="main", now=clock.now)
    claimed = await repos.outbox.claim_next(
        now=clock.now, owner="main", generation=generation, lease=LEASE
    )
    assert claimed is not None and claimed.id == queued.id
    # The same instance starts again: no waiting out the lease.
    worker = worker_for(repos, smtp_transport(smtp.port), clock, owner="main")

    assert await worker.start() == 1
    assert await worker.run_once() == 1

    [(_, msg)] = smtp.inbox.messages
    assert msg["Message-ID"] == queued.message_id


async def test_another_instance_leaves_a_lease_alone_until_it_runs_out(
    repos: Repositories, smtp: SmtpServer
) -> None:
    clock = Clock()
    queued = await repos.outbox.enqueue(message=summary(), review_id=None)
    generation, _ = await repos.outbox.start(owner="instance-a", now=clock.now)
    assert await repos.outbox.claim_next(
        now=clock.now, owner="instance-a", generation=generation, lease=LEASE
    )
    # Instance b cannot know whether a is alive and sending it: it waits out the lease.
    worker = worker_for(repos, smtp_transport(smtp.port), clock, owner="instance-b")

    assert await worker.run_once() == 0
    clock.advance(LEASE + timedelta(seconds=1))
    assert await worker.run_once() == 1

    [(_, msg)] = smtp.inbox.messages
    assert msg["Message-ID"] == queued.message_id


class QueuesAnAlertWhileSending:
    """A transport that, while sending the third message, has a child's alert queued."""

    name = "smtp"

    def __init__(self, inner: Transport, repos: Repositories) -> None:
        self.inner, self.repos, self.sends = inner, repos, 0

    async def send(self, message: EmailMessage, *, outbox_id: int) -> None:
        self.sends += 1
        if self.sends == 3:
            await self.repos.outbox.enqueue(message=alert_message("alert:1"), review_id=None)
        await self.inner.send(message, outbox_id=outbox_id)


def alert_message(key: str) -> OutboxMessageCreate:
    return summary(
        key,
        kind="alert",
        recipients=["jo.smith@council.example", "duty@council.example"],
        subject="URGENT: safeguarding concern raised in a MyReview chat",
        urgent=True,
    )


async def test_an_alert_queued_while_summaries_go_out_goes_next(
    repos: Repositories, smtp: SmtpServer
) -> None:
    for i in range(20):
        await repos.outbox.enqueue(message=summary(f"summary:{i}:1"), review_id=None)
    transport = QueuesAnAlertWhileSending(smtp_transport(smtp.port), repos)

    assert await worker_for(repos, transport, Clock()).run_once() == 21

    subjects = [m["Subject"] for _, m in smtp.inbox.messages]
    # The third summary was on its way when the alert came: the alert goes straight after it,
    # not after the other seventeen.
    assert subjects.index("URGENT: safeguarding concern raised in a MyReview chat") == 3


async def test_a_woken_worker_sends_without_waiting_for_its_poll(
    repos: Repositories, smtp: SmtpServer
) -> None:
    worker = worker_for(repos, smtp_transport(smtp.port), Clock())  # polls once an hour
    passes: list[int] = []
    first_pass = asyncio.Event()
    run_once = worker.run_once

    async def counted() -> int:
        sent = await run_once()
        passes.append(sent)
        first_pass.set()
        return sent

    worker.run_once = counted  # type: ignore[method-assign]
    task = asyncio.create_task(worker.run_forever())
    try:
        await first_pass.wait()  # the worker found nothing and now waits for its poll
        await repos.outbox.enqueue(message=summary(), review_id=None)
        worker.wake()
        # A guard against hanging, not a timing assertion: the poll would take an hour.
        await asyncio.wait_for(asyncio.to_thread(smtp.inbox.received.wait, 10), timeout=15)
    finally:
        task.cancel()
        # Stopped before the database closes: a write it had begun is rolled back while the
        # database is still there (left to the loop's teardown, that rollback waited forever).
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert passes[0] == 0
    assert len(smtp.inbox.messages) == 1


# --- outages and retries ---------------------------------------------------------------------


async def test_an_smtp_outage_loses_nothing_and_sends_once_when_back(
    repos: Repositories, smtp_down: SmtpServer
) -> None:
    clock = Clock()
    queued = await repos.outbox.enqueue(message=summary(), review_id=None)
    worker = worker_for(repos, smtp_transport(smtp_down.port), clock)

    assert await worker.run_once() == 0

    waiting = await row(repos, queued.id)
    assert waiting.status == "pending"
    assert waiting.attempts == 1
    assert waiting.last_error
    assert waiting.next_attempt_at == clock.now + timedelta(seconds=30)

    smtp_down.start()
    assert await worker.run_once() == 0  # backing off: not due yet, even though it is back
    assert smtp_down.inbox.messages == []

    clock.advance(timedelta(seconds=31))
    assert await worker.run_once() == 1
    clock.advance(timedelta(hours=2))
    assert await worker.run_once() == 0

    [(_, msg)] = smtp_down.inbox.messages
    assert msg["Message-ID"] == queued.message_id  # the same message, not a new one
    delivered = await row(repos, queued.id)
    assert (delivered.status, delivered.attempts) == ("sent", 1)


async def test_back_off_doubles_between_tries(repos: Repositories, smtp_down: SmtpServer) -> None:
    clock = Clock()
    queued = await repos.outbox.enqueue(message=summary(), review_id=None)
    worker = worker_for(repos, smtp_transport(smtp_down.port), clock, max_attempts=10)
    gaps = []
    for _ in range(4):
        tried_at = clock.now
        await worker.run_once()
        r = await row(repos, queued.id)
        gaps.append(r.next_attempt_at - tried_at)
        clock.now = r.next_attempt_at

    assert gaps == [timedelta(seconds=s) for s in (30, 60, 120, 240)]


async def test_a_temporary_rejection_is_retried(repos: Repositories, smtp: SmtpServer) -> None:
    clock = Clock()
    queued = await repos.outbox.enqueue(message=summary(), review_id=None)
    worker = worker_for(repos, smtp_transport(smtp.port), clock)
    smtp.inbox.reject_next = 1

    assert await worker.run_once() == 0
    assert (await row(repos, queued.id)).status == "pending"
    clock.advance(timedelta(minutes=1))
    assert await worker.run_once() == 1

    assert len(smtp.inbox.messages) == 1


async def test_after_max_attempts_the_message_is_marked_failed(
    repos: Repositories, smtp_down: SmtpServer
) -> None:
    clock = Clock()
    queued = await repos.outbox.enqueue(message=summary(), review_id=None)
    worker = worker_for(repos, smtp_transport(smtp_down.port), clock, max_attempts=3)

    for _ in range(3):
        await worker.run_once()
        clock.advance(timedelta(hours=1))

    given_up = await row(repos, queued.id)
    assert (given_up.status, given_up.attempts) == ("failed", 3)
    assert given_up.last_error
    assert await repos.outbox.count_pending() == 0

    smtp_down.start()
    clock.advance(timedelta(days=1))
    assert await worker.run_once() == 0
    assert smtp_down.inbox.messages == []


async def test_a_message_that_cannot_be_written_does_not_block_the_others(
    repos: Repositories, smtp: SmtpServer
) -> None:
    # A line break in a header (e.g. from a name typed with one) can never become an email.
    bad = await repos.outbox.enqueue(
        message=summary("alert:9", kind="alert", urgent=True, subject="URGENT\nBcc: x@y.z"),
        review_id=None,
    )
    good = await repos.outbox.enqueue(message=summary("summary:2:1"), review_id=None)
    worker = worker_for(repos, smtp_transport(smtp.port), Clock())

    assert await worker.run_once() == 1

    assert [m["Message-ID"] for _, m in smtp.inbox.messages] == [good.message_id]
    assert (await row(repos, good.id)).status == "sent"
    failed = await row(repos, bad.id)
    assert failed.status == "failed"  # retrying cannot help, so it is not retried
    assert failed.last_error


# --- configuration ---------------------------------------------------------------------------


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}",
        "var_dir": tmp_path / "var",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


async def test_without_an_smtp_host_mail_becomes_eml_files(
    repos: Repositories, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    transport = build_transport(settings)
    assert isinstance(transport, FileTransport)
    queued = await repos.outbox.enqueue(message=summary(), review_id=None)

    assert await worker_for(repos, transport, Clock()).run_once() == 1

    outbox = tmp_path / "var" / "outbox"
    assert settings.outbox_dir == outbox
    files = sorted(p.name for p in outbox.iterdir())
    assert files == [f"{queued.id:06d}.eml"]  # and no half-written temporary file
    msg = message_from_bytes((outbox / files[0]).read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["To"] == "jo.smith@council.example"
    assert msg["Subject"] == queued.subject
    assert msg["Message-ID"] == queued.message_id
    body = parts_of(msg)
    assert "Name to use: Sam" in body["text/plain"]
    assert "<strong>Sam</strong>" in body["text/html"]


def test_smtp_settings_reach_the_transport(tmp_path: Path) -> None:
    transport = build_transport(
        settings_for(
            tmp_path,
            smtp_host="mail.council.example",
            smtp_port=2525,
            smtp_username="bot",
            smtp_password="s3cret-value",
            smtp_starttls=False,
            smtp_timeout_seconds=7,
        )
    )
    assert isinstance(transport, SmtpTransport)
    assert (transport.host, transport.port, transport.starttls) == (
        "mail.council.example",
        2525,
        False,
    )
    assert (transport.username, transport.password, transport.timeout) == (
        "bot",
        "s3cret-value",
        7,
    )
    default = build_transport(settings_for(tmp_path, smtp_host="mail.council.example"))
    assert isinstance(default, SmtpTransport)
    assert default.starttls is True


async def test_starttls_is_required_unless_turned_off(
    repos: Repositories, smtp: SmtpServer, tmp_path: Path
) -> None:
    """With STARTTLS on (the default), a server without TLS never gets the child's views."""
    queued = await repos.outbox.enqueue(message=summary(), review_id=None)
    clock = Clock()
    strict = build_transport(settings_for(tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port))

    assert await worker_for(repos, strict, clock).run_once() == 0
    assert smtp.inbox.messages == []
    assert (await row(repos, queued.id)).status == "pending"

    relaxed = build_transport(
        settings_for(tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False)
    )
    clock.advance(timedelta(minutes=1))
    assert await worker_for(repos, relaxed, clock).run_once() == 1
    assert len(smtp.inbox.messages) == 1


async def test_a_worker_woken_as_it_is_stopped_stops(repos: Repositories, smtp: SmtpServer) -> None:
    # A shutdown (or a redeploy) cancels the worker; if a message was queued at that moment,
    # the cancel once went unheard (asyncio.wait_for on Python 3.11) and shutdown hung.
    worker = worker_for(repos, smtp_transport(smtp.port), Clock())
    first_pass = asyncio.Event()
    run_once = worker.run_once

    async def counted() -> int:
        sent = await run_once()
        first_pass.set()
        return sent

    worker.run_once = counted  # type: ignore[method-assign]
    task = asyncio.create_task(worker.run_forever())
    await first_pass.wait()
    await asyncio.sleep(0)  # now waiting for its poll
    worker.wake()
    await asyncio.sleep(0)  # the wake-up is in, the worker has not yet run
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done, "the worker did not stop when cancelled"
    assert task.cancelled()


# --- kill -9 while sending -------------------------------------------------------------------

CRASH_ROOT = Path(os.environ.get("CRASH_ROOT") or Path(__file__).resolve().parent.parent)
CRASH_KEYS = new_key_entry("crash")


def queue_in_file(db: Path, *, key: str, kind: str, subject: str, urgent: bool) -> str:
    """Queues an email as the bot does, straight into the server's database file (so that the
    same test runs against an older checkout's schema too); returns its Message-ID."""
    keys = Keyring.parse(CRASH_KEYS)
    message_id = f"<{uuid.uuid4().hex}@myreview>"
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    con = sqlite3.connect(db, timeout=30)
    try:
        with con:
            con.execute(
                "INSERT INTO outboxmessage (kind, recipients, subject, text_body, urgent, "
                "idempotency_key, status, attempts, next_attempt_at, message_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
                (
                    kind,
                    json.dumps(["iro@council.example", "duty@council.example"]),
                    keys.seal(subject, aad="outboxmessage.subject"),
                    keys.seal(f"{subject}\n", aad="outboxmessage.text_body"),
                    urgent,
                    key,
                    now,
                    message_id,
                    now,
                ),
            )
    finally:
        con.close()
    return message_id


async def until(done: Callable[[], bool], seconds: float, what: str) -> None:
    """Polls until `done`; fails with `what` after `seconds` (a bound, not a measurement)."""
    for _ in range(int(seconds / 0.05)):
        if done():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


@pytest.mark.crash
@pytest.mark.timeout(300)
async def test_kill_9_while_sending_an_alert_sends_it_again_at_once_and_nothing_else_twice(
    tmp_path: Path,
) -> None:
    """20 summaries going out, then a child's alert, which is on its way to the mail server
    when the server is killed (-9). On restart the alert goes again at once, not when its
    5-minute lease runs out, and so does every summary not yet sent. The mail server gets every
    message, each once, except the alert it had in hand at the kill: SMTP's window, one
    message wide, with the same Message-ID."""
    sink = MailSink(delay=0.15, hold_urgent=True)
    sink.start()
    db = tmp_path / "myreview.db"
    port = free_port()
    env = bot_env(
        tmp_path,
        port=port,
        root=CRASH_ROOT,
        data_keys=CRASH_KEYS,
        smtp_host="127.0.0.1",
        smtp_port=str(sink.port),
        smtp_starttls="false",
        outbox_poll_seconds="0.2",
    )
    bot = BotProcess(CRASH_ROOT, env, port, tmp_path / "server.log")
    summaries: list[str] = []
    try:
        await bot.start()
        for i in range(20):
            summaries.append(
                queue_in_file(
                    db, key=f"summary:{i}:1", kind="summary", subject=f"Summary {i}", urgent=False
                )
            )
        await until(lambda: len(sink.mails) >= 3, 60, "the summaries never started going out")
        alert = queue_in_file(
            db, key="alert:1", kind="alert", subject="URGENT: an alert", urgent=True
        )
        queued_after = len(sink.mails)
        await until(lambda: sink.holding is not None, 60, "the alert never reached the server")
        alert_came = sink.mails.index(next(m for m in sink.mails if m.message_id == alert))
        await bot.kill()
        sink.release()
        await bot.start()
        restarted = time.monotonic()
        # Its lease was 5 minutes: a minute is "at once" with room for a busy machine.
        await until(
            lambda: sink.counts().get(alert, 0) >= 2,
            60,
            f"the alert was not sent again within a minute of the restart:\n{bot.log_tail()}",
        )
        alert_again = time.monotonic() - restarted
        await until(
            lambda: set(summaries) <= set(sink.counts()),
            60,
            f"summaries still not sent a minute after the alert:\n{bot.log_tail()}",
        )
        await bot.stop()
    finally:
        if bot.proc is not None and bot.proc.returncode is None:
            bot.proc.kill()
            await bot.proc.wait()
        sink.stop()
    counts = sink.counts()
    twice = {m: n for m, n in counts.items() if n > 1}
    print(
        f"\noutbox kill: alert reached the server after {alert_came} of 20 summaries (queued "
        f"after {queued_after}); sent again {alert_again:.1f} s after the restart; "
        f"deliveries {len(sink.mails)} for {len(counts)} messages; twice: "
        f"{['alert' if m == alert else m for m in twice]}"
    )
    # Alerts are claimed before summaries: it went straight after the one on its way.
    assert alert_came <= queued_after + 1
    assert set(counts) == {*summaries, alert}
    assert twice == {alert: 2}, twice
