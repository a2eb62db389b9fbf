"""Making and changing reviews in the staff workspace: a new review and its invite (the code
shown once, with its QR code, the text to forward and a card to print), a new date, time or
place, another IRO, a new code, a cancellation; and "mark as read" on the review page.

The changes themselves are bot/reviews.py, the same functions as `myreview review ...`: each
is audited, and a child whose chat is linked is told in their language (bot/notices.py).

Who: an IRO changes their own reviews (one they create is theirs); an admin any review (they
manage caseloads: an IRO who leaves, a review made for the wrong one) and sees no child's
words here, only names, dates and states. Anyone else, and any other review, gets the same
404 as a review that does not exist. Only the review's IRO marks its answers read. A person
holding both roles changes any review (as an admin) and reads the answers of their own only.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from markupsafe import Markup
from pydantic import ValidationError

from bot import reviews
from bot.invite_card import invite
from bot.parts import PARTS
from bot.staff.board import when
from bot.staff.roles import board_url, is_their_iro
from bot.staff.sessions import Signed
from storage.models import ChildNotice, Review, ReviewCreate, StaffMember
from storage.types import one_line, utcnow

if TYPE_CHECKING:
    from bot.staff.pages import StaffPages

# What each notice told the child, as the change page lists it (English: staff read it).
NOTICE_NAMES = {
    "notice_moved": "The new date and time",
    "notice_moved_place": "The new date, time and place",
    "notice_cancelled": "That the review is not going ahead",
    "notice_new_iro": "The name of their new IRO",
    "notice_read": "That their IRO has read their answers",
}
DONE = {
    "moved": "Saved. If they have linked their chat, they are told the new date in their language.",
    "unchanged": "That is the date, time and place it had already: nothing changed.",
    "reallocated": "The review is now with the IRO you chose. If the child has linked their "
    "chat, they are told the name of their new IRO.",
    "cancelled": "The review is cancelled and its code no longer works. If they have linked "
    "their chat, they are told kindly that it is not going ahead (not why).",
}
NEW_FIELDS = (
    "first_name",
    "preferred_name",
    "age",
    "date_of_birth",
    "case_reference",
    "review_date",
    "review_time",
    "place",
    "language",
    "iro",
    "uasc",
    "easy_read",
    "form_id",
)
FORM_ID = re.compile(r"[A-Za-z0-9_-]{16}")


@dataclass
class NoticeRow:
    what: str
    queued: str
    state: str


def _state(notice: ChildNotice) -> str:
    if notice.state == "delivered":
        if notice.devices == 0:
            return "No chat was linked to tell"
        return f"Told on {notice.devices} device{'s' if notice.devices != 1 else ''}"
    if notice.state == "superseded":
        return "Not sent: a later change replaced it"
    if notice.state == "failed":
        return "Could not be sent"
    return "Waiting to be sent" + (" (trying again)" if notice.attempts else "")


def code_last_day(review: Review, tz: Any) -> date:
    """The last day the code works: it stops at midnight after it (as the card says)."""
    return (review.invite_expires_at.astimezone(tz) - timedelta(seconds=1)).date()


def parse_when(
    day_text: str, time_text: str, tz: Any, errors: dict[str, str], *, now: datetime
) -> datetime | None:
    """The review's date and time from the form (local time), into `errors` if not right."""
    day_text, time_text = day_text.strip(), time_text.strip()
    day = at = None
    if not day_text:
        errors["review_date"] = "Enter the date of the review."
    else:
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            errors["review_date"] = "Enter the date of the review as a real date, like 2026-12-08."
    if not time_text:
        errors["review_time"] = "Enter the time the review starts, like 10:00."
    else:
        try:
            at = time.fromisoformat(time_text)
        except ValueError:
            errors["review_time"] = "Enter the time as hours and minutes, like 10:00 or 14:30."
    if day is None or at is None:
        return None
    review_at = datetime.combine(day, at.replace(tzinfo=None), tz).astimezone(UTC)
    if review_at <= now:
        errors["review_date"] = "The review must be in the future: check the date and time."
        return None
    if day.year > now.year + 2:
        errors["review_date"] = "The review must be within the next two years."
        return None
    return review_at


