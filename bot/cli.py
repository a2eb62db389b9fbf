"""The `myreview` command: serve, demo, migrate, reviews, data keys and the safeguarding screen."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from pydantic import ValidationError

from bot import logs, reviews
from bot.app import build_parts, create_app
from bot.invite_card import chat_link, invite
from bot.jobs import purge
from bot.reviews import fill_child_keys
from bot.settings import Settings, UnsafeSetup, settings_error
from bot.staff.accounts import add_staff, new_setup_link
from dialogs.messages import CONTRACT
from storage.content import ContentError, FileContentSource
from storage.crypto import DataKeyError, SealedValueError, new_key_entry
from storage.db import private_dir
from storage.models import STAFF_ROLES, Review, ReviewCreate, StaffMember, StaffMemberCreate
from storage.repositories import Resealed, StaffExists, Verified

PLAYGROUND_HINT = (
    "To try it in Teams, open it in the Microsoft 365 Agents Playground:\n"
    "  TEAMSAPPTESTER_BROWSER=none npx --yes @microsoft/m365agentsplayground start "
    "-e http://localhost:{port}/api/messages -c msteams -p 56150\n"
    "  then browse to http://localhost:56150"
)


def _parse_when(text: str, tz: ZoneInfo) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise SystemExit(
            f"--review-at: '{text}' is not a date and time like 2026-12-08T10:00"
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


EXPORT_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Everything MyReview holds about review {{ review_id }}</title>
<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto}
table{border-collapse:collapse;margin-bottom:2rem}td,th{border:1px solid #999;padding:.3rem;
vertical-align:top;text-align:left;white-space:pre-wrap}</style></head><body>
<h1>Everything MyReview holds about review {{ review_id }}</h1>
<p>Made {{ made }}. The same data is in the JSON file beside this one.</p>
{% for table, rows in data.items() %}<h2>{{ table }} ({{ rows|length }})</h2>
{% for row in rows %}<table>{% for k, v in row.items() %}
<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>{% endfor %}{% endfor %}
</body></html>
"""


async def export_review(settings: Settings, review_id: int, out: Path) -> list[Path]:
    """Subject access: every row about the review, as JSON, and as HTML a person can read.
    The folder and files are owner-only, as they hold a child's words."""
    parts = build_parts(settings)
    try:
        await parts.db.migrate()
        data = await parts.repos.privacy.export(review_id=review_id)
        if data is None:
            raise SystemExit(f"There is no review {review_id}.")
    finally:
        await parts.db.dispose()
        parts.adapter.close()
    private_dir(out)
    made = datetime.now(UTC).isoformat(timespec="seconds")
    html = jinja2.Environment(autoescape=True).from_string(EXPORT_HTML)
    files = {
        out / f"review-{review_id}.json": json.dumps(
            {"review_id": review_id, "made": made, "data": data}, ensure_ascii=False, indent=2
        ),
        out / f"review-{review_id}.html": html.render(review_id=review_id, made=made, data=data),
    }
    for path, text in files.items():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    return list(files)


async def purge_review(settings: Settings, review_id: int) -> dict[str, int]:
    """Deletes everything held about a review, now (a young person's request): its rows, and
    the .eml files of its emails (development mail)."""
    parts = build_parts(settings)
    try:
        await parts.db.migrate()
        return await purge(parts, review_id)
    finally:
        await parts.db.dispose()
        parts.adapter.close()


async def new_code(settings: Settings, review_id: int) -> tuple[Review, str, int]:
    """Gives a review a new invite code and closes every device linked with the old one: the
    first device to link with the new code is then the child's own (bot/reviews.py, as the
    staff pages' "New code" does)."""
    parts = build_parts(settings)
    try:
        await parts.db.migrate()
        try:
            return await reviews.new_code(parts.services, review_id=review_id, by=None)
        except LookupError:
            raise SystemExit(f"There is no review {review_id}.") from None
        except reviews.ReviewNotChanged as exc:
            raise SystemExit(str(exc)) from None
    finally:
        await parts.db.dispose()
        parts.adapter.close()


