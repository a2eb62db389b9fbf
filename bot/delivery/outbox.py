"""The durable outbox: every email is a row first, and is sent (and retried) from there.

An SMTP outage loses nothing (rows stay pending, retried with back-off). Rows are leased one at
a time, alerts first, and each is marked sent the moment the server accepts it. A lease names
the instance and its generation (one per start), so a restart after a crash releases at once
the one row its dead predecessor held. SMTP cannot promise exactly once: a crash between the
server's "accepted" and our "sent" sends that one message again, with the same Message-ID
(stored when it was queued), so it can be told for the same message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol

import aiosmtplib

from storage.db import private_dir
from storage.models import OutboxMessage
from storage.repositories import OutboxRepository

log = logging.getLogger(__name__)

BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
LEASE = timedelta(minutes=5)


class Transport(Protocol):
    name: str

    async def send(self, message: EmailMessage, *, outbox_id: int) -> None: ...


class SmtpTransport:
    name = "smtp"

    def __init__(
        self, *, host: str, port: int, username: str, password: str, starttls: bool, timeout: float
    ) -> None:
        self.host, self.port = host, port
        self.username, self.password = username or None, password or None
        self.starttls, self.timeout = starttls, timeout

    async def send(self, message: EmailMessage, *, outbox_id: int) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            start_tls=self.starttls,
            timeout=self.timeout,
        )


def eml_path(directory: Path, outbox_id: int) -> Path:
    """Where the file transport writes an outbox message (development mail)."""
    return directory / f"{outbox_id:06d}.eml"


def forget_emails(directory: Path, outbox_ids: list[int]) -> int:
    """Deletes the .eml files of these outbox messages (they quote a child); returns how many
    there were."""
    gone = 0
    for outbox_id in outbox_ids:
        with contextlib.suppress(FileNotFoundError):
            eml_path(directory, outbox_id).unlink()
            gone += 1
    return gone


class FileTransport:
    """No mail server configured: each message becomes an .eml file an IRO can open."""

    name = "file"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage, *, outbox_id: int) -> None:
        await asyncio.to_thread(self._write, message, outbox_id)

    def _write(self, message: EmailMessage, outbox_id: int) -> None:
        private_dir(self.directory)
        final = eml_path(self.directory, outbox_id)
        tmp = final.with_suffix(".tmp")
        # Owner-only from the first byte: an email holds a child's words.
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(message))
        os.replace(tmp, final)  # whole file or none: a reader never sees half a message


def to_email(row: OutboxMessage, *, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = row.subject
    msg["From"] = sender
    msg["To"] = ", ".join(row.recipients)
    msg["Message-ID"] = row.message_id
    msg["Date"] = format_datetime(row.created_at)
    if row.urgent:
        msg["Importance"] = "high"
        msg["X-Priority"] = "1"
    msg.set_content(row.text_body)
    if row.html_body:
        msg.add_alternative(row.html_body, subtype="html")
    return msg


def _stop_if_cancelled() -> None:
    """Stops a worker that was cancelled while a database call swallowed the cancel (a session
    closing on cancellation can): the task still says it is being cancelled, and a shutdown
    waiting for it would otherwise wait for the next poll, an hour away in a test."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... up to an hour between tries."""
    return min(BASE_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


class OutboxWorker:
    """Sends due messages; woken at once when something is queued, else polls."""

    def __init__(
        self,
        *,
        repo: OutboxRepository,
        transport: Transport,
        sender: str,
        poll_seconds: float,
        max_attempts: int,
        owner: str = "main",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.repo, self.transport, self.sender = repo, transport, sender
        self.poll_seconds, self.max_attempts, self.clock = poll_seconds, max_attempts, clock
        # This instance's name; one process per name at a time (README "Settings").
        self.owner = owner
        self.generation: int | None = None
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> int:
        """A new generation for this instance, releasing at once what a process of an older
        one held when it died; returns how many messages that was."""
        self.generation, released = await self.repo.start(owner=self.owner, now=self.clock())
        if released:
            log.warning(
                "outbox messages a stopped process held are released",
                extra={"released": released, "generation": self.generation},
            )
        return released

    async def run_once(self) -> int:
        """Send everything due now, one message at a time; returns how many were sent."""
        if self.generation is None:
            await self.start()
        assert self.generation is not None
        sent = 0
        while True:
            _stop_if_cancelled()
            now = self.clock()
            row = await self.repo.claim_next(
                now=now, owner=self.owner, generation=self.generation, lease=LEASE
            )
            if row is None:
                return sent
            assert row.id is not None
            try:
                email = to_email(row, sender=self.sender)
            except ValueError as exc:
                # A header that can never be written (a line break in it): give up on this one
                # now, or it fails the whole pass again and again and holds back newer mail.
                await self.repo.mark_failed_attempt(
                    message_id=row.id, error=f"{type(exc).__name__}: bad header", retry_at=None
                )
                log.error(
                    "outbox message cannot be built",
                    extra={"outbox_id": row.id, "kind": row.kind, "gave_up": True},
                )
                continue
            try:
                await self.transport.send(email, outbox_id=row.id)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                attempts = row.attempts + 1
                retry = now + backoff(attempts) if attempts < self.max_attempts else None
                await self.repo.mark_failed_attempt(
                    message_id=row.id, error=type(exc).__name__, retry_at=retry
                )
                log.warning(
                    "outbox send failed",
                    extra={
                        "outbox_id": row.id,
                        "kind": row.kind,
                        "attempts": attempts,
                        "error": type(exc).__name__,
                        "gave_up": retry is None,
                    },
                )
                continue
            # At once: until this commits, a crash would send it again.
            await self.repo.mark_sent(message_id=row.id, at=self.clock())
            sent += 1
            log.info(
                "outbox sent",
                extra={"outbox_id": row.id, "kind": row.kind, "transport": self.transport.name},
            )

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # the loop must survive a database hiccup
                log.exception("outbox pass failed")
            _stop_if_cancelled()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
            # arrives as the wake-up does, and this loop then never stops (a shutdown hung).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            self._wake.clear()