async def _read_form(request: web.Request) -> Any:
    from bot.staff.pages import read_form  # the pages import this module

    return await read_form(request)


class ReviewChanges:
    """The handlers; their routes are in StaffPages.add_routes, with their roles."""

    def __init__(self, pages: StaffPages) -> None:
        self.pages = pages
        self.repos = pages.repos
        self.services = pages.services
        self.settings = pages.settings

    # --- helpers -----------------------------------------------------------------------------

    async def _manageable(self, member: StaffMember, review_id: int) -> Review | None:
        review = await self.repos.reviews.get(review_id=review_id)
        if review is None:
            return None
        if member.holds("admin") or is_their_iro(member, review):
            return review
        return None

    async def _iros(self, *, besides: str | None = None) -> list[StaffMember]:
        return [
            m
            for m in await self.repos.staff.everyone()
            if m.holds("iro") and m.active and m.email != (besides or "").strip().lower()
        ]

    def _wake(self, request: web.Request) -> None:
        parts = request.app.get(PARTS)
        if parts is not None:
            parts.notices.wake()

    def _locales(self) -> list[tuple[str, str]]:
        content = self.services.content_source.current()
        return [
            (code, f"{loc.meta.name} ({loc.meta.english_name})" if code != "en" else "English")
            for code, loc in content.locales.items()
        ]

    def _invite_page(
        self,
        signed: Signed,
        review: Review,
        code: str,
        *,
        closed: int | None = None,
    ) -> web.Response:
        """The code, once: its QR code, the link, the text to forward and the card to print
        or download, in the child's language. Nothing here is kept; the page is not cached."""
        content = self.services.content_source.version(review.content_version)
        made = invite(self.settings, content, review, code)
        tz = self.services.timezone
        last_day = code_last_day(review, tz)
        download = "data:text/html;charset=utf-8;base64," + base64.b64encode(
            made.card_html.encode("utf-8")
        ).decode("ascii")
        return self.pages.render(
            "invite.html",
            signed=signed,
            title=f"Invite for {review.first_name}",
            review=review,
            code=code,
            made=made,
            # segno's SVG of a link we made: nothing in it came from a person.
            qr=Markup(made.qr),
            download=download,
            valid_until=f"{last_day:%A %-d %B %Y}",
            closed=closed,
        )

    # --- a new review --------------------------------------------------------------------------

    async def new_form(
        self,
        request: web.Request,
        signed: Signed,
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> web.StreamResponse:
        today = datetime.now(self.services.timezone).date()
        return self.pages.render(
            "review_new.html",
            signed=signed,
            title="New review",
            values=values
            or {**dict.fromkeys(NEW_FIELDS, ""), "form_id": secrets.token_urlsafe(12)},
            errors=errors or {},
            iros=await self._iros() if signed.member.holds("admin") else [],
            locales=self._locales(),
            today=today.isoformat(),
            status=status,
        )

    async def new(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        """Makes the review from the form (every problem named by its field), then shows its
        invite once; the same form sent again makes no second review."""
        form = await _read_form(request)
        values = {k: str(form.get(k, ""))[:300] for k in NEW_FIELDS}
        form_id = values["form_id"] if FORM_ID.fullmatch(values["form_id"]) else None
        if form_id is not None:
            made = await reviews.made_from_form(
                self.services, form=form_id, by=signed.member.id or 0
            )
            if made is not None:
                # The same form sent again (a page refreshed): no second review.
                return self.pages.render(
                    "message.html",
                    signed=signed,
                    status=409,
                    title="This review was made already",
                    message=f"You sent this form before: it made review {made}, and its code "
                    "was shown then. If the code is lost, open the review's Change page from "
                    "your home page and make a new code.",
                )
        errors: dict[str, str] = {}
        now = utcnow()
        fields = {
            **self._child_fields(values, errors, now),
            **self._meeting_fields(values, errors, now),
        }
        iro = await self._chosen_iro(signed, values, errors)
        data = None
        if not errors and fields["review_at"] is not None:
            fields.update(iro_name=iro.display_name, iro_email=iro.email)
            data = _validated(fields, errors)
        if data is None:
            return await self.new_form(request, signed, values=values, errors=errors, status=400)
        review, code = await reviews.create_review(
            self.services,
            data=data,
            by=signed.member.id,
            secret=self.pages.settings.secret_key.get_secret_value(),
            form=form_id,
        )
        return self._invite_page(signed, review, code)

    def _child_fields(
        self, values: dict[str, str], errors: dict[str, str], now: datetime
    ) -> dict[str, Any]:
        """The child's names, age or date of birth, case reference and needs, as the review
        keeps them; each problem added to `errors` under its field."""
        first_name = one_line(values["first_name"])
        if not first_name:
            errors["first_name"] = "Enter the child's first name."
        elif len(first_name) > 80:
            errors["first_name"] = "Keep the first name to 80 characters."
        preferred = one_line(values["preferred_name"]) or None
        if preferred and len(preferred) > 80:
            errors["preferred_name"] = "Keep the name they like to be called to 80 characters."
        age = _age(values["age"].strip(), errors)
        born = _born(
            values["date_of_birth"].strip(), errors, now.astimezone(self.services.timezone)
        )
        if age is None and born is None and "age" not in errors and "date_of_birth" not in errors:
            errors["age"] = "Enter their age, or their date of birth."
        reference = one_line(values["case_reference"]) or None
        if reference and len(reference) > 40:
            errors["case_reference"] = "Keep the case reference to 40 characters."
        return {
            "first_name": first_name,
            "preferred_name": preferred,
            "age": age,
            "date_of_birth": born,
            "case_reference": reference,
            "is_uasc": values["uasc"] == "on",
            "easy_read": values["easy_read"] == "on",
        }

    def _meeting_fields(
        self, values: dict[str, str], errors: dict[str, str], now: datetime
    ) -> dict[str, Any]:
        """When and where the review is, and the language the review suggests for the chat."""
        tz = self.services.timezone
        review_at = parse_when(values["review_date"], values["review_time"], tz, errors, now=now)
        place = one_line(values["place"]) or None
        if place and len(place) > reviews.MAX_PLACE:
            errors["place"] = f"Keep the place to {reviews.MAX_PLACE} characters."
        language = values["language"].strip() or None
        if language and language not in dict(self._locales()):
            errors["language"] = "Choose a language from the list."
        return {"review_at": review_at, "place": place, "language_hint": language}

    async def _chosen_iro(
        self, signed: Signed, values: dict[str, str], errors: dict[str, str]
    ) -> StaffMember:
        """The review's IRO: the IRO making it, or the one an admin chose."""
        if not signed.member.holds("admin"):
            return signed.member
        chosen = {str(m.id): m for m in await self._iros()}.get(values["iro"].strip())
        if chosen is None:
            errors["iro"] = "Choose the review's IRO."
            return signed.member
        return chosen

    # --- changing one ------------------------------------------------------------------------

    async def change_form(
        self,
        request: web.Request,
        signed: Signed,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> web.StreamResponse:
        review_id = int(request.match_info["review_id"])
        review = await self._manageable(signed.member, review_id)
        if review is None:
            return self.pages.not_found(signed)
        tz = self.services.timezone
        local = review.review_at.astimezone(tz)
        notices = await self.repos.notices.for_review(review_id=review_id)
        devices = await self.repos.notices.devices(review_id=review_id)
        code_works = review.invite_expires_at > utcnow() and review.cancelled_at is None
        return self.pages.render(
            "review_change.html",
            signed=signed,
            title=f"Change the review for {review.first_name}",
            review=review,
            review_date=when(review.review_at, tz),
            values=values
            or {
                "review_date": local.date().isoformat(),
                "review_time": f"{local:%H:%M}",
                "place": review.place or "",
                "reason": "",
            },
            errors=errors or {},
            iros=await self._iros(besides=review.iro_email),
            devices=len(devices),
            code_until=f"{code_last_day(review, tz):%-d %B %Y}" if code_works else None,
            cancelled=when(review.cancelled_at, tz) if review.cancelled_at else None,
            notices=[
                NoticeRow(
                    NOTICE_NAMES.get(n.message_id, n.message_id), when(n.created_at, tz), _state(n)
                )
                for n in reversed(notices)
            ],
            notice=DONE.get(request.query.get("done", "")),
            # Their own review, as its IRO: they read its answers (and will not once it is
            # given to another IRO).
            own=is_their_iro(signed.member, review),
            today=datetime.now(tz).date().isoformat(),
            status=status,
        )

    async def _found(self, request: web.Request, signed: Signed) -> Review | None:
        return await self._manageable(signed.member, int(request.match_info["review_id"]))

    def _back(self, review_id: int, done: str) -> web.HTTPSeeOther:
        return web.HTTPSeeOther(f"/staff/reviews/{review_id}/change?done={done}")

    async def reschedule(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        from bot.staff.pages import read_form

        review = await self._found(request, signed)
        if review is None or review.id is None:
            return self.pages.not_found(signed)
        form = await read_form(request)
        values = {k: str(form.get(k, ""))[:300] for k in ("review_date", "review_time", "place")}
        values["reason"] = ""
        errors: dict[str, str] = {}
        review_at = parse_when(
            values["review_date"],
            values["review_time"],
            self.services.timezone,
            errors,
            now=utcnow(),
        )
        place = one_line(values["place"])
        if len(place) > reviews.MAX_PLACE:
            errors["place"] = f"Keep the place to {reviews.MAX_PLACE} characters."
        if errors or review_at is None:
            return await self.change_form(request, signed, errors=errors, values=values, status=400)
        try:
            _, changed = await reviews.reschedule(
                self.services,
                review_id=review.id,
                review_at=review_at,
                place=place or None,
                by=signed.member.id,
            )
        except reviews.ReviewNotChanged as exc:
            return await self.change_form(
                request, signed, errors={"review_date": str(exc)}, values=values, status=400
            )
        self._wake(request)
        raise self._back(review.id, "moved" if changed else "unchanged")

    async def reallocate(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        from bot.staff.pages import read_form

        review = await self._found(request, signed)
        if review is None or review.id is None:
            return self.pages.not_found(signed)
        form = await read_form(request)
        chosen = str(form.get("iro", "")).strip()
        to = (
            await self.repos.staff.get(staff_id=int(chosen))
            if chosen.isdigit() and len(chosen) < 10
            else None
        )
        try:
            if to is None:
                raise reviews.ReviewNotChanged("Choose the IRO to give this review to.")
            await reviews.reallocate(self.services, review_id=review.id, to=to, by=signed.member.id)
        except reviews.ReviewNotChanged as exc:
            return await self.change_form(request, signed, errors={"iro": str(exc)}, status=400)
        self._wake(request)
        if not signed.member.holds("admin") and to is not None and to.id != signed.member.id:
            # Not theirs any more: back to their board, which says where it went.
            raise web.HTTPSeeOther(board_url(signed.member, "iro", done="reallocated"))
        raise self._back(review.id, "reallocated")

    async def cancel(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        from bot.staff.pages import read_form

        review = await self._found(request, signed)
        if review is None or review.id is None:
            return self.pages.not_found(signed)
        form = await read_form(request)
        reason = str(form.get("reason", ""))[: reviews.MAX_REASON + 1]
        try:
            await reviews.cancel(
                self.services, review_id=review.id, reason=reason, by=signed.member.id
            )
        except reviews.ReviewNotChanged as exc:
            return await self.change_form(
                request,
                signed,
                errors={"reason": str(exc)},
                values={
                    "review_date": "",
                    "review_time": "",
                    "place": review.place or "",
                    "reason": reason[: reviews.MAX_REASON],
                },
                status=400,
            )
        self._wake(request)
        raise self._back(review.id, "cancelled")

    async def new_code(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        review = await self._found(request, signed)
        if review is None or review.id is None:
            return self.pages.not_found(signed)
        try:
            review, code, closed = await reviews.new_code(
                self.services, review_id=review.id, by=signed.member.id
            )
        except reviews.ReviewNotChanged as exc:
            return await self.change_form(
                request, signed, errors={"new_code": str(exc)}, status=400
            )
        return self._invite_page(signed, review, code, closed=closed)

    async def mark_read(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        review_id = int(request.match_info["review_id"])
        review = await self.repos.reviews.get(review_id=review_id)
        # Their own review's answers, as its IRO: never as an admin.
        if review is None or not is_their_iro(signed.member, review):
            return self.pages.not_found(signed)
        try:
            told = await reviews.mark_read(self.services, review_id=review_id, by=signed.member)
        except reviews.ReviewNotChanged as exc:
            return self.pages.render(
                "message.html",
                signed=signed,
                status=400,
                title="Not marked as read",
                message=str(exc),
            )
        self._wake(request)
        raise web.HTTPSeeOther(
            f"/staff/reviews/{review_id}?done={'read' if told else 'read_before'}"
        )

    # --- the admin's list of reviews by IRO --------------------------------------------------

    async def admin_reviews(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        counts = await self.repos.reviews.iro_counts()
        accounts = {m.email: m for m in await self.repos.staff.everyone() if m.holds("iro")}
        iros = sorted(
            {*counts, *(e for e, m in accounts.items() if m.active)},
            key=lambda e: accounts[e].display_name.lower() if e in accounts else "~" + e,
        )
        rows = [
            (
                email,
                accounts[email].display_name if email in accounts else None,
                accounts[email].active if email in accounts else False,
                counts.get(email, 0),
            )
            for email in iros
        ]
        chosen = request.query.get("iro", "").strip().lower()[:254]
        cards = None
        if chosen in counts:
            holder = accounts.get(chosen) or StaffMember(email=chosen, display_name="", role="iro")
            cards = await self.pages._iro_cards(holder)
        return self.pages.render(
            "admin_reviews.html",
            signed=signed,
            title="Reviews",
            rows=rows,
            chosen=chosen if cards is not None else None,
            chosen_name=accounts[chosen].display_name if chosen in accounts else chosen,
            cards=cards or [],
        )


def _age(text: str, errors: dict[str, str]) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 3 <= int(text) <= 25:
        errors["age"] = "Enter their age in years, from 3 to 25, like 12."
        return None
    return int(text)


def _born(text: str, errors: dict[str, str], today: datetime) -> date | None:
    if not text:
        return None
    try:
        born = date.fromisoformat(text)
    except ValueError:
        errors["date_of_birth"] = "Enter the date of birth as a real date."
        return None
    if born >= today.date() or born.year < today.year - 26:
        errors["date_of_birth"] = "Enter a date of birth in the past 25 years."
        return None
    return born


def _validated(fields: dict[str, Any], errors: dict[str, str]) -> ReviewCreate | None:
    """The review as the model checks it; its problems named by the form's fields."""
    try:
        return ReviewCreate.model_validate(fields)
    except ValidationError as exc:
        for problem in exc.errors():
            field = str(problem["loc"][0]) if problem["loc"] else "first_name"
            field = {"is_uasc": "uasc", "review_at": "review_date"}.get(field, field)
            if field not in NEW_FIELDS:
                field = "first_name"
            errors.setdefault(field, str(problem["msg"]).removeprefix("Value error, "))
        return None