async def move_review(
    settings: Settings, review_id: int, review_at: datetime, place: str | None
) -> tuple[Review, bool]:
    """A new date, time or place; a linked child is told when the app next runs its notices."""
    parts = build_parts(settings)
    try:
        await parts.db.migrate()
        try:
            return await reviews.reschedule(
                parts.services, review_id=review_id, review_at=review_at, place=place, by=None
            )
        except LookupError:
            raise SystemExit(f"There is no review {review_id}.") from None
        except reviews.ReviewNotChanged as exc:
            raise SystemExit(str(exc)) from None
    finally:
        await parts.db.dispose()
        parts.adapter.close()


async def cancel_review(settings: Settings, review_id: int, reason: str) -> Review:
    parts = build_parts(settings)
    try:
        await parts.db.migrate()
        try:
            return await reviews.cancel(parts.services, review_id=review_id, reason=reason, by=None)
        except LookupError:
            raise SystemExit(f"There is no review {review_id}.") from None
        except reviews.ReviewNotChanged as exc:
            raise SystemExit(str(exc)) from None
    finally:
        await parts.db.dispose()
        parts.adapter.close()


async def demo_code(settings: Settings) -> tuple[Review, str, bool]:
    """The demo review from an earlier `make demo`, with a new code (the old one cannot be
    shown again: only its hash is kept), or a new demo review; and whether it was kept."""
    data = demo_review(settings)
    parts = build_parts(settings)
    try:
        await parts.db.migrate()
        async with parts.db.unit_of_work():
            found = await parts.repos.reviews.open_for_iro(
                iro_email=data.iro_email, after=parts.services.clock()
            )
    finally:
        await parts.db.dispose()
        parts.adapter.close()
    if found is None or found.id is None:
        review, code = await add_review(settings, data)
        return review, code, False
    review, code, _ = await new_code(settings, found.id)
    return review, code, True


async def add_review(settings: Settings, data: ReviewCreate) -> tuple[Review, str]:
    """Create a review and its one-time invite code (shown once, stored only as a hash): the
    same function as the staff pages' "New review" (bot/reviews.py)."""
    parts = build_parts(settings)
    try:
        await parts.db.migrate()
        return await reviews.create_review(
            parts.services, data=data, by=None, secret=settings.secret_key.get_secret_value()
        )
    finally:
        await parts.db.dispose()
        parts.adapter.close()


async def staff_add(settings: Settings, data: StaffMemberCreate) -> tuple[StaffMember, str]:
    """A staff account and its one-time set-up link (audited as done from the command line)."""
    parts = build_parts(settings)
    try:
        await parts.db.migrate()
        try:
            return await add_staff(parts.repos, settings, data=data, by=None)
        except StaffExists:
            raise SystemExit(
                f"There is already an account for {data.email}. For a new set-up link (a "
                f"forgotten password, a new phone): myreview staff link --email {data.email}"
            ) from None
    finally:
        await parts.db.dispose()
        parts.adapter.close()


async def staff_link(settings: Settings, email: str) -> tuple[StaffMember, str]:
    """A new set-up link for an existing, active account."""
    parts = build_parts(settings)
    try:
        await parts.db.migrate()
        async with parts.db.unit_of_work():
            member = await parts.repos.staff.by_email(email=email)
            if member is None or not member.active:
                raise SystemExit(f"There is no active staff account for {email.strip()}.")
            link = await new_setup_link(parts.repos, settings, staff_id=member.id or 0, by=None)
        return member, link
    finally:
        await parts.db.dispose()
        parts.adapter.close()


async def audit_verify(settings: Settings) -> Verified:
    parts = build_parts(settings)
    try:
        await parts.db.migrate()
        return await parts.repos.audit.verify()
    finally:
        await parts.db.dispose()
        parts.adapter.close()


