"""The `myreview` command: serve, demo, migrate, and review add."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError

from bot import logs
from bot.app import build_parts, create_app
from bot.settings import Settings
from storage.content import ContentError
from storage.models import Review, ReviewCreate

PLAYGROUND_HINT = (
    "Open it in the Microsoft 365 Agents Playground:\n"
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


async def add_review(settings: Settings, data: ReviewCreate) -> tuple[Review, str]:
    """Create a review and its one-time invite code (shown once, stored only as a hash)."""
    parts = build_parts(settings)
    try:
        await parts.db.migrate()
        code = parts.services.codes.new()
        tz = ZoneInfo(settings.timezone)
        last_day = data.review_at.astimezone(tz).date() + timedelta(days=1)
        expires = datetime.combine(last_day + timedelta(days=1), time.min, tz).astimezone(UTC)
        review = await parts.repos.reviews.create(
            data=data,
            invite_code_hash=parts.services.codes.hash(code),
            invite_expires_at=expires,
            # The consultation keeps the wording it started with, when content is versioned.
            content_version=parts.services.content_source.current().version,
        )
        return review, code
    finally:
        await parts.db.dispose()
        parts.adapter.close()


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
    print(
        f"MyReview is listening on http://{settings.host}:{settings.port}/api/messages", flush=True
    )
    web.run_app(app, host=settings.host, port=settings.port, print=None)


def main(argv: list[str] | None = None) -> None:
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
    add.add_argument("--uasc", action="store_true", help="unaccompanied asylum-seeking child")
    add.add_argument("--iro-name", required=True)
    add.add_argument("--iro-email", required=True)
    add.add_argument("--review-at", required=True, help="e.g. 2026-12-08T10:00 (local time)")
    add.add_argument("--language", help="language hint, e.g. ar")
    args = parser.parse_args(argv)

    try:
        settings = Settings()
    except ValidationError as exc:
        raise SystemExit(f"Settings are not valid:\n{exc}") from exc
    logs.configure(settings.log_level)
    try:
        if args.command == "serve":
            serve(settings)
        elif args.command == "migrate":
            asyncio.run(_migrate(settings))
            print("Database is up to date.")
        elif args.command == "demo":
            review_row, code = asyncio.run(add_review(settings, demo_review(settings)))
            print(f"Demo review {review_row.id} for Sam (IRO Jo Demo) created.")
            print(f"Invite code: {code}")
            print(PLAYGROUND_HINT.format(port=settings.port))
            print(f"The IRO's emails land in {settings.outbox_dir}/ as .eml files.", flush=True)
            serve(settings)
        elif args.command == "review" and args.action == "add":
            tz = ZoneInfo(settings.timezone)
            try:
                data = ReviewCreate.model_validate(
                    {
                        "first_name": args.first_name,
                        "preferred_name": args.preferred_name,
                        "age": args.age,
                        "date_of_birth": args.date_of_birth,
                        "is_uasc": args.uasc,
                        "iro_name": args.iro_name,
                        "iro_email": args.iro_email,
                        "review_at": _parse_when(args.review_at, tz),
                        "language_hint": args.language,
                    }
                )
            except ValidationError as exc:
                raise SystemExit(f"The review is not valid:\n{exc}") from exc
            review_row, code = asyncio.run(add_review(settings, data))
            print(f"Review {review_row.id} created for {review_row.first_name}.")
            print(f"Invite code: {code}")
            last_day = (review_row.invite_expires_at.astimezone(tz) - timedelta(seconds=1)).date()
            print(f"Valid until the end of {last_day:%-d %B %Y}. It is shown once only.")
    except ContentError as exc:
        raise SystemExit(f"Content is not valid:\n{exc}") from exc


async def _migrate(settings: Settings) -> None:
    parts = build_parts(settings)
    try:
        await parts.db.migrate()
    finally:
        await parts.db.dispose()


if __name__ == "__main__":
    main(sys.argv[1:])
