"""Making a review, the one way: `myreview review add` and the staff import (and any page that
creates one) call `create_review`, so every review gets its invite code, its expiry, its content
version and its child key the same way.

A child has many reviews (about every six months). They are linked by `child_key`, a keyed
hash of the council's case reference: nothing new is kept about the child (the reference is
already on the review, sealed), and the key cannot be turned back into the reference or
searched for without the service's secret key. A review with no case reference is linked to no
other. See dialogs/carry_over.py for what the link is used for.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dialogs.context import Services
from storage.models import Review, ReviewCreate
from storage.repositories import Repositories

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


def code_expiry(tz: ZoneInfo, review_at: datetime) -> datetime:
    """When an invite code stops working: the end of the day after the review, local time."""
    last_day = review_at.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(last_day + timedelta(days=1), time.min, tz).astimezone(UTC)


async def create_review(
    *, repos: Repositories, services: Services, secret: str, data: ReviewCreate
) -> tuple[Review, str]:
    """Creates a review and its one-time invite code (returned, never stored: only its hash
    is). `secret` is the service's secret key (settings.secret_key), for the child key."""
    code = services.codes.new()
    review = await repos.reviews.create(
        data=data,
        invite_code_hash=services.codes.hash(code),
        invite_expires_at=code_expiry(services.timezone, data.review_at),
        # The consultation keeps the wording it started with, when content is versioned.
        content_version=services.content_source.current().version,
        child_key=child_key(secret, data.case_reference),
    )
    return review, code


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