async def demo_staff_link(settings: Settings) -> str:
    """A set-up link for the demo review's IRO, whose account is made the first time: opening
    it sets a password and signs them in to see Sam's review. Each run gives a new link (only
    a link's hash is kept, as with invite codes)."""
    data = demo_review(settings)
    parts = build_parts(settings)
    try:
        await parts.db.migrate()
        member = await parts.repos.staff.by_email(email=data.iro_email)
        if member is None:
            _, link = await add_staff(
                parts.repos,
                settings,
                data=StaffMemberCreate(
                    email=data.iro_email, display_name=data.iro_name, role="iro"
                ),
                by=None,
            )
            return link
        async with parts.db.unit_of_work():
            return await new_setup_link(parts.repos, settings, staff_id=member.id or 0, by=None)
    finally:
        await parts.db.dispose()
        parts.adapter.close()


def tell_invite(settings: Settings, review: Review, code: str, card: Path | None) -> None:
    """Prints the young person's link and the text to forward; writes the card if asked."""
    content = FileContentSource(settings.content_dir, required=CONTRACT).current()
    made = invite(settings, content, review, code)
    print(f"Link for the young person: {made.link}")
    print(f"Text to forward: {made.forward_text}")
    if card is not None:
        # It holds the code: readable by its owner only until they print or send it.
        card.parent.mkdir(parents=True, exist_ok=True)
        card.write_text(made.card_html, encoding="utf-8")
        card.chmod(0o600)
        print(f"Invite card (to print, or send to the young person): {card}")


def demo_review(settings: Settings) -> ReviewCreate:
    tz = ZoneInfo(settings.timezone)
    when = datetime.combine(date.today() + timedelta(days=14), time(10, 0), tz)
    return ReviewCreate(
        first_name="Sam",
        age=12,
        is_uasc=False,
        iro_name="Jo Demo",
        iro_email="jo.demo@example.org",
        review_at=when.astimezone(UTC),
    )


