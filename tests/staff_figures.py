"""Figures for the staff workspace (issue 18), printed, never asserted: each page's time (p50,
p95, max) and SQL statements, for an IRO holding 70 reviews in a database of 10,000 reviews.

    .venv/bin/python tests/staff_figures.py [--reviews 10000] [--requests 60]

(`make bench` runs it too, through tests/benchmark.py.) The database is an SQLite file seeded
through the repositories, in transactions of 500 reviews: 143 IROs, each review invited,
linked, part answered or sent (answers of every kind, as the chat stores them: the questions
each child's chat asks, from content/), one in 50 with a safeguarding alert. Pages are opened
over loopback HTTP through the real app, signed in as the IRO and as a duty worker; the first
few requests of each page warm it up and are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import PARTS, Parts, build_parts, create_app  # noqa: E402
from bot.delivery.summary import summary_data  # noqa: E402
from dialogs.flow import facts_for, first_unanswered  # noqa: E402
from storage.content import Content  # noqa: E402
from storage.models import (  # noqa: E402
    Answer,
    OutboxMessageCreate,
    ReviewCreate,
    SafeguardingAlertBase,
    StaffMemberCreate,
)
from tests.conftest import LONDON, make_settings  # noqa: E402
from tests.staff import PASSWORD, hidden  # noqa: E402

IRO = "jo.smith@council.example"
DUTY = "dee.duty@council.example"
BATCH = 500
WARM_UP = 3
WORDS = [
    "I want to see my brother more often, at weekends if I can",
    "school is ok but maths is hard and I want help with it",
    "not my uncle",
    "can we do it after school please",
    "I like living here, the dog is called Biscuit",
]


def made_answers(content: Content, review: Any, rng: random.Random, upto: int) -> dict[str, Any]:
    """Answers as the chat stores them, question by question in the order it asks them, up to
    `upto` of them (fewer if the chat asks fewer)."""
    answers: dict[str, Answer] = {}
    for _ in range(upto):
        facts = facts_for(content, review, answers, tz=LONDON, locale="en")
        step = first_unanswered(content, facts)
        if step is None:
            break
        q = step.question
        options = [o.id for o in q.options]
        if q.type == "language":
            kind, value = "choice", "en"
        elif q.type == "single":
            kind, value = "choice", rng.choice(options)
        elif q.type == "multi":
            kind, value = "choices", rng.sample(options, min(2, len(options)))
        elif q.type == "yesno":
            kind, value = "yesno", rng.random() < 0.5
        else:
            kind, value = "text", rng.choice(WORDS)
        visibility = ("iro" if rng.random() < 0.2 else "everyone") if kind == "text" else None
        answers[step.key] = Answer(
            review_id=0, question_id=step.key, kind=kind, value=value, visibility=visibility
        )
    return answers


async def seed(parts: Parts, *, reviews: int, iro_reviews: int) -> dict[str, Any]:
    """The database: `reviews` reviews, `iro_reviews` of them the IRO's; returns one of the
    IRO's sent reviews with an alert, and counts. Every summary and alert has its email, sent
    (as in a real database, and so the app's start-up finds nothing to send)."""
    repos = parts.repos
    content = parts.services.content_source.current()
    await parts.db.migrate()
    rng = random.Random(18)
    now = datetime.now(UTC)
    others = [f"iro{i:03d}@council.example" for i in range(142)]
    counts = {"answers": 0, "alerts": 0, "links": 0}
    sample: dict[str, Any] = {}
    done = 0
    while done < reviews:
        async with repos.db.unit_of_work():
            for i in range(done, min(done + BATCH, reviews)):
                mine = i % (reviews // iro_reviews) == 0 and i // (reviews // iro_reviews) < (
                    iro_reviews
                )
                review = await repos.reviews.create(
                    data=ReviewCreate(
                        first_name=rng.choice(["Sam", "Alex", "Kim", "Robin", "Jamie", "Ali"]),
                        age=rng.randint(8, 17),
                        iro_name="Jo Smith" if mine else "Another IRO",
                        iro_email=IRO if mine else others[i % len(others)],
                        # From 60 days ago to 120 days ahead: some held, most to come.
                        review_at=now + timedelta(days=rng.uniform(-60, 120)),
                    ),
                    invite_code_hash=f"bench-{i:06d}",
                    invite_expires_at=now + timedelta(days=60),
                    content_version=content.version,
                )
                rid = review.id or 0
                state = rng.random()
                if state < 0.35:
                    continue  # invited: no chat yet
                await repos.links.link(
                    review_id=rid,
                    channel_id="msteams",
                    user_id=f"user-{i}",
                    conversation_id=f"conversation-{i}",
                    conversation_reference={},
                )
                counts["links"] += 1
                if state < 0.5:
                    continue  # linked, nothing answered yet
                sent = state > 0.8
                answers = made_answers(content, review, rng, 60 if sent else rng.randint(1, 15))
                for a in answers.values():
                    a.review_id = rid
                await repos.answers.add_many(answers=list(answers.values()))
                counts["answers"] += len(answers)
                if sent:
                    await repos.reviews.mark_submitted(review_id=rid, at=now)
                    # What the summary showed, kept for the next update (as Send keeps it).
                    shown = summary_data(
                        content=content,
                        review=review,
                        answers=answers,
                        tz=LONDON,
                        updated=False,
                        sent_at=now,
                    )
                    await repos.reviews.remember_sent(review_id=rid, answers=shown["snapshot"])
                    await sent_email(repos, f"summary:{rid}:1", rid, now)
                if rng.random() < 0.02 or (mine and sent and "review_id" not in sample):
                    alert, _ = await repos.alerts.create_once(
                        data=SafeguardingAlertBase(
                            categories=[rng.choice(["being_hurt", "self_harm", "abuse"])],
                            channel_id="msteams",
                            conversation_id=f"conversation-{i}",
                        ),
                        review_id=rid,
                        message="he hits me when nobody is there",
                        activity_id=f"activity-{i}",
                    )
                    counts["alerts"] += 1
                    await sent_email(repos, f"alert:{alert.id}", rid, now)
                    if mine and sent and "review_id" not in sample:
                        sample = {"review_id": rid, "alert_id": alert.id}
        done = min(done + BATCH, reviews)
    return {**counts, **sample}


async def sent_email(repos: Any, key: str, review_id: int, at: datetime) -> None:
    kind = key.split(":")[0]
    message = await repos.outbox.enqueue(
        message=OutboxMessageCreate(
            kind=kind,
            idempotency_key=key,
            recipients=[IRO],
            subject=f"MyReview {kind}",
            text_body="(sent)",
            urgent=kind == "alert",
        ),
        review_id=review_id,
    )
    await repos.outbox.mark_sent(message_id=message.id or 0, at=at)


class Statements:
    """Counts the SQL statements the app sends."""

    def __init__(self, parts: Parts) -> None:
        self.n = 0
        event.listen(parts.db.engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *args: Any) -> None:
        self.n += 1


async def sign_in(client: TestClient, email: str) -> None:
    form = hidden(await (await client.get("/staff/sign-in")).text(), "form_token")
    response = await client.post(
        "/staff/sign-in",
        data={"form_token": form, "email": email, "password": PASSWORD, "code": ""},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()


async def timed(
    client: TestClient, path: str, statements: Statements, requests: int
) -> dict[str, float]:
    times: list[float] = []
    cpus: list[float] = []
    queries: list[int] = []
    for i in range(WARM_UP + requests):
        before = statements.n
        t0, c0 = time.perf_counter(), time.process_time()
        response = await client.get(path)
        body = await response.read()
        took, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert response.status == 200, (path, response.status)
        if i >= WARM_UP:
            times.append(took * 1000)
            cpus.append(cpu * 1000)
            queries.append(statements.n - before)
    q = statistics.quantiles(times, n=100, method="inclusive")
    return {
        "p50": q[49],
        "p95": q[94],
        "max": max(times),
        # This process's CPU for the request (server and client): what a busy machine's other
        # work does not change.
        "cpu": statistics.median(cpus),
        "sql": statistics.median(queries),
        "kb": len(body) / 1024,
    }


async def staff_page_figures(
    reviews: int = 10_000, requests: int = 60, keep: Path | None = None
) -> None:
    """`keep`: a directory to seed once and reuse (its database is seeded if it has none)."""
    from bot.staff import credentials
    from bot.staff.accounts import add_staff

    with tempfile.TemporaryDirectory() as scratch:
        tmp = keep or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        settings = make_settings(tmp, outbox_poll_seconds=3600)
        seeded_file = tmp / "seeded.json"
        if seeded_file.exists():
            seeded = json.loads(seeded_file.read_text())
        else:
            # Seeded before the app starts, so its background jobs do not run meanwhile.
            seeding_parts = build_parts(settings)
            t0 = time.perf_counter()
            seeded = await seed(seeding_parts, reviews=reviews, iro_reviews=70)
            seeded["seconds"] = time.perf_counter() - t0
            seeded["reviews"] = reviews
            for email, role in ((IRO, "iro"), (DUTY, "duty")):
                member, _ = await add_staff(
                    seeding_parts.repos,
                    settings,
                    data=StaffMemberCreate(email=email, display_name=email, role=role),
                    by=None,
                )
                await seeding_parts.repos.staff.set_credentials(
                    staff_id=member.id or 0,
                    password_hash=await credentials.hash_password(PASSWORD),
                    totp_secret=None,
                )
            await seeding_parts.db.dispose()
            seeding_parts.adapter.close()
            seeded_file.write_text(json.dumps(seeded))
        seeding, reviews = seeded["seconds"], seeded["reviews"]
        async with TestClient(TestServer(create_app(settings))) as client:
            parts = client.app[PARTS]
            size = sum(f.stat().st_size for f in tmp.glob("myreview.db*")) / 1e6
            mine = len(await parts.repos.reviews.for_iro(iro_email=IRO))
            print(
                f"staff pages: an IRO with {mine} reviews in a database of {reviews:,} "
                f"({seeded['answers']:,} answers, {seeded['links']:,} linked chats, "
                f"{seeded['alerts']} alerts; {size:.0f} MB SQLite; seeded in {seeding:.0f} s); "
                f"{requests} requests a page after {WARM_UP} to warm up"
            )
            statements = Statements(parts)
            rid, aid = seeded["review_id"], seeded["alert_id"]
            pages = [
                (IRO, "the IRO's board", "/staff"),
                (IRO, "a review", f"/staff/reviews/{rid}"),
                (IRO, "its summary", f"/staff/reviews/{rid}/summary"),
                (DUTY, "the duty alert board", "/staff"),
                (DUTY, "an alert", f"/staff/alerts/{aid}"),
            ]
            signed_in_as = None
            for who, name, path in pages:
                if who != signed_in_as:
                    client.session.cookie_jar.clear()
                    await sign_in(client, who)
                    signed_in_as = who
                f = await timed(client, path, statements, requests)
                print(
                    f"  {name + ' (' + path + ')':<42} p50 {f['p50']:6.1f} ms, "
                    f"p95 {f['p95']:6.1f} ms, max {f['max']:6.1f} ms (CPU {f['cpu']:.1f} ms); "
                    f"{f['sql']:.0f} SQL statements; {f['kb']:.0f} KB"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reviews", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--keep", type=Path, help="seed this directory once, and reuse it")
    args = parser.parse_args()
    asyncio.run(staff_page_figures(args.reviews, args.requests, args.keep))


if __name__ == "__main__":
    main()
