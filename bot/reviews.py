"""Reviews as staff make and change them: one function for each, called by the command line
(`myreview review add`, `new-code`, `move`, `cancel`) and the staff pages alike.

Each change commits with its audit row (who: a staff id, or none from the command line; what
changed, never a child's words) and, where the child's chat should know, a notice to every
device linked to the review (bot/notices.py): a new date or place, a cancellation, a new IRO,
their answers read. A cancelled review stays, marked; its code stops working.

A child has many reviews (about every six months). They are linked by `child_key`, a keyed
hash of the council's case reference: nothing new is kept about the child (the reference is
already on the review, sealed), and the key cannot be turned back into the reference or
searched for without the service's secret key. A review with no case reference is linked to no
other. See dialogs/carry_over.py for what the link is used for.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.notices import CANCELLED, MOVED, MOVED_PLACE, NEW_IRO, READ
from dialogs.context import Services
from storage.models import Review, ReviewCreate, StaffMember
from storage.repositories import Repositories
from storage.types import one_line

# Keeps the child key apart from every other use of the same secret (invite codes).
CHILD_KEY_PURPOSE = b"myreview/child-key/v1\x00"


def case_reference_canonical(case_reference: str) -> str:
    """The reference as compared: spaces run together, upper case ("ab 123 " is "AB 123"). No
    more than that: "12/345" and "123/45" must stay two children."""
    return " ".join(case_reference.split()).upper()


def child_key(secret: str, case_reference: str | None) -> str | None:
    """The key shared by every review of the child with this case reference; None for none."""
    if case_reference is None or not case_reference.strip():
        return None
    canonical = case_reference_canonical(case_reference)
    return hmac.new(
        secret.encode(), CHILD_KEY_PURPOSE + canonical.encode(), hashlib.sha256
    ).hexdigest()


MAX_PLACE = 120
MAX_REASON = 500


class ReviewNotChanged(ValueError):
    """A change that cannot be made, with what to tell the person asking."""


def code_expiry(review_at: datetime, tz: ZoneInfo) -> datetime:
    """A code works to the end of the day after the review, local time."""
    last_day = review_at.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(last_day + timedelta(days=1), time.min, tz).astimezone(UTC)


def _via(by: int | None) -> dict[str, Any]:
    return {} if by is not None else {"via": "command line"}


async def _open(services: Services, review_id: int) -> Review:
    review = await services.repos.reviews.get(review_id=review_id)
    if review is None:
        raise LookupError(review_id)
    if review.cancelled_at is not None:
        raise ReviewNotChanged("This review is cancelled: it cannot be changed.")
    return review


async def new_review_row(
    services: Services, *, data: ReviewCreate, secret: str
) -> tuple[Review, str]:
    """The review row and its one-time invite code (shown once, stored only as a hash), inside
    whatever transaction is open: `create_review` for one, the import for many in one."""
    code = services.codes.new()
    review = await services.repos.reviews.create(
        data=data,
        invite_code_hash=services.codes.hash(code),
        invite_expires_at=code_expiry(data.review_at, services.timezone),
        # The consultation keeps the wording it started with, when content is versioned.
        content_version=services.content_source.current().version,
        child_key=child_key(secret, data.case_reference),
    )
    return review, code


async def create_review(
    services: Services,
    *,
    data: ReviewCreate,
    by: int | None,
    secret: str,
    form: str | None = None,
) -> tuple[Review, str]:
    """A review and its one-time invite code, audited. `secret`: the service's secret key
    (settings.secret_key), for the child key. `form`: the id of the web form it came from,
    kept in the audit row, so the same form sent twice (a page refreshed) is found and makes no
    second review."""
    async with services.repos.db.unit_of_work():
        review, code = await new_review_row(services, data=data, secret=secret)
        await services.repos.audit.record(
            action="review.created",
            staff_id=by,
            review_id=review.id,
            details={**_via(by), **({"form": form} if form else {})},
        )
    return review, code


async def import_changes(services: Services, *, review_id: int, values: dict[str, Any]) -> Review:
    """Changes from an import (a row of the council's file), inside its open transaction, with
    what the same change made by hand brings: the code works until the day after the new date,
    a new IRO has not read the answers, and a linked child is told of a new date, place or
    IRO as `reschedule` and `reallocate` tell them. Audited by the import, row by row."""
    values = dict(values)
    if "review_at" in values:
        values["invite_expires_at"] = code_expiry(values["review_at"], services.timezone)
    if "iro_email" in values:
        values.update(read_at=None, read_by=None)
    review = await services.repos.reviews.update_fields(review_id=review_id, values=values)
    if review.cancelled_at is not None:
        return review
    if "review_at" in values or "place" in values:
        await services.repos.notices.add(
            review_id=review_id,
            at=services.clock(),
            message_id=MOVED_PLACE if review.place else MOVED,
            params={"at": review.review_at.isoformat(), "place": review.place},
            key=f"moved:{review_id}:{uuid.uuid4().hex}",
            supersedes=(MOVED, MOVED_PLACE),
        )
    if "iro_email" in values:
        await services.repos.notices.add(
            review_id=review_id,
            at=services.clock(),
            message_id=NEW_IRO,
            params={"iro": review.iro_name},
            key=f"iro:{review_id}:{uuid.uuid4().hex}",
            supersedes=(NEW_IRO,),
        )
    return review


async def made_from_form(services: Services, *, form: str, by: int) -> int | None:
    """The review this person made from this form, if they sent it before."""
    for event in await services.repos.audit.recent(limit=500, action="review.created"):
        if event.staff_id == by and event.details.get("form") == form:
            return event.review_id
    return None


async def new_code(
    services: Services, *, review_id: int, by: int | None
) -> tuple[Review, str, int]:
    """A new invite code; every device linked with the old one is closed (the first device to
    link with the new one is then the child's own). The review, the code, devices closed."""
    code = services.codes.new()
    async with services.repos.db.unit_of_work():
        review = await _open(services, review_id)
        review = await services.repos.reviews.new_code(
            review_id=review_id,
            invite_code_hash=services.codes.hash(code),
            invite_expires_at=code_expiry(review.review_at, services.timezone),
        )
        closed = await services.repos.links.revoke_all(review_id=review_id, at=services.clock())
        await services.repos.audit.record(
            action="review.new_code",
            staff_id=by,
            review_id=review_id,
            details={"devices_closed": closed, **_via(by)},
        )
    return review, code, closed


async def reschedule(
    services: Services,
    *,
    review_id: int,
    review_at: datetime,
    place: str | None,
    by: int | None,
) -> tuple[Review, bool]:
    """A new date, time or place; the child is told (their last one only, if it changes
    again before it reaches them). The review, and whether anything changed."""
    if review_at.tzinfo is None:
        raise ReviewNotChanged("The new time needs a time zone.")
    place = one_line(place)[:MAX_PLACE] if place and one_line(place) else None
    async with services.repos.db.unit_of_work():
        review = await _open(services, review_id)
        changed = [
            name
            for name, was, now in (
                ("date", review.review_at, review_at.astimezone(UTC)),
                ("place", review.place, place),
            )
            if was != now
        ]
        if not changed:
            return review, False
        review = await services.repos.reviews.change(
            review_id=review_id,
            review_at=review_at.astimezone(UTC),
            place=place,
            # The code works until the day after the review, wherever it moved.
            invite_expires_at=code_expiry(review_at, services.timezone),
        )
        await services.repos.notices.add(
            review_id=review_id,
            at=services.clock(),
            message_id=MOVED_PLACE if place else MOVED,
            params={"at": review.review_at.isoformat(), "place": place},
            key=f"moved:{review_id}:{uuid.uuid4().hex}",
            supersedes=(MOVED, MOVED_PLACE),
        )
        await services.repos.audit.record(
            action="review.rescheduled",
            staff_id=by,
            review_id=review_id,
            details={"changed": changed, **_via(by)},
        )
    return review, True


async def reallocate(
    services: Services, *, review_id: int, to: StaffMember, by: int | None
) -> Review:
    """Gives the review to another IRO (their name and email on it); the child is told who
    their IRO is now. The new IRO has not read the answers: "read" is cleared."""
    if not to.holds("iro") or not to.active:
        raise ReviewNotChanged("Choose an IRO with an active account.")
    async with services.repos.db.unit_of_work():
        review = await _open(services, review_id)
        if review.iro_email.strip().lower() == to.email:
            raise ReviewNotChanged(f"This review is already {to.display_name}'s.")
        before = review.iro_email
        review = await services.repos.reviews.change(
            review_id=review_id,
            iro_name=to.display_name,
            iro_email=to.email,
            read_at=None,
            read_by=None,
        )
        await services.repos.notices.add(
            review_id=review_id,
            at=services.clock(),
            message_id=NEW_IRO,
            params={"iro": to.display_name},
            key=f"iro:{review_id}:{uuid.uuid4().hex}",
            supersedes=(NEW_IRO,),
        )
        await services.repos.audit.record(
            action="review.reallocated",
            staff_id=by,
            review_id=review_id,
            details={"from": before.strip().lower(), "to": to.email, **_via(by)},
        )
    return review


async def cancel(services: Services, *, review_id: int, reason: str, by: int | None) -> Review:
    """Cancels the review: kept, marked, with the reason (for staff; the child is told kindly
    that the meeting is not going ahead, never why). Its code stops working."""
    reason = reason.strip()
    if not reason:
        raise ReviewNotChanged("Say why the review is cancelled.")
    if len(reason) > MAX_REASON:
        raise ReviewNotChanged(f"Keep the reason to {MAX_REASON} characters.")
    async with services.repos.db.unit_of_work():
        review = await _open(services, review_id)
        now = services.clock()
        review = await services.repos.reviews.change(
            review_id=review_id, cancelled_at=now, cancel_reason=reason, invite_expires_at=now
        )
        await services.repos.notices.add(
            review_id=review_id,
            at=services.clock(),
            message_id=CANCELLED,
            params={"at": review.review_at.isoformat()},
            key=f"cancelled:{review_id}",
            # Whatever else was on its way is no longer worth saying.
            supersedes=(MOVED, MOVED_PLACE, NEW_IRO),
        )
        await services.repos.audit.record(
            action="review.cancelled", staff_id=by, review_id=review_id, details=_via(by)
        )
    return review


async def mark_read(services: Services, *, review_id: int, by: StaffMember) -> bool:
    """The IRO has read the child's sent answers: the child is told once, by the IRO's name.
    False when they were marked read before (nothing more happens)."""
    async with services.repos.db.unit_of_work():
        review = await services.repos.reviews.get(review_id=review_id)
        if review is None:
            raise LookupError(review_id)
        if review.submitted_at is None:
            raise ReviewNotChanged(
                "They have not sent their answers yet: mark them read once they have."
            )
        if not await services.repos.reviews.mark_read(
            review_id=review_id, by=by.id or 0, at=services.clock()
        ):
            return False
        await services.repos.notices.add(
            review_id=review_id,
            at=services.clock(),
            message_id=READ,
            params={"iro": by.display_name},
            key=f"read:{review_id}:{by.id}",
        )
        await services.repos.audit.record(action="review.read", staff_id=by.id, review_id=review_id)
    return True


async def fill_child_keys(repos: Repositories, *, secret: str, batch: int = 500) -> int:
    """Gives a child key to reviews made before there were any (and that have a case
    reference); how many were given one. Run by `myreview migrate` and at start-up; once done,
    it finds none."""
    done = 0
    after = 0
    while True:
        found = await repos.reviews.without_child_key(after=after, limit=batch)
        if not found:
            return done
        keys = {
            r.id: key
            for r in found
            if r.id is not None and (key := child_key(secret, r.case_reference)) is not None
        }
        await repos.reviews.set_child_keys(keys=keys)
        done += len(keys)
        after = max(r.id or 0 for r in found)