def serve(settings: Settings) -> None:
    app = create_app(settings)
    listening = f"MyReview is listening on http://{settings.host}:{settings.port}/api/messages"
    # Said once start-up has passed its checks (a missing data key stops it before).
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        access_log_class=logs.AccessLogger,
        print=lambda _: print(listening, flush=True),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="myreview", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the bot on /api/messages")
    sub.add_parser("demo", help="serve the bot with a new demo review and print its invite code")
    sub.add_parser("migrate", help="bring the database schema up to date")
    review = sub.add_parser("review", help="manage reviews").add_subparsers(
        dest="action", required=True
    )
    add = review.add_parser("add", help="create a review and print its one-time invite code")
    add.add_argument("--first-name", required=True)
    add.add_argument("--preferred-name")
    age = add.add_mutually_exclusive_group(required=True)
    age.add_argument("--age", type=int)
    age.add_argument("--date-of-birth", type=date.fromisoformat, help="YYYY-MM-DD")
    add.add_argument(
        "--case-reference",
        help="the council's case reference (optional): it links the child's reviews, so what "
        "they told us about how to speak with them is offered back at the next",
    )
    add.add_argument("--uasc", action="store_true", help="unaccompanied asylum-seeking child")
    add.add_argument("--iro-name", required=True)
    add.add_argument("--iro-email", required=True)
    add.add_argument("--review-at", required=True, help="e.g. 2026-12-08T10:00 (local time)")
    add.add_argument("--language", help="language hint, e.g. ar")
    add.add_argument("--place", help="where the review is held, told to the child (optional)")
    add.add_argument(
        "--easy-read",
        action="store_true",
        help="ask on the easy path (short questions, pictures, tap to answer), any age",
    )
    card_help = "also write the invite card (HTML, to print or send) to this file"
    add.add_argument("--card", type=Path, help=card_help)
    reissue = review.add_parser(
        "new-code", help="give a review a new invite code; closes every device linked before"
    )
    reissue.add_argument("--review-id", type=int, required=True)
    reissue.add_argument("--card", type=Path, help=card_help)
    move = review.add_parser(
        "move", help="a new date, time or place for a review; a linked young person is told"
    )
    move.add_argument("--review-id", type=int, required=True)
    move.add_argument("--review-at", required=True, help="e.g. 2026-12-08T10:00 (local time)")
    move.add_argument("--place", help="where it is held now (optional; none if left out)")
    called_off = review.add_parser(
        "cancel", help="cancel a review; its code stops working and a linked young person is told"
    )
    called_off.add_argument("--review-id", type=int, required=True)
    called_off.add_argument("--reason", required=True, help="for staff; never told to the child")
    purge = review.add_parser(
        "purge", help="delete everything held about a review (a young person's request)"
    )
    purge.add_argument("--review-id", type=int, required=True)
    purge.add_argument("--yes", action="store_true", help="do not ask to confirm")
    export = review.add_parser(
        "export", help="everything held about a review, as JSON and readable HTML"
    )
    export.add_argument("--review-id", type=int, required=True)
    export.add_argument("--out", type=Path, required=True, help="folder to write the files to")
    staff = sub.add_parser("staff", help="staff accounts for /staff").add_subparsers(
        dest="action", required=True
    )
    staff_new = staff.add_parser("add", help="add a member of staff; prints a one-time set-up link")
    staff_new.add_argument("--email", required=True)
    staff_new.add_argument("--name", required=True, help="their name as colleagues know it")
    staff_new.add_argument(
        "--role", required=True, choices=list(STAFF_ROLES), help="their main role: their home page"
    )
    staff_new.add_argument(
        "--also",
        action="append",
        default=[],
        choices=list(STAFF_ROLES),
        metavar="ROLE",
        help="another role they hold besides (repeat for more), e.g. --role duty --also admin",
    )
    staff_again = staff.add_parser(
        "link", help="a new set-up link (a forgotten password, a new phone)"
    )
    staff_again.add_argument("--email", required=True)
    audit = sub.add_parser("audit", help="the staff audit trail").add_subparsers(
        dest="action", required=True
    )
    audit.add_parser("verify", help="check no audit row was changed or taken out (exit 1 if so)")
    keys = sub.add_parser("keys", help="the data keys that seal children's words").add_subparsers(
        dest="action", required=True
    )
    keys.add_parser("new", help="print a new key entry for MYREVIEW_DATA_KEYS")
    rotate = keys.add_parser(
        "rotate",
        help="seal every stored value with the first key in MYREVIEW_DATA_KEYS (safe while the "
        "bot runs)",
    )
    rotate.add_argument("--batch", type=int, default=500, help="rows per transaction")
    guard = sub.add_parser("safeguarding", help="the safeguarding screen").add_subparsers(
        dest="action", required=True
    )
    train = guard.add_parser(
        "train", help="train the model from content/safeguarding/examples into .../model"
    )
    train.add_argument("--content-dir", type=Path, default=Path("content"))
    check = guard.add_parser("check", help="show what the screen makes of a message")
    check.add_argument("text")
    check.add_argument("--content-dir", type=Path, default=Path("content"))
    wording = sub.add_parser("content", help="the wording officers edit").add_subparsers(
        dest="action", required=True
    )
    content_check = wording.add_parser(
        "check",
        help="validate content and list, per language, wording missing or older than the English",
    )
    content_check.add_argument("--content-dir", type=Path, default=Path("content"))
    marked = wording.add_parser(
        "translated", help="record that a language's wording is up to date with today's English"
    )
    marked.add_argument("--locale", required=True)
    marked.add_argument("--key", action="append", help="only these keys (repeat); default all")
    marked.add_argument("--content-dir", type=Path, default=Path("content"))
    return parser


def _run_serve(settings: Settings, args: argparse.Namespace) -> None:
    serve(settings)


def _run_migrate(settings: Settings, args: argparse.Namespace) -> None:
    asyncio.run(_migrate(settings))
    print("Database is up to date.")


def _run_demo(settings: Settings, args: argparse.Namespace) -> None:
    review_row, code, reused = asyncio.run(demo_code(settings))
    how = "kept (answers and all), with a new code" if reused else "created"
    staff_link_url = asyncio.run(demo_staff_link(settings))
    print(f"Open {chat_link(settings, code)} to chat as a young person.")
    print(f"Demo review {review_row.id} for Sam (IRO Jo Demo) {how}.")
    print(f"Invite code: {code}")
    print(
        f"Open {staff_link_url} to sign in as the IRO, Jo Demo (choose a password; "
        "then see Sam's review at /staff)."
    )
    print(PLAYGROUND_HINT.format(port=settings.port))
    print(f"The IRO's emails land in {settings.outbox_dir}/ as .eml files.", flush=True)
    serve(settings)


