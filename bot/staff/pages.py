"""The staff workspace's routes, and who may reach what.

Least privilege, by role: an IRO reads the reviews whose IRO email is theirs; the duty team
reads every alert, and the review an alert belongs to; participation officers and admins read
no child's words. A review or alert someone may not read answers 404, exactly as one that does
not exist: a URL never tells whether there is something behind it.

A person may hold more than one role (StaffMember.holds): a route opens to anyone holding one
of its roles, and what a page then shows follows each role's own rule, never their sum: an
admin who is also an IRO reads the child's words of their own reviews (as their IRO) and no
others; the admin pages show none to anyone. Their main role is their home page; the others'
boards are at /staff?as=<role>.

Every page sends its own Content-Security-Policy: no script at all, styles from this origin
only, forms posted here only. The templates (bot/staff/templates) are code, not officers'
content: they carry the CSRF fields and the access rules' results, so they live with it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup
from pydantic import ValidationError

from bot.delivery.english import english_name
from bot.delivery.summary import summary_data
from bot.delivery.templating import Templates
from bot.settings import Settings
from bot.staff import credentials
from bot.staff.accounts import add_staff, token_hash
from bot.staff.board import (
    STATE_NAMES,
    STATES,
    AlertCard,
    ReviewCard,
    alert_card,
    progress,
    question_title,
    staff_name,
    told,
    waited,
    when,
)
from bot.staff.entra import CALLBACK, FLOW_COOKIE, FLOW_SECONDS, START, EntraError, EntraSignIn
from bot.staff.escalation import hours_text
from bot.staff.import_pages import ImportPages
from bot.staff.review_pages import ReviewChanges
from bot.staff.roles import BOARD_NAMES, alert_role, board_of, board_url, is_their_iro
from bot.staff.sessions import COOKIE, Signed, StaffAuth
from dialogs.context import Services
from dialogs.display import shown
from storage.models import (
    STAFF_ROLES,
    AlertHistory,
    Review,
    SafeguardingAlert,
    StaffMember,
    StaffMemberCreate,
    normal_roles,
)
from storage.repositories import LastAdmin, Repositories, StaffExists
from storage.repositories.alerts import OPEN, QUEUES
from storage.types import utcnow

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
CSS = (HERE / "static" / "staff.css").read_bytes()
CSS_URL = f"/staff/static/staff.css?v={hashlib.sha256(CSS).hexdigest()[:12]}"
POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {"Content-Security-Policy": POLICY, "Cache-Control": "no-store"}
ROLE_NAMES = {"iro": "IRO", "duty": "Duty team", "participation": "Participation", "admin": "Admin"}
SIGNED_OUT = {
    "idle": "You were signed out after {idle} minutes without opening a page. Sign in again.",
    "expired": "You were signed out {hours} hours after signing in. Sign in again.",
    "inactive": "Your account is not active. Ask an admin.",
    "out": "You have signed out.",
    "everywhere": "You have signed out on every device.",
}
NOTICES = {
    # After each step (STEPS), by its name.
    "take": "You own this alert now.",
    "assign": "The alert is assigned: its new owner is below.",
    "acknowledge": "Alert acknowledged.",
    "action": "Action recorded.",
    "close": "Alert closed.",
    "reopen": "Alert opened again.",
    "note": "Note added.",
    "already": "Someone acknowledged this alert before you: their name is below.",
    "yours": "It is yours already.",
    "deactivated": "The account is deactivated and its sessions ended.",
    "reallocated": "The review is now with the IRO you chose; it has left your board. If the "
    "child has linked their chat, they are told the name of their new IRO.",
    "read": "Marked as read. They are told, in their language, that you have read their answers.",
    "read_before": "These answers were marked as read before: they were told then.",
    "roles": "Their roles are changed: they have them from the next page they open.",
    "roles_unchanged": "Those are the roles they had already: nothing changed.",
}
QUEUE_NAMES = {
    "unowned": "Not taken",
    "mine": "Mine",
    "open": "All open",
    "closed": "Closed",
}


@dataclass(frozen=True)
class Step:
    """One change a person can make to an alert (POST /staff/alerts/{id}/<name>)."""

    name: str
    action: str  # the history's and the audit's word for it
    from_states: tuple[str, ...]
    to_state: str | None  # None: the state stays
    note: bool  # a note is required
    roles: tuple[str, ...] = ("duty",)
    # Why it cannot be done in a state it cannot be done in.
    refused: str = ""


# Duty own an alert's state and owner; the IRO of the review may add notes (what they know of
# the child helps), and sees everything else the duty team does.
STEPS = {
    s.name: s
    for s in (
        Step("take", "taken", OPEN, None, False, refused="A closed alert is opened again first."),
        Step(
            "assign", "assigned", OPEN, None, False, refused="A closed alert is opened again first."
        ),
        Step("acknowledge", "acknowledged", ("new",), "acknowledged", False),
        Step(
            "action",
            "action",
            ("acknowledged", "action"),
            "action",
            True,
            refused="An alert is acknowledged before an action is recorded on it, and a closed "
            "one is opened again first.",
        ),
        Step(
            "close",
            "closed",
            ("acknowledged", "action"),
            "closed",
            True,
            refused="An alert is acknowledged before it is closed: acknowledge it first.",
        ),
        Step(
            "reopen",
            "reopened",
            ("closed",),
            "acknowledged",
            True,
            refused="Only a closed alert can be opened again.",
        ),
        Step("note", "note", (*OPEN, "closed"), None, True, roles=("iro", "duty")),
    )
}
NOTE_NEEDED = {
    "action": "Write what was done (the action), for the team.",
    "close": "Write why it is closed (the outcome), for the team.",
    "reopen": "Write why it is opened again.",
    "note": "Write the note.",
}
ACTION_NAMES = {
    "taken": "Took it",
    "assigned": "Assigned it",
    "acknowledged": "Acknowledged it",
    "action": "Recorded an action",
    "closed": "Closed it",
    "reopened": "Opened it again",
    "note": "Added a note",
    "escalated": "Emailed the duty manager",
}
# Why Entra sign-in did not finish (EntraError.reason), as the sign-in page says it; and status.
ENTRA_STALE = (
    400,
    "Signing in with Microsoft took too long, or was started in another tab. Try again.",
)
ENTRA_FAILED = {
    # No flow cookie, an old one, or a state that is not its own: nothing was sent to Entra.
    "no_flow": ENTRA_STALE,
    "state": ENTRA_STALE,
    "refused": (401, "Microsoft did not sign you in. Try again, or ask an admin if it goes on."),
    "unreachable": (
        502,
        "Microsoft's sign-in is not answering. Try again in a minute, or sign in with your "
        "MyReview password if you have one.",
    ),
}
ENTRA_UNCHECKED = (
    401,
    "Microsoft's answer could not be checked, so you are not signed in. Try again; if it goes "
    "on, tell the MyReview administrator the time it happened.",
)
ENTRA_REFUSED = {
    "unknown": (
        "Ask an admin for a MyReview account",
        "You signed in with Microsoft{as_whom}, but there is no MyReview account for you. An "
        "admin can add you; signing in does not make an account.",
    ),
    "inactive": ("Your account is not active", "Your account is not active. Ask an admin."),
    "another_identity": (
        "Ask an admin to check your account",
        "The MyReview account with your email is linked to a different Microsoft account, so "
        "you are not signed in. Ask an admin to check it.",
    ),
}
PASSWORDS_OFF = (
    "MyReview passwords are turned off here: sign in with your council Microsoft account."
)
BASE32 = re.compile(r"[A-Z2-7]{32}")
MAX_NOTE = 2000


class BadForm(ValueError):
    """A form body that cannot be read (not UTF-8, not a form)."""


async def read_form(request: web.Request) -> Any:
    try:
        return await request.post()
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadForm from exc


Handler = Callable[[web.Request, Signed], Awaitable[web.StreamResponse]]


class StaffPages:
    def __init__(self, *, settings: Settings, repos: Repositories, services: Services) -> None:
        self.settings = settings
        self.repos = repos
        self.services = services
        self.auth = StaffAuth(repos=repos, settings=settings)
        self.entra = EntraSignIn(settings)
        self._email_templates: dict[str, Templates] = {}
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # A child's words, and staff's notes, with nothing in them that reverses or hides text.
        self.env.filters["shown"] = shown

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/staff", self._page(self.dashboard))
        r.add_get("/staff/sign-in", self._guarded(self.sign_in_form))
        r.add_post("/staff/sign-in", self._guarded(self.sign_in))
        r.add_get(START, self._guarded(self.entra_start))
        r.add_get(CALLBACK, self._guarded(self.entra_callback))
        r.add_get("/staff/set-up", self._guarded(self.set_up_form))
        r.add_post("/staff/set-up", self._guarded(self.set_up))
        r.add_post("/staff/sign-out", self._page(self.sign_out))
        r.add_post("/staff/sign-out-everywhere", self._page(self.sign_out_everywhere))
        r.add_get(r"/staff/reviews/{review_id:\d{1,9}}", self._page(self.review, "iro", "duty"))
        r.add_get(
            r"/staff/reviews/{review_id:\d{1,9}}/summary", self._page(self.summary, "iro", "duty")
        )
        r.add_get(r"/staff/alerts/{alert_id:\d{1,9}}", self._page(self.alert, "iro", "duty"))
        for step in STEPS.values():
            r.add_post(
                rf"/staff/alerts/{{alert_id:\d{{1,9}}}}/{step.name}",
                self._page(self._changer(step), *step.roles),
            )
        # Reviews made and changed (bot/staff/review_pages.py): an IRO their own, an admin any.
        changes = ReviewChanges(self)
        review = r"/staff/reviews/{review_id:\d{1,9}}"
        r.add_get("/staff/reviews/new", self._page(changes.new_form, "iro", "admin"))
        r.add_post("/staff/reviews/new", self._page(changes.new, "iro", "admin"))
        r.add_get(f"{review}/change", self._page(changes.change_form, "iro", "admin"))
        r.add_post(f"{review}/reschedule", self._page(changes.reschedule, "iro", "admin"))
        r.add_post(f"{review}/reallocate", self._page(changes.reallocate, "iro", "admin"))
        r.add_post(f"{review}/cancel", self._page(changes.cancel, "iro", "admin"))
        r.add_post(f"{review}/new-code", self._page(changes.new_code, "iro", "admin"))
        r.add_post(f"{review}/read", self._page(changes.mark_read, "iro"))
        r.add_get("/staff/admin/reviews", self._page(changes.admin_reviews, "admin"))
        r.add_post("/staff/admin/audit.csv", self._page(self.audit_export, "admin"))
        r.add_get("/staff/admin/staff", self._page(self.staff_list, "admin"))
        r.add_post("/staff/admin/staff", self._page(self.staff_add, "admin"))
        r.add_post(
            r"/staff/admin/staff/{staff_id:\d{1,9}}/deactivate",
            self._page(self.staff_deactivate, "admin"),
        )
        r.add_get(r"/staff/admin/staff/{staff_id:\d{1,9}}", self._page(self.roles_form, "admin"))
        r.add_post(
            r"/staff/admin/staff/{staff_id:\d{1,9}}/roles", self._page(self.roles_change, "admin")
        )
        r.add_get("/staff/static/staff.css", self.css)
        ImportPages(self).add_routes(app)

    # --- rendering and guards ---------------------------------------------------------------

    def render(
        self,
        name: str,
        *,
        signed: Signed | None = None,
        status: int = 200,
        **data: Any,
    ) -> web.Response:
        html = self.env.get_template(name).render(
            me=signed.member if signed else None,
            csrf=signed.session.csrf_token if signed else "",
            role_names=ROLE_NAMES,
            board_names=BOARD_NAMES,
            board_url=board_url,
            css_url=CSS_URL,
            council=self.settings.council_name,
            local_sign_in=self.settings.staff_local_sign_in,
            **data,
        )
        return web.Response(
            text=html, content_type="text/html", status=status, headers=PAGE_HEADERS
        )

    def not_found(self, signed: Signed | None = None) -> web.Response:
        return self.render(
            "message.html",
            signed=signed,
            status=404,
            title="Not found",
            message="There is nothing here, or nothing you can open. Check the link, or go "
            "back to your home page.",
        )

    def _guarded(
        self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Any failure is a page that says so, never a stack trace; and never a child's
        words or a code in the log (only the path and the kind of error)."""

        async def run(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except web.HTTPException:
                raise
            except BadForm:
                return self.render(
                    "message.html",
                    status=400,
                    title="The form could not be read",
                    message="Nothing was changed. Go back, reload the page and try again.",
                )
            except Exception as exc:  # noqa: BLE001 - the person gets a page, the log a line
                log.error(
                    "staff page failed", extra={"path": request.path, "error": type(exc).__name__}
                )
                return self.render(
                    "message.html",
                    status=500,
                    title="Something went wrong",
                    message="This page could not be shown. Try again in a minute; if it goes "
                    "on, tell the MyReview administrator the time it happened.",
                )

        return run

    def _page(
        self, handler: Handler, *roles: str, own_form: bool = False
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Signed in, of one of `roles` (any, if none named), and for a form, with the
        session's CSRF token; else the sign-in page, a 404, or a refusal. `own_form`: the
        handler reads the body itself (a file upload, streamed) and checks the token."""

        async def page(request: web.Request) -> web.StreamResponse:
            signed, why = await self.auth.current(request)
            if signed is None:
                to = "/staff/sign-in" + (f"?why={why}" if why else "")
                response = web.HTTPSeeOther(to)
                if why or request.cookies.get(COOKIE):
                    self.auth.clear_session_cookie(response)
                raise response
            # Read from their account at every request: a role taken away is gone at once.
            if roles and not signed.member.holds(*roles):
                return self.not_found(signed)
            if request.method == "POST" and not own_form:
                form = await read_form(request)
                if not self.auth.csrf_ok(signed, form.get("csrf")):
                    return self.render(
                        "message.html",
                        signed=signed,
                        status=403,
                        title="This form is out of date",
                        message="Nothing was changed. Go back, reload the page and try again.",
                    )
            return await handler(request, signed)

        return self._guarded(page)

    async def css(self, request: web.Request) -> web.Response:
        return web.Response(
            body=CSS,
            content_type="text/css",
            headers={"Cache-Control": "public, max-age=31536000, immutable"},
        )

    # --- signing in and out -----------------------------------------------------------------

    async def sign_in_form(
        self, request: web.Request, *, error: str | None = None, email: str = "", status: int = 200
    ) -> web.StreamResponse:
        signed, _ = await self.auth.current(request)
        if signed is not None and error is None:
            raise web.HTTPSeeOther("/staff")
        why = request.query.get("why", "")
        notice = SIGNED_OUT.get(why, "").format(
            idle=self.settings.staff_idle_minutes, hours=self.settings.staff_session_hours
        )
        token = self.auth.form_token(request)
        response = self.render(
            "sign_in.html",
            title="Sign in",
            notice=notice or None,
            error=error,
            email=email,
            form_token=token,
            second_factor=self.settings.second_factor_required,
            entra=self.entra.enabled,
            local=self.settings.staff_local_sign_in,
            status=status,
        )
        self.auth.set_form_cookie(response, token)
        return response

    async def sign_in(self, request: web.Request) -> web.StreamResponse:
        if not self.settings.staff_local_sign_in:
            return await self.sign_in_form(request, error=PASSWORDS_OFF, status=403)
        form = await read_form(request)
        if not self.auth.form_token_ok(request, form.get("form_token")):
            return await self.sign_in_form(
                request, error="The form was out of date. Try again.", status=403
            )
        email, password, code = (str(form.get(k, "")) for k in ("email", "password", "code"))
        if not email.strip() or not password:
            return await self.sign_in_form(
                request, error="Enter your email and password.", email=email[:254], status=400
            )
        result = await self.auth.sign_in(
            email=email, password=password, code=code[:20], address=self.auth.address(request)
        )
        if result.token is None:
            return await self.sign_in_form(
                request, error=result.error, email=email[:254], status=401
            )
        response = web.HTTPSeeOther("/staff")
        self.auth.set_session_cookie(response, result.token)
        raise response

    async def sign_out(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        await self.auth.sign_out(signed, everywhere=False)
        response = web.HTTPSeeOther("/staff/sign-in?why=out")
        self.auth.clear_session_cookie(response)
        raise response

    async def sign_out_everywhere(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        await self.auth.sign_out(signed, everywhere=True)
        response = web.HTTPSeeOther("/staff/sign-in?why=everywhere")
        self.auth.clear_session_cookie(response)
        raise response

    # --- signing in with Microsoft Entra ID (bot/staff/entra.py) ---------------------------

    def _redirect_uri(self, request: web.Request) -> str:
        # Production names its address (MYREVIEW_PUBLIC_URL, as registered in Entra).
        base = self.settings.public_url.rstrip("/") or f"{request.scheme}://{request.host}"
        return base + CALLBACK

    async def entra_start(self, request: web.Request) -> web.StreamResponse:
        if not self.entra.enabled:
            return self.not_found()
        signed, _ = await self.auth.current(request)
        if signed is not None:
            raise web.HTTPSeeOther("/staff")
        try:
            url, flow = await self.entra.start(redirect_uri=self._redirect_uri(request))
        except EntraError as exc:
            status, message = ENTRA_FAILED["unreachable"]
            log.warning("entra sign-in not started", extra={"reason": exc.reason})
            return await self.sign_in_form(request, error=message, status=status)
        response = web.HTTPSeeOther(url)
        response.set_cookie(
            FLOW_COOKIE,
            flow,
            path=CALLBACK,
            max_age=FLOW_SECONDS,
            httponly=True,
            # Lax: Entra's redirect back is a top-level GET from another site.
            samesite="Lax",
            secure=self.auth.secure,
        )
        raise response

    async def entra_callback(self, request: web.Request) -> web.StreamResponse:
        if not self.entra.enabled:
            return self.not_found()
        try:
            identity = await self.entra.finish(
                params=request.query,
                cookie=request.cookies.get(FLOW_COOKIE),
                redirect_uri=self._redirect_uri(request),
            )
        except EntraError as exc:
            log.warning("entra sign-in failed", extra={"reason": exc.reason})
            status, message = ENTRA_FAILED.get(exc.reason, ENTRA_UNCHECKED)
            if (status, message) == ENTRA_UNCHECKED:
                # Entra answered, but not as it should: worth a row for whoever investigates.
                await self.repos.audit.record(
                    action="sign_in.failed",
                    staff_id=None,
                    details={"method": "entra", "reason": exc.reason},
                )
            response = await self.sign_in_form(request, error=message, status=status)
            response.del_cookie(FLOW_COOKIE, path=CALLBACK)
            return response
        result = await self.auth.sign_in_with_entra(identity)
        if result.token is None:
            title, message = ENTRA_REFUSED[result.refused or "unknown"]
            page = self.render(
                "message.html",
                status=403,
                title=title,
                message=message.format(as_whom=f" as {identity.email}" if identity.email else ""),
            )
            page.del_cookie(FLOW_COOKIE, path=CALLBACK)
            return page
        response = web.HTTPSeeOther("/staff")
        self.auth.set_session_cookie(response, result.token)
        response.del_cookie(FLOW_COOKIE, path=CALLBACK)
        raise response

    # --- setting up an account --------------------------------------------------------------

    async def _set_up_link(self, token: str) -> tuple[Any, StaffMember] | None:
        if not token or len(token) > 100:
            return None
        return await self.repos.staff.setup_token(token_hash=token_hash(token), now=utcnow())

    def _link_gone(self) -> web.Response:
        if not self.settings.staff_local_sign_in:
            return self.render(
                "message.html", status=404, title="Sign in with Microsoft", message=PASSWORDS_OFF
            )
        return self.render(
            "message.html",
            status=404,
            title="This link does not work",
            message="Set-up links work once, for 24 hours. Ask an admin for a new one.",
        )

    async def set_up_form(
        self,
        request: web.Request,
        *,
        token: str | None = None,
        totp_secret: str | None = None,
        errors: list[str] | None = None,
        status: int = 200,
    ) -> web.StreamResponse:
        if not self.settings.staff_local_sign_in:
            return self._link_gone()
        token = token if token is not None else request.query.get("token", "")
        found = await self._set_up_link(token)
        if found is None:
            return self._link_gone()
        _, member = found
        secret = None
        qr = None
        if self.settings.second_factor_required:
            secret = totp_secret or credentials.new_totp_secret()
            # segno's own SVG, from a URI we made: nothing in it came from a person.
            qr = Markup(credentials.qr_svg(credentials.totp_uri(secret, email=member.email)))
        form_token = self.auth.form_token(request)
        response = self.render(
            "set_up.html",
            title="Set up your account",
            member=member,
            token=token,
            totp_secret=secret,
            totp_secret_spaced=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
            if secret
            else None,
            qr=qr,
            errors=errors or [],
            form_token=form_token,
            minimum=credentials.MIN_PASSWORD,
            status=status,
        )
        self.auth.set_form_cookie(response, form_token)
        return response

    async def set_up(self, request: web.Request) -> web.StreamResponse:
        if not self.settings.staff_local_sign_in:
            return self._link_gone()
        form = await read_form(request)
        token = str(form.get("token", ""))
        secret = str(form.get("totp_secret", "")) or None
        if not self.auth.form_token_ok(request, form.get("form_token")):
            return await self.set_up_form(
                request, token=token, errors=["The form was out of date. Try again."], status=403
            )
        found = await self._set_up_link(token)
        if found is None:
            return self._link_gone()
        link, member = found
        password = str(form.get("password", ""))
        errors = []
        problem = credentials.password_problem(password, email=member.email)
        if problem:
            errors.append(problem)
        elif password != str(form.get("password_again", "")):
            errors.append("The two passwords are not the same.")
        step = None
        if self.settings.second_factor_required:
            if secret is None or not BASE32.fullmatch(secret):
                secret = None
                errors.append("Scan the new QR code and enter the code it shows.")
            else:
                step = credentials.totp_step(
                    secret, str(form.get("code", ""))[:20], at=datetime.now(UTC).timestamp()
                )
                if step is None:
                    errors.append(
                        "That code is not right. Enter the 6 digits your authenticator app "
                        "shows for MyReview now."
                    )
        else:
            secret = None
        if errors:
            return await self.set_up_form(
                request, token=token, totp_secret=secret, errors=errors, status=400
            )
        password_hash = await credentials.hash_password(password)
        async with self.repos.db.unit_of_work():
            if not await self.repos.staff.use_setup_token(token_id=link.id, at=utcnow()):
                used = True
            else:
                used = False
                staff_id = member.id or 0
                await self.repos.staff.set_credentials(
                    staff_id=staff_id, password_hash=password_hash, totp_secret=secret
                )
                if step is not None:
                    # The code just typed cannot be used again to sign in.
                    await self.repos.staff.take_totp_step(staff_id=staff_id, step=step)
                # A new password ends every session the old one opened.
                await self.repos.staff.end_sessions_of(staff_id=staff_id)
                await self.repos.audit.record(
                    action="staff.set_up",
                    staff_id=staff_id,
                    details={"second_factor": secret is not None},
                )
                session_token = await self.auth.start_after_set_up(member)
                await self.repos.audit.record(action="sign_in", staff_id=staff_id)
        if used:
            return self._link_gone()
        response = web.HTTPSeeOther("/staff")
        self.auth.set_session_cookie(response, session_token)
        raise response

    # --- home pages by role -----------------------------------------------------------------

    async def dashboard(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        """Their main role's board; ?as=<role> the board of another role they hold (a role
        they do not hold, or none, is their main role's)."""
        role = board_of(signed.member, request.query.get("as", ""))
        if role == "iro":
            cards = await self._iro_cards(signed.member)
            # One state at a time (?state=sent), or those with open alerts (?state=alerts);
            # the counts are of every review, so the filters add up to the whole board.
            counts = {key: sum(c.progress.state == key for c in cards) for key in STATES}
            counts["alerts"] = sum(1 for c in cards if c.open_alerts)
            state = request.query.get("state", "")
            if state not in counts:
                state = ""
            shown_cards = [
                c
                for c in cards
                if not state or (c.open_alerts if state == "alerts" else c.progress.state == state)
            ]
            return self.render(
                "home_iro.html",
                signed=signed,
                title="My reviews",
                cards=shown_cards,
                total=len(cards),
                counts=counts,
                state=state,
                state_names={"alerts": "Open alerts", **STATES},
                notice=NOTICES.get(request.query.get("done", "")),
                board=role,
            )
        if role == "duty":
            return await self._duty_board(request, signed)
        if role == "admin":
            return self.render(
                "home_admin.html",
                signed=signed,
                board=role,
                title="Administration",
                events=await self.repos.audit.recent(limit=50),
                staff={m.id: m for m in await self.repos.staff.everyone()},
                when=lambda at: when(at, self.services.timezone),
            )
        return self.render(
            "home_participation.html", signed=signed, board=role, title="Participation"
        )

    async def _iro_cards(self, member: StaffMember) -> list[ReviewCard]:
        tz = self.services.timezone
        reviews = await self.repos.reviews.for_iro(iro_email=member.email)
        ids = [r.id for r in reviews if r.id is not None]
        # A sent review's progress needs no answers: only the others' are read (they are most
        # of the rows, and each is unsealed to be read).
        answers = await self.repos.answers.for_reviews(
            review_ids=[r.id for r in reviews if r.id is not None and r.submitted_at is None]
        )
        linked = await self.repos.links.linked_reviews(review_ids=ids)
        alerts = await self.repos.alerts.open_counts(review_ids=ids)
        today = datetime.now(tz).date()
        cards = []
        for r in reviews:
            rid = r.id or 0
            content = self.services.content_source.version(r.content_version)
            cards.append(
                ReviewCard(
                    id=rid,
                    first_name=r.first_name,
                    review_date=when(r.review_at, tz),
                    days_left=(r.review_at.astimezone(tz).date() - today).days,
                    progress=progress(
                        content, r, answers.get(rid, {}), linked=rid in linked, tz=tz
                    ),
                    open_alerts=alerts.get(rid, 0),
                )
            )
        # Open alerts first, then reviews still to come (soonest first), then those held;
        # cancelled ones last of all.
        cards.sort(
            key=lambda c: (
                c.open_alerts == 0,
                c.progress.state == "cancelled",
                c.progress.state == "held" or c.days_left < 0,
                abs(c.days_left),
            )
        )
        return cards

    async def _alert_cards(
        self, alerts: list[SafeguardingAlert], staff: dict[int, StaffMember]
    ) -> list[AlertCard]:
        reviews = await self.repos.reviews.many(
            review_ids=sorted({a.review_id for a in alerts if a.review_id})
        )
        more = await self.repos.alerts.follower_counts(lead_ids=[a.id or 0 for a in alerts])
        tz, now = self.services.timezone, self.services.clock()
        return [
            alert_card(
                a,
                reviews.get(a.review_id or 0),
                staff,
                tz,
                now=now,
                more=more.get(a.id or 0, (0, now))[0],
            )
            for a in alerts
        ]

    async def _duty_board(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        """The duty team's queues: not taken, mine, all open (each oldest first: the longest
        waiting on top) and closed; the oldest waiting and the newest named above them."""
        queue = request.query.get("queue", "open")
        if queue not in QUEUES:
            queue = "open"
        me = signed.member.id or 0
        staff = {m.id or 0: m for m in await self.repos.staff.everyone()}
        alerts = await self.repos.alerts.board(queue=queue, staff_id=me)
        oldest = await self.repos.alerts.board(queue="open", limit=1)
        newest = await self.repos.alerts.newest_open()
        firsts = await self._alert_cards([a for a in (*oldest, newest) if a is not None], staff)
        return self.render(
            "home_duty.html",
            signed=signed,
            board="duty",
            title="Safeguarding alerts",
            queue=queue,
            queues=QUEUE_NAMES,
            counts=await self.repos.alerts.queue_counts(staff_id=me),
            alerts=await self._alert_cards(alerts, staff),
            oldest=firsts[0] if oldest else None,
            newest=firsts[-1] if newest is not None and len(firsts) > 1 else None,
        )

    # --- a review and an alert: a child's words, each reading audited ----------------------

    async def _may_read(self, member: StaffMember, review: Review | None) -> str | None:
        """As what this person reads the review, if they may: "iro" (their own review), else
        "duty" (a review with an alert); None if they may not."""
        if review is None or review.id is None:
            return None
        if is_their_iro(member, review):
            return "iro"
        if member.holds("duty") and await self.repos.alerts.review_has_alerts(review_id=review.id):
            return "duty"
        return None

    async def _read_review(
        self, signed: Signed, review_id: int, *, action: str
    ) -> tuple[Review, dict[str, Any], list[SafeguardingAlert], set[int], str] | None:
        """A review with its answers, alerts and linked state, for someone who may read it
        (and the role they read it as), recorded in the audit in the same transaction as the
        reading: no reading without its record. None when they may not (or it is not there)."""
        async with self.repos.db.unit_of_work():
            review = await self.repos.reviews.get(review_id=review_id)
            allowed = await self._may_read(signed.member, review)
            if not allowed or review is None:
                return None
            answers = await self.repos.answers.all_for(review_id=review_id)
            alerts = await self.repos.alerts.for_review(review_id=review_id)
            linked = await self.repos.links.linked_reviews(review_ids=[review_id])
            await self.repos.audit.record(
                action=action,
                staff_id=signed.member.id,
                review_id=review_id,
                details={"answers": len(answers), "role": allowed},
            )
        return review, answers, alerts, set(linked), allowed

    async def review(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        review_id = int(request.match_info["review_id"])
        tz = self.services.timezone
        read = await self._read_review(signed, review_id, action="review.viewed")
        if read is None:
            return self.not_found(signed)
        review, answers, alerts, linked, allowed = read
        content = self.services.content_source.version(review.content_version)
        # The same view model as the IRO's summary email, so the page and the email agree.
        data = summary_data(
            content=content,
            review=review,
            answers=answers,
            tz=tz,
            updated=False,
            sent_at=review.submitted_at or utcnow(),
            alerts=alerts,
        )
        own = allowed == "iro"
        kept_for_iro = _for_reader(data, own=own)
        staff = {m.id or 0: m for m in await self.repos.staff.everyone()}
        reader = staff.get(review.read_by or 0)
        return self.render(
            "review.html",
            kept_for_iro=kept_for_iro,
            signed=signed,
            title=f"Review for {review.first_name}",
            review_id=review_id,
            s=data,
            progress=progress(content, review, answers, linked=review_id in linked, tz=tz),
            notice=NOTICES.get(request.query.get("done", "")),
            # Its IRO, or an admin (who changes any review; the change page has no words).
            can_change=own or signed.member.holds("admin"),
            can_mark_read=own and review.submitted_at is not None and review.read_at is None,
            read=(
                f"{reader.display_name if reader else 'A former member of staff'} marked these "
                f"answers read on {when(review.read_at, tz)}."
                if review.read_at
                else None
            ),
            alert_cards=[
                alert_card(a, review, staff, tz, now=self.services.clock())
                for a in sorted(alerts, key=lambda a: a.created_at)
                if a.tier != "after" and a.merged_into is None
            ],
        )

    def _may_read_alert(self, member: StaffMember, review: Review | None) -> bool:
        """Duty: every alert. An IRO: the alerts of their own reviews (not those of chats with
        no review: the duty team's alone)."""
        return member.holds("duty") or (review is not None and is_their_iro(member, review))

    async def _reachable(
        self, member: StaffMember, alert_id: int
    ) -> tuple[SafeguardingAlert, Review | None] | None:
        """The lead alert (what was kept with an alert is part of it) and its review, if this
        person may read it; else None, as for one that does not exist."""
        try:
            alert = await self.repos.alerts.get(alert_id=alert_id)
            if alert.merged_into is not None:
                alert = await self.repos.alerts.get(alert_id=alert.merged_into)
        except LookupError:
            return None
        review = (
            await self.repos.reviews.get(review_id=alert.review_id) if alert.review_id else None
        )
        if not self._may_read_alert(member, review):
            return None
        return alert, review

    async def summary(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        """The consultation to read, print and copy into the case record: the to-do box first,
        the answers by section, what changed after the first sending, what the child kept for
        the IRO alone (to the IRO only). The email's view model (`summary_data`), so the page,
        the email and the copy say the same; each view audited as the review page's is."""
        review_id = int(request.match_info["review_id"])
        tz = self.services.timezone
        read = await self._read_review(signed, review_id, action="summary.viewed")
        if read is None:
            return self.not_found(signed)
        review, answers, alerts, linked, allowed = read
        content = self.services.content_source.version(review.content_version)
        sent = review.submitted_at is not None
        history = [
            (datetime.fromisoformat(str(h["at"])), [tuple(c) for c in h.get("changed", [])])
            for h in review.sent_history or []
        ]
        last_sent = history[-1][0] if history else review.submitted_at
        data = summary_data(
            content=content,
            review=review,
            answers=answers,
            tz=tz,
            updated=False,
            sent_at=last_sent or utcnow(),
            alerts=alerts,
            # Against what the last summary showed: changed since, and not sent yet.
            previous=review.sent_answers if sent and review.sent_answers is not None else None,
        )
        unsent_changes = data["changed"]
        kept_for_iro = _for_reader(data, own=allowed == "iro")
        day = "%-d %B %Y at %H:%M"
        first_sent = (
            review.submitted_at.astimezone(tz).strftime(day) if review.submitted_at else None
        )
        case_record = None
        if sent:
            # The email's plain text, as first sent or as last updated: what the case record
            # keeps is what the child sent.
            case_record = self._plain_summary(
                content,
                {
                    **data,
                    "changed": [],
                    "first_sent_at": first_sent if history else None,
                },
            )
        return self.render(
            "summary.html",
            signed=signed,
            title=f"Summary for {review.first_name}",
            review_id=review_id,
            s=data,
            sent=sent,
            progress=progress(content, review, answers, linked=review_id in linked, tz=tz),
            first_sent=first_sent,
            history=[(at.astimezone(tz).strftime(day), changed) for at, changed in history],
            untracked=max(0, review.summary_sends - 1 - len(history)),
            unsent_changes=unsent_changes if sent else [],
            kept_for_iro=kept_for_iro,
            case_record=case_record,
        )

    def _plain_summary(self, content: Any, data: dict[str, Any]) -> str | None:
        templates = self._email_templates.get(content.version)
        if templates is None:
            templates = self._email_templates[content.version] = Templates(content.templates_dir)
        try:
            return templates.render("summary.txt", **data)
        except Exception as exc:  # noqa: BLE001 - the page shows without the copy
            log.error("case record text failed", extra={"error": type(exc).__name__})
            return None

    async def alert(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        alert_id = int(request.match_info["alert_id"])
        found = await self._reachable(signed.member, alert_id)
        if found is None:
            return self.not_found(signed)
        if found[0].id != alert_id:
            # A message kept with an alert is read on that alert's page.
            raise web.HTTPSeeOther(f"/staff/alerts/{found[0].id}#m{alert_id}")
        return await self._alert_page(
            request, signed, alert_id, notice=NOTICES.get(request.query.get("done", ""))
        )

    async def _alert_page(
        self,
        request: web.Request,
        signed: Signed,
        alert_id: int,
        *,
        notice: str | None = None,
        error: str | None = None,
        typed: tuple[str, str] | None = None,
        status: int = 200,
    ) -> web.StreamResponse:
        """The alert, its history and what can be done about it; each showing audited. A form
        sent back with an error (`error`, `status`) keeps what was typed (`typed`: the form's
        name and its note)."""
        tz = self.services.timezone
        member = signed.member
        seen = await self._seen_alert(member, alert_id)
        if seen is None:
            return self.not_found(signed)
        alert, review = seen.alert, seen.review
        content = (
            self.services.content_source.version(review.content_version)
            if review
            else self.services.content_source.current()
        )
        everyone = await self.repos.staff.everyone()
        staff = {m.id or 0: m for m in everyone}
        now = self.services.clock()
        summary, words = told(
            content,
            alert,
            review,
            before_code=seen.before_code,
            contact_within=self.services.alert_contact_within,
            tz=tz,
        )
        return self.render(
            "alert.html",
            signed=signed,
            title=f"Alert {alert_id}",
            status=status,
            alert=alert,
            card=alert_card(alert, review, staff, tz, now=now, more=len(seen.followers)),
            review=review,
            question=question_title(content, alert.question_id),
            language=english_name(content, alert.locale),
            told_summary=summary,
            told_words=words,
            since=waited(now - alert.created_at),
            followers=[(when(f.created_at, tz), f) for f in seen.followers],
            history=self._history(alert, seen.history, staff, tz),
            notice=notice,
            error=error,
            typed=typed or ("", ""),
            can=_alert_steps_open(member, alert),
            duty=[m for m in everyone if m.holds("duty") and m.active and m.id != alert.owner_id],
            state_names=STATE_NAMES,
            max_note=MAX_NOTE,
            escalate_after=hours_text(self.settings.alert_escalation_hours),
        )

    async def _seen_alert(self, member: StaffMember, alert_id: int) -> _SeenAlert | None:
        """The alert if this member may see it, with what its page shows, the viewing audited
        in the same transaction; None if not."""
        async with self.repos.db.unit_of_work():
            found = await self._reachable(member, alert_id)
            if found is None:
                return None
            alert, review = found
            followers = await self.repos.alerts.followers(alert_id=alert_id)
            history = await self.repos.alerts.history(alert_id=alert_id)
            links = (
                await self.repos.links.for_review(review_id=review.id)
                if review and review.id
                else []
            )
            await self.repos.audit.record(
                action="alert.viewed",
                staff_id=member.id,
                review_id=alert.review_id,
                details={"alert": alert_id, "role": alert_role(member)},
            )
        # Raised before the chat entered its code: the child was told the duty team alone.
        linked = [link.linked_at for link in links if link.conversation_id == alert.conversation_id]
        before_code = review is None or (bool(linked) and min(linked) > alert.created_at)
        return _SeenAlert(alert, review, followers, history, before_code)

    def _history(
        self,
        alert: SafeguardingAlert,
        rows: list[AlertHistory],
        staff: dict[int, StaffMember],
        tz: Any,
    ) -> list[dict[str, Any]]:
        """Raised, then each change: when, who, what, the note."""
        n = self.settings.alert_escalation_hours
        entries = [
            {
                "at": when(alert.created_at, tz),
                "who": "MyReview",
                "what": "Raised the alert, from what the child wrote",
                "note": None,
            }
        ]
        if alert.acknowledgement_note and not any(r.action == "acknowledged" for r in rows):
            # Acknowledged before alerts had a history.
            entries.append(
                {
                    "at": when(alert.acknowledged_at or alert.created_at, tz),
                    "who": staff_name(staff, alert.acknowledged_by),
                    "what": ACTION_NAMES["acknowledged"],
                    "note": alert.acknowledgement_note,
                }
            )
        escalations = 0
        for row in rows:
            what = ACTION_NAMES.get(row.action, row.action)
            if row.action in ("taken", "assigned"):
                what += f": owner {staff_name(staff, row.owner_id)}"
            elif row.action == "escalated":
                escalations += 1
                what += f": not acknowledged after {hours_text(n * escalations)}"
            elif row.action == "reopened" and row.staff_id is None:
                what = "Opened it again: the child wrote more after it was closed"
            if row.action in ("acknowledged", "action", "closed", "reopened"):
                what += f" (now {STATE_NAMES.get(row.state, row.state).lower()})"
            entries.append(
                {
                    "at": when(row.at, tz),
                    "who": "MyReview" if row.staff_id is None else staff_name(staff, row.staff_id),
                    "what": what,
                    "note": row.note,
                }
            )
        return entries

    def _changer(self, step: Step) -> Handler:
        async def handler(request: web.Request, signed: Signed) -> web.StreamResponse:
            return await self.change(request, signed, step)

        return handler

    async def change(self, request: web.Request, signed: Signed, step: Step) -> web.StreamResponse:
        """One step in an alert's life (STEPS), with its history row and its audit row in one
        transaction. A step the alert's state does not allow is refused with the reason; a
        change someone else made first (the state or owner the form was sent from is gone) is
        refused with what happened, and nothing is saved either way."""
        alert_id = int(request.match_info["alert_id"])
        form = await read_form(request)
        # As it will be shown: no bidi control or invisible character to reverse or hide text.
        note = shown(str(form.get("note", ""))).strip()
        member = signed.member
        found = await self._reachable(member, alert_id)
        if found is None:
            return self.not_found(signed)
        alert, _ = found
        lead_id = alert.id or 0
        try:
            _check_note(step, note)
            seen_state, seen_owner = _as_sent(form)
            await self._step_allowed(step, alert, seen_state)
            owner, kwargs = await self._new_owner(step, alert, form, me=member.id or 0)
            if seen_owner != -1 and step.name in ("take", "assign"):
                kwargs["from_owner"] = seen_owner
            from_states = (
                (seen_state,)
                if seen_state is not None and seen_state in step.from_states
                else tuple(step.from_states)
            )
            await self._save_step(
                step, alert, member, note=note, owner=owner, from_states=from_states, **kwargs
            )
        except _Refused as refused:
            return await self._alert_page(
                request,
                signed,
                lead_id,
                error=refused.message,
                typed=(step.name, note),
                status=refused.status,
            )
        raise web.HTTPSeeOther(f"/staff/alerts/{lead_id}?done={step.name}")

    async def _step_allowed(
        self, step: Step, alert: SafeguardingAlert, seen_state: str | None
    ) -> None:
        """Refuses a step the alert's state does not allow: with what happened, if it changed
        since the form was shown; an acknowledgement already made is simply done."""
        if alert.state in step.from_states:
            return
        if step.name == "acknowledge":
            raise web.HTTPSeeOther(f"/staff/alerts/{alert.id}?done=already")
        if seen_state and seen_state != alert.state:
            raise _Refused(await self._meanwhile(alert), 409)
        raise _Refused(
            f"This alert is {STATE_NAMES[alert.state].lower()}. {step.refused} Nothing was saved."
        )

    async def _new_owner(
        self, step: Step, alert: SafeguardingAlert, form: Mapping[str, Any], *, me: int
    ) -> tuple[int | None, dict[str, Any]]:
        """Who owns the alert after this step (None: unchanged), and how to write it."""
        if step.name == "take":
            if alert.owner_id == me:
                raise web.HTTPSeeOther(f"/staff/alerts/{alert.id}?done=yours")
            return me, {"owner_id": me}
        if step.name == "assign":
            to = str(form.get("to", ""))[:12]
            target = await self.repos.staff.get(staff_id=int(to)) if to.isdigit() else None
            if target is None or not target.holds("duty") or not target.active:
                raise _Refused("Choose someone on the duty team to give it to.")
            if target.id == alert.owner_id:
                raise _Refused(f"It is {target.display_name}'s already. Nothing was saved.")
            return target.id, {"owner_id": target.id}
        if step.name == "acknowledge" and alert.owner_id is None:
            # Who acknowledges an alert no one took owns it (unless someone takes it first).
            return me, {"owner_id": me, "from_owner": None}
        return None, {}

    async def _save_step(
        self,
        step: Step,
        alert: SafeguardingAlert,
        member: StaffMember,
        *,
        note: str,
        owner: int | None,
        from_states: tuple[str, ...],
        **kwargs: Any,
    ) -> None:
        """The step, its history row and its audit row, in one transaction; refused if someone
        changed the alert first."""
        lead_id, me, at = alert.id or 0, member.id or 0, self.services.clock()
        async with self.repos.db.unit_of_work():
            entry = await self.repos.alerts.change(
                alert_id=lead_id,
                staff_id=me,
                at=at,
                action=step.action,
                note=note,
                from_states=from_states,
                state=step.to_state,
                **kwargs,
            )
            if entry is not None:
                await self.repos.audit.record(
                    action=f"alert.{step.action}",
                    staff_id=me,
                    review_id=alert.review_id,
                    # That there was a note, not what it says: it may be about the child.
                    details={
                        "alert": lead_id,
                        "from": alert.state,
                        "to": entry.state,
                        "note": bool(note),
                        "role": alert_role(member),
                    }
                    | ({"owner": owner} if owner is not None else {}),
                    at=at,
                )
        if entry is None:
            now = await self.repos.alerts.get(alert_id=lead_id)
            if step.name == "acknowledge" and now.state != "new":
                raise web.HTTPSeeOther(f"/staff/alerts/{lead_id}?done=already")
            raise _Refused(await self._meanwhile(now), 409)

    async def _meanwhile(self, alert: SafeguardingAlert) -> str:
        owner = (
            staff_name({m.id or 0: m for m in await self.repos.staff.everyone()}, alert.owner_id)
            if alert.owner_id
            else "no one"
        )
        return (
            "Someone changed this alert while you were reading it: it is now "
            f"{STATE_NAMES[alert.state].lower()}, owned by {owner}. Nothing was saved; read "
            "its history below and try again if it is still needed."
        )

    # --- admin ------------------------------------------------------------------------------

    async def audit_export(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        """The whole audit trail as CSV, oldest first, with each row's hashes (so a copy can be
        checked against the chain later). The export is itself a row of the trail, written
        before anything is read: no export goes unrecorded. Rows hold no child's words."""
        async with self.repos.db.unit_of_work():
            mark = await self.repos.audit.record(action="audit.exported", staff_id=signed.member.id)
        emails = {m.id: m.email for m in await self.repos.staff.everyone()}
        out = io.StringIO()
        sheet = csv.writer(out, lineterminator="\r\n")
        sheet.writerow(
            [
                "id",
                "at",
                "staff_id",
                "staff_email",
                "action",
                "review_id",
                "details",
                "prev_hash",
                "hash",
            ]
        )
        after = 0
        while rows := await self.repos.audit.rows(after=after):
            for e in rows:
                if e.id > mark.id:
                    break
                sheet.writerow(
                    [
                        e.id,
                        e.at.astimezone(UTC).isoformat(),
                        e.staff_id if e.staff_id is not None else "",
                        emails.get(e.staff_id, "") if e.staff_id is not None else "",
                        e.action,
                        e.review_id if e.review_id is not None else "",
                        json.dumps(e.details, sort_keys=True, ensure_ascii=False),
                        e.prev_hash,
                        e.hash,
                    ]
                )
            after = rows[-1].id
            if after >= mark.id:
                break
        stamp = mark.at.astimezone(self.services.timezone).strftime("%Y-%m-%d-%H%M")
        return web.Response(
            # A byte order mark: spreadsheets then read the names' accents right.
            body=("\ufeff" + out.getvalue()).encode(),
            content_type="text/csv",
            charset="utf-8",
            headers={
                **PAGE_HEADERS,
                "Content-Disposition": f'attachment; filename="myreview-audit-{stamp}.csv"',
            },
        )

    async def staff_list(
        self,
        request: web.Request,
        signed: Signed,
        *,
        errors: list[str] | None = None,
        link: tuple[StaffMember, str] | None = None,
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> web.StreamResponse:
        return self.render(
            "staff.html",
            signed=signed,
            title="Staff",
            people=await self.repos.staff.everyone(),
            roles=STAFF_ROLES,
            errors=errors or [],
            link=link,
            values=values or {"email": "", "display_name": "", "role": "iro", "also": []},
            notice=NOTICES.get(request.query.get("done", "")),
            status=status,
        )

    async def staff_add(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        form = await read_form(request)
        values: dict[str, Any] = {
            k: str(form.get(k, ""))[:300] for k in ("email", "display_name", "role")
        }
        # The other roles they hold (checkboxes): the main one among them is simply dropped.
        values["also"] = [str(r)[:16] for r in form.getall("also", [])][: len(STAFF_ROLES) + 1]
        try:
            data = StaffMemberCreate.model_validate(
                {k: v for k, v in values.items() if k != "also"} | {"extra_roles": values["also"]}
            )
        except ValidationError as exc:
            errors = [str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()]
            return await self.staff_list(request, signed, errors=errors, values=values, status=400)
        try:
            member, link = await add_staff(
                self.repos, self.settings, data=data, by=signed.member.id
            )
        except StaffExists:
            return await self.staff_list(
                request,
                signed,
                errors=["There is already an account for that email."],
                values=values,
                status=400,
            )
        return await self.staff_list(request, signed, link=(member, link))

    async def staff_deactivate(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        staff_id = int(request.match_info["staff_id"])
        if staff_id == signed.member.id:
            return await self.staff_list(
                request,
                signed,
                errors=["You cannot deactivate your own account: ask another admin."],
                status=400,
            )
        async with self.repos.db.unit_of_work():
            if await self.repos.staff.get(staff_id=staff_id) is None:
                return self.not_found(signed)
            if await self.repos.staff.deactivate(staff_id=staff_id):
                await self.repos.audit.record(
                    action="staff.deactivated",
                    staff_id=signed.member.id,
                    details={"staff": staff_id},
                )
        raise web.HTTPSeeOther("/staff/admin/staff?done=deactivated")

    async def roles_form(
        self,
        request: web.Request,
        signed: Signed,
        *,
        values: dict[str, Any] | None = None,
        errors: list[str] | None = None,
        status: int = 200,
    ) -> web.StreamResponse:
        member = await self.repos.staff.get(staff_id=int(request.match_info["staff_id"]))
        if member is None:
            return self.not_found(signed)
        return self.render(
            "staff_roles.html",
            signed=signed,
            title=f"Roles of {member.display_name}",
            member=member,
            roles=STAFF_ROLES,
            values=values or {"role": member.role, "also": member.extra_roles},
            errors=errors or [],
            status=status,
        )

    async def roles_change(self, request: web.Request, signed: Signed) -> web.StreamResponse:
        """Their main role (their home page) and the others they hold. Audited with the roles
        before and after; the last active admin keeps the admin role. Their open sessions have
        the new roles from the next page they open (roles are read at every request)."""
        staff_id = int(request.match_info["staff_id"])
        form = await read_form(request)
        role = str(form.get("role", ""))[:16]
        also = [str(r)[:16] for r in form.getall("also", [])][: len(STAFF_ROLES) + 1]
        values = {"role": role, "also": also}
        if role not in STAFF_ROLES:
            return await self.roles_form(
                request,
                signed,
                values=values,
                errors=["Choose their main role: the page they see first."],
                status=400,
            )
        try:
            extra = normal_roles(role, also)
        except ValueError as exc:
            return await self.roles_form(
                request, signed, values=values, errors=[str(exc)], status=400
            )
        async with self.repos.db.unit_of_work():
            try:
                changed = await self.repos.staff.set_roles(
                    staff_id=staff_id, role=role, extra_roles=extra
                )
            except LastAdmin:
                changed = None
                last_admin = True
            else:
                last_admin = False
                if changed is not None and changed[0] != changed[1].roles:
                    await self.repos.audit.record(
                        action="staff.roles_changed",
                        staff_id=signed.member.id,
                        details={
                            "staff": staff_id,
                            "before": changed[0],
                            "after": changed[1].roles,
                        },
                    )
        if last_admin:
            return await self.roles_form(
                request,
                signed,
                values=values,
                errors=[
                    "They are the only active admin: someone must be able to manage staff. "
                    "Give another active member of staff the admin role first."
                ],
                status=400,
            )
        if changed is None:
            return self.not_found(signed)
        before, member = changed
        if staff_id == signed.member.id and not member.holds("admin"):
            # Their own admin role given up: the staff pages are not theirs any more.
            raise web.HTTPSeeOther("/staff")
        done = "roles" if before != member.roles else "roles_unchanged"
        raise web.HTTPSeeOther(f"/staff/admin/staff?done={done}")


def _for_reader(data: dict[str, Any], *, own: bool) -> int:
    """Takes out what the child kept for their IRO alone, unless the reader is that IRO (`own`:
    the duty team reads a review through its alert, not as its IRO, even a duty manager who is
    an IRO too); returns how many answers were taken out, so the page can say so."""
    if own:
        return 0
    kept = len(data["iro_only"])
    data["iro_only"] = []
    return kept


class _Refused(Exception):
    """A step refused, with what to tell the person on the alert's page."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def _check_note(step: Step, note: str) -> None:
    if len(note) > MAX_NOTE:
        raise _Refused(
            f"Keep the note to {MAX_NOTE} characters; nothing was saved. Put the rest in the "
            "case record."
        )
    if step.note and not note:
        raise _Refused(f"{NOTE_NEEDED[step.name]} Nothing was saved.")


def _as_sent(form: Mapping[str, Any]) -> tuple[str | None, Any]:
    """The state and owner the form was shown with (-1: not sent; None: no one owned it), to
    tell a change made meanwhile from a step the state never allowed."""
    sent_state = str(form.get("state", ""))[:16]
    raw = str(form.get("owner", "-"))[:12]
    owner: Any = None if raw == "" else int(raw) if raw.isdigit() else -1
    return (sent_state if sent_state in STATE_NAMES else None), owner


@dataclass(frozen=True)
class _SeenAlert:
    """An alert as its page shows it: its review, later messages kept with it, its history,
    and whether it was raised before the chat entered its code."""

    alert: SafeguardingAlert
    review: Review | None
    followers: list[Any]
    history: list[AlertHistory]
    before_code: bool


def _alert_steps_open(member: StaffMember, alert: SafeguardingAlert) -> dict[str, bool]:
    """Which of the alert's steps this member may take now: a duty worker those its state
    allows (and taking it, if open and not theirs); anyone a note."""
    is_duty = member.holds("duty")
    state = alert.state
    can = {name: is_duty and state in step.from_states for name, step in STEPS.items()}
    can["note"] = True
    can["take"] = is_duty and state in OPEN and alert.owner_id != member.id
    return can