def _run_review_add(settings: Settings, args: argparse.Namespace) -> None:
    tz = ZoneInfo(settings.timezone)
    try:
        data = ReviewCreate.model_validate(
            {
                "first_name": args.first_name,
                "preferred_name": args.preferred_name,
                "age": args.age,
                "date_of_birth": args.date_of_birth,
                "case_reference": args.case_reference,
                "is_uasc": args.uasc,
                "iro_name": args.iro_name,
                "iro_email": args.iro_email,
                "review_at": _parse_when(args.review_at, tz),
                "language_hint": args.language,
                "place": args.place,
                "easy_read": args.easy_read,
            }
        )
    except ValidationError as exc:
        raise SystemExit(f"The review is not valid:\n{exc}") from exc
    review_row, code = asyncio.run(add_review(settings, data))
    print(f"Review {review_row.id} created for {review_row.first_name}.")
    print(f"Invite code: {code}")
    tell_invite(settings, review_row, code, args.card)
    last_day = (review_row.invite_expires_at.astimezone(tz) - timedelta(seconds=1)).date()
    print(f"Valid until the end of {last_day:%-d %B %Y}. It is shown once only.")
    if review_row.place:
        print(f"The young person is told the review is at: {review_row.place}")
    if review_row.easy_read:
        print("They will be asked on the easy path (short questions, pictures, taps).")


def _run_review_new_code(settings: Settings, args: argparse.Namespace) -> None:
    review_row, code, closed = asyncio.run(new_code(settings, args.review_id))
    print(f"New invite code for review {review_row.id}: {code}")
    tell_invite(settings, review_row, code, args.card)
    print(
        f"The old code no longer works, and {closed} device(s) linked with it are closed."
        " The first device to enter this code can see and change the answers."
    )


def _run_review_move(settings: Settings, args: argparse.Namespace) -> None:
    tz = ZoneInfo(settings.timezone)
    review_row, changed = asyncio.run(
        move_review(settings, args.review_id, _parse_when(args.review_at, tz), args.place)
    )
    if not changed:
        print(f"Review {review_row.id} is already then and there: nothing changed.")
    else:
        at = review_row.review_at.astimezone(tz)
        print(f"Review {review_row.id} is now on {at:%-d %B %Y at %H:%M}.")
        print("A young person linked to it is told, in their language.")


def _run_review_cancel(settings: Settings, args: argparse.Namespace) -> None:
    review_row = asyncio.run(cancel_review(settings, args.review_id, args.reason))
    print(f"Review {review_row.id} is cancelled; its code no longer works.")
    print("A young person linked to it is told kindly (not the reason).")


def _run_review_purge(settings: Settings, args: argparse.Namespace) -> None:
    if not args.yes:
        _confirm_purge(args.review_id)
    counts = asyncio.run(purge_review(settings, args.review_id))
    print(f"Deleted: {', '.join(f'{n} {t}' for t, n in counts.items())}.")


def _run_keys_rotate(settings: Settings, args: argparse.Namespace) -> None:
    before, done, after = asyncio.run(rotate_keys(settings, batch=args.batch))
    print(f"Under an older key or not yet sealed: {sum(before.values())} value(s).")
    print(f"Sealed anew: {done.resealed}; rewritten by the bot meanwhile: {done.skipped}.")
    if after:
        left = ", ".join(f"{n} in {c}" for c, n in after.items())
        print(f"Still to do (written while this ran; run it again): {left}.")
    else:
        print("Every value is under the current key: older keys can be removed.")


def _run_staff_add(settings: Settings, args: argparse.Namespace) -> None:
    try:
        member_data = StaffMemberCreate.model_validate(
            {
                "email": args.email,
                "display_name": args.name,
                "role": args.role,
                "extra_roles": args.also,
            }
        )
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise SystemExit(f"The staff member is not valid: {problems}") from None
    member, link = asyncio.run(staff_add(settings, member_data))
    also = f", also {', '.join(member.extra_roles)}" if member.extra_roles else ""
    print(f"Staff member {member.id} added: {member.display_name} ({member.role}{also}).")
    if not settings.staff_local_sign_in:
        print("They sign in with their council Microsoft account (MyReview passwords are off).")
        return
    print(f"Set-up link (works once, for 24 hours; shown once): {link}")


def _run_staff_link(settings: Settings, args: argparse.Namespace) -> None:
    if not settings.staff_local_sign_in:
        raise SystemExit(
            "MyReview passwords are turned off (MYREVIEW_STAFF_LOCAL_SIGN_IN=false): staff sign "
            "in with their council Microsoft account, so there is no set-up link to give."
        )
    member, link = asyncio.run(staff_link(settings, args.email))
    print(f"Set-up link for {member.display_name} (works once, for 24 hours): {link}")
    print("Using it sets a new password (and authenticator app) and ends their sessions.")


def _run_audit_verify(settings: Settings, args: argparse.Namespace) -> None:
    found = asyncio.run(audit_verify(settings))
    if not found.ok:
        print(
            f"Audit trail BROKEN at row {found.broken_at}: {found.why}. "
            f"{found.rows} row(s) before it are intact."
        )
        raise SystemExit(1)
    print(f"Audit trail intact: {found.rows} row(s); last hash {found.head}.")


def _run_review_export(settings: Settings, args: argparse.Namespace) -> None:
    paths = asyncio.run(export_review(settings, args.review_id, args.out))
    print("Written: " + ", ".join(str(p) for p in paths))


# What each command does, once its settings are read: (command, action) -> function.
COMMANDS: dict[tuple[str, str | None], Callable[[Settings, argparse.Namespace], None]] = {
    ("serve", None): _run_serve,
    ("migrate", None): _run_migrate,
    ("demo", None): _run_demo,
    ("review", "add"): _run_review_add,
    ("review", "new-code"): _run_review_new_code,
    ("review", "move"): _run_review_move,
    ("review", "cancel"): _run_review_cancel,
    ("review", "purge"): _run_review_purge,
    ("keys", "rotate"): _run_keys_rotate,
    ("staff", "add"): _run_staff_add,
    ("staff", "link"): _run_staff_link,
    ("audit", "verify"): _run_audit_verify,
    ("review", "export"): _run_review_export,
}


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)

    if args.command == "keys" and args.action == "new":
        print(new_key_entry())
        return
    if args.command == "safeguarding":
        # Needs no settings or secrets: it reads and writes content only.
        try:
            safeguarding_command(args.action, args.content_dir, getattr(args, "text", ""))
        except ContentError as exc:
            raise SystemExit(f"Content is not valid:\n{exc}") from exc
        return

    if args.command == "content":
        try:
            content_command(args.action, args.content_dir, args)
        except ContentError as exc:
            raise SystemExit(f"Content is not valid:\n{exc}") from exc
        return

    try:
        settings = Settings()
    except ValidationError as exc:
        # Without the exception's own text, which repeats the values it was given.
        raise SystemExit(settings_error(exc)) from None
    logs.configure(settings.log_level)
    try:
        COMMANDS[(args.command, getattr(args, "action", None))](settings, args)
    except ContentError as exc:
        raise SystemExit(f"Content is not valid:\n{exc}") from exc
    except UnsafeSetup as exc:
        raise SystemExit(f"Not starting: {exc}") from exc
    except (DataKeyError, SealedValueError) as exc:
        raise SystemExit(f"Data keys: {exc}") from None


def _confirm_purge(review_id: int) -> None:
    """Asks at the terminal; with none (a script, a pipe, a scheduler) says to use --yes."""
    if not sys.stdin.isatty():
        raise SystemExit(
            f"Nothing deleted: there is no terminal to confirm on. To delete everything held "
            f"about review {review_id} without being asked, run it again with --yes."
        )
    try:
        answer = input(f"Delete everything held about review {review_id}? Type yes: ")
    except EOFError:
        answer = ""
    if answer.strip().lower() != "yes":
        raise SystemExit("Nothing deleted.")


def content_command(action: str, content_dir: Path, args: argparse.Namespace) -> None:
    """`check`: exits 1 when content is not valid, listing every problem with its file, line and
    fix, or when wording is missing or stale, listing each key with its English; `translated`:
    records today's English for a language."""
    from dialogs.messages import CONTRACT
    from storage.content import load_content
    from storage.translations import gaps, mark_translated

    # Checked against the code as the app checks it at start-up: what passes here starts.
    content = load_content(content_dir, required=CONTRACT)
    if action == "translated":
        try:
            count = mark_translated(content, args.locale, args.key)
        except KeyError:
            raise SystemExit(
                f"No language '{args.locale}' besides English in {content_dir}."
            ) from None
        print(f"{args.locale}: {count} keys marked up to date with today's English.")
        return
    print(f"Content is valid ({content_dir}).")
    found = gaps(content)
    english = content.locales["en"]
    for locale, g in found.items():
        name = content.locales[locale].meta.english_name
        if not g:
            print(f"{name} ({locale}): up to date.")
            continue
        print(
            f"{name} ({locale}): {len(g.missing)} missing, {len(g.stale)} older than the English."
        )
        for label, keys in (("missing", g.missing), ("English changed", g.stale)):
            for key in keys:
                now = english.strings.get(key, english.strings.get(f"{key}.any", ""))
                print(f"  {label}: {key} (English now: {str(now)[:70]!r})")
    if any(found.values()):
        print(
            "Until translated, the chat shows the English there, with a note (README: Content). "
            "After translating, run `myreview content translated --locale <code>`."
        )
        raise SystemExit(1)


def safeguarding_command(action: str, content_dir: Path, text: str) -> None:
    from dialogs.safeguarding import SafeguardingMatcher
    from dialogs.safeguarding_model import Screen, train, training_set
    from storage.content import load_content

    content = load_content(content_dir)
    if action == "check":
        screen = Screen.for_content(content)
        print(f"phrases: {screen.phrases.categories(text) or 'nothing'}")
        for category, score in sorted(screen.model.scores(text).items(), key=lambda x: -x[1]):
            bar = screen.model.thresholds[category]
            mark = "  <- flagged" if score >= bar else ""
            print(f"model: {category:17} {score:.3f} (threshold {bar:.2f}){mark}")
        print(f"screen: {screen.categories(text) or 'nothing'}")
        return
    examples = training_set(content)
    phrases = SafeguardingMatcher(content.safeguarding)
    trained = train(examples, phrase_hits=lambda t: bool(phrases.categories(t)))
    out = content.safeguarding_dir / "model"
    trained.save(out)
    print(f"Model {trained.meta['version']} written to {out}/. On validation (out of fold):")
    for layer, table in trained.meta["validation"].items():
        if not isinstance(table, dict):
            continue
        for locale, f in table.items():
            print(
                f"  {layer:17} {locale}: recall {f['recall']:.1%} of {f['disclosures']}, "
                f"false alarms {f['false_alarms']:.1%} of {f['ordinary']}"
            )
    print("Thresholds: " + ", ".join(f"{c} {t:.2f}" for c, t in trained.meta["thresholds"].items()))


async def rotate_keys(
    settings: Settings, *, batch: int
) -> tuple[dict[str, int], Resealed, dict[str, int]]:
    """Seals every stored value with the current key, in batches, beside a running bot."""
    parts = build_parts(settings)
    try:
        await parts.db.migrate()
        before = await parts.repos.sealed.count_stale()
        done = await parts.repos.sealed.reseal_all(batch=batch)
        return before, done, await parts.repos.sealed.count_stale()
    finally:
        await parts.db.dispose()
        parts.adapter.close()


async def _migrate(settings: Settings) -> None:
    parts = build_parts(settings)
    try:
        await parts.db.migrate()
        # Rows written before encryption are sealed as soon as the schema can hold them.
        await parts.repos.sealed.reseal_all()
        # Reviews made before a child's reviews were linked get their child key.
        await fill_child_keys(parts.repos, secret=settings.secret_key.get_secret_value())
    finally:
        await parts.db.dispose()


if __name__ == "__main__":
    main(sys.argv[1:])
