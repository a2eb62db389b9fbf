"""The crash test: the real server as a subprocess, young people answering at once over HTTP,
`kill -9` at random moments, a restart on the same database each time, and every unanswered
activity resent by its channel with the same id and body. Two runs, each under 30 s: 15 young
people with three kills while they answer, and 15 with two kills while their summaries go out
to a real SMTP server (aiosmtpd).

It asserts, reading the SQLite file itself afterwards:
- every answer the bot acknowledged (replied to) is stored under the question the child was
  looking at, and none is stored under another question (misfiled);
- every consultation can finish (the review is sent), with exactly one summary queued per review;
- no resent activity is left without a reply;
- every summary reaches the mail server within a minute of the last child finishing (a lease
  left by a killed process is released at restart, not after its 5 minutes), and no more
  messages arrive twice than there were kills (SMTP's window: the one message on its way).

Run it alone with `pytest -s -p no:cacheprovider tests/test_crash.py` to see the figures.
CRASH_ROOT=<checkout> runs another checkout's server (e.g. a worktree of an older commit);
CRASH_SEED repeats a run's choices and kill points (the timing still varies); CRASH_CHILDREN
changes the number of young people in both runs (a fifth of them on Web Chat);
CRASH_TRANSCRIPTS=1 writes every conversation to transcripts.txt (always done on failure).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from storage.crypto import Keyring, new_key_entry
from tests.crashchannel import (
    BotProcess,
    Child,
    CrashConnector,
    MailSink,
    Tally,
    Typed,
    Words,
    bot_env,
    free_port,
    parse_mark,
    serving,
)

ROOT = Path(os.environ.get("CRASH_ROOT") or Path(__file__).resolve().parent.parent).resolve()
CHILDREN = os.environ.get("CRASH_CHILDREN")


@dataclass(frozen=True)
class Plan:
    """One run: how many young people (some of them on Web Chat: questions as text and
    buttons, no payload to say which is which), and how many kills while they answer and while
    their summaries go out."""

    children: int
    kills: int
    delivery_kills: int

    @property
    def webchat(self) -> int:
        return self.children // 5

    @classmethod
    def of(cls, children: int, kills: int, delivery_kills: int) -> Plan:
        return cls(int(CHILDREN) if CHILDREN else children, kills, delivery_kills)


# Each kill comes once the children together have sent this share of the activities a run
# takes (about 17 each since the consultation was shortened, resends aside): early, when many
# are at the code or the first questions; midway; late, when some are checking and sending.
KILL_WINDOWS = ((0.04, 0.15), (0.30, 0.50), (0.60, 0.85))
# Kills while the summaries go out: each once this share of the children's summaries reached
# the mail server, a moment after the next one arrives (in the server's hands, being marked
# sent, or the next being claimed).
DELIVERY_SHARES = (0.25, 0.55)
# The mail server takes its time over each message, as a real one does.
SINK_DELAY = 0.03
# After the last child, every summary must be at the mail server within this (a lease was 5
# minutes: this is a bound, not a measurement).
MAIL_WAIT = 60.0
ACTIVITIES_PER_CHILD = 16
# The children stop here, so the test fails with its figures before pytest's 120 s timeout.
RUN_SECONDS = 85.0
# A real connector service takes tens of milliseconds to answer each reply; the child sees the
# reply before the bot hears back, so a kill lands between "said" and "done" as in production.
CONNECTOR_LATENCY = (0.005, 0.06)
RESTART_WAIT = 60.0

REVIEWS = """
import asyncio, json, random, sys
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import bot.cli as cli
from bot.settings import Settings
from storage.models import ReviewCreate


async def main(count, seed):
    settings = Settings()
    # add_review builds and migrates everything for each review; build once for all fifty.
    parts = cli.build_parts(settings)
    await parts.db.migrate()
    dispose, parts.db.dispose = parts.db.dispose, no_op
    parts.db.migrate = no_op
    cli.build_parts = lambda _settings: parts
    rng = random.Random(seed)
    tz = ZoneInfo(settings.timezone)
    when = datetime.combine(datetime.now(tz).date() + timedelta(days=14), time(10), tz)
    for i in range(count):
        data = ReviewCreate(
            first_name=f"Child{i}",
            age=rng.randint(8, 17),
            is_uasc=rng.random() < 0.2,
            iro_name=f"Iro {i}",
            iro_email=f"iro{i}@council.example",
            review_at=when.astimezone(UTC),
        )
        review, code = await cli.add_review(settings, data)
        print(json.dumps({"child": i, "review": review.id, "code": code}), flush=True)
    await dispose()


async def no_op():
    pass


asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""


async def create_reviews(env: dict[str, str], count: int, seed: int) -> dict[int, tuple[int, str]]:
    """Reviews and invite codes made by the checkout under test, so its own migrations run."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        REVIEWS,
        str(count),
        str(seed),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError:
        proc.kill()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
    made = {}
    for line in out.decode().splitlines():
        row = json.loads(line)
        made[int(row["child"])] = (int(row["review"]), str(row["code"]))
    assert len(made) == count
    return made


async def restart(bot: BotProcess, rng: random.Random, lock: asyncio.Lock) -> None:
    async with lock:
        await bot.kill()
        # Some children find nobody there and must resend later, as after a real outage.
        await asyncio.sleep(rng.uniform(0.05, 0.5))
        await bot.start()


async def crash_during(
    bot: BotProcess,
    tally: Tally,
    rng: random.Random,
    children_done: asyncio.Future[Any],
    lock: asyncio.Lock,
    plan: Plan,
) -> None:
    """Kills the server at random points of the run and starts it again on the same files."""
    expected = plan.children * ACTIVITIES_PER_CHILD
    for lo, hi in KILL_WINDOWS[: plan.kills]:
        target = expected * rng.uniform(lo, hi)
        while tally.activities < target:
            if children_done.done():
                return
            await asyncio.sleep(0.02)
        await asyncio.sleep(rng.uniform(0, 0.2))
        await restart(bot, rng, lock)


async def crash_during_delivery(
    bot: BotProcess, sink: MailSink, rng: random.Random, lock: asyncio.Lock, plan: Plan
) -> int:
    """Kills the server while summaries go out to the mail server; returns how many kills."""
    kills = 0
    for share in DELIVERY_SHARES[: plan.delivery_kills]:
        while len(sink.mails) < plan.children * share:
            await asyncio.sleep(0.01)
        arrived = len(sink.mails)
        while len(sink.mails) == arrived:
            await asyncio.sleep(0.002)
        await asyncio.sleep(rng.uniform(0, SINK_DELAY * 2))
        await restart(bot, rng, lock)
        kills += 1
    return kills


async def consult_and_crash(
    children: list[Child],
    bot: BotProcess,
    tally: Tally,
    rng: random.Random,
    sink: MailSink,
    db: Path,
    plan: Plan,
) -> int:
    """All the children at once, while the server is killed and restarted under them, and
    while their summaries go out; returns the kills during delivery."""
    lock = asyncio.Lock()
    runs = asyncio.gather(*(c.run() for c in children))
    crashes = asyncio.create_task(crash_during(bot, tally, rng, runs, lock, plan))
    delivery = asyncio.create_task(crash_during_delivery(bot, sink, rng, lock, plan))
    both: set[asyncio.Future[Any]] = {runs, crashes}
    try:
        # A server that does not come back fails the test at once, with its log.
        await asyncio.wait(both, timeout=RUN_SECONDS + 10, return_when=asyncio.FIRST_EXCEPTION)
        if crashes.done():
            crashes.result()
        if not runs.done():
            raise AssertionError(f"children still running after {RUN_SECONDS} s")
        runs.result()
        await asyncio.wait_for(crashes, RESTART_WAIT)
        # Every summary at the mail server, the kills during delivery done on the way.
        for _ in range(int(MAIL_WAIT / 0.05)):
            if delivery.done() and summaries_delivered(db, sink, plan.children):
                break
            if delivery.done():
                delivery.result()
            await asyncio.sleep(0.05)
        return delivery.result() if delivery.done() else -1
    finally:
        for task in (*both, delivery):
            task.cancel()
        await asyncio.gather(*both, delivery, return_exceptions=True)


def summary_ids(db: Path) -> set[str]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT message_id FROM outboxmessage WHERE kind = 'summary'")
        return {str(r[0]) for r in rows}
    finally:
        con.close()


def summaries_delivered(db: Path, sink: MailSink, children: int) -> bool:
    ids = summary_ids(db)
    return len(ids) >= children and ids <= set(sink.counts())


@dataclass
class Figures:
    children: int
    webchat: int
    kills: int
    activities: int
    resends: int
    retries_answered: int
    unanswered_retries: int
    stalls: int
    unrecognised: int
    server_errors: int  # 5xx answers to the children's POSTs
    unexplained_failures: int  # POSTs that got no answer while no kill was under way
    own_words_sent: int  # typed answers and skips
    acknowledged: int
    questions_acknowledged: int  # (child, question) pairs with an acknowledged answer
    stored_as_acknowledged: int
    lost: int
    misfiled: int
    finished: int
    summaries_not_one: int
    duplicates_ignored_in_log: int
    errors_in_log: int
    delivery_kills: int
    summaries_at_mail_server: int
    deliveries: int
    delivered_twice: int
    seconds: float
    seed: int

    def line(self) -> str:
        return " ".join(f"{k}={v}" for k, v in vars(self).items())


DATA_KEYS = new_key_entry("crash")


def read_database(path: Path) -> tuple[list[tuple[Any, ...]], dict[int, Any], dict[int, int]]:
    """What the file holds, read as an auditor with the data key would (answers are sealed)."""
    keys = Keyring.parse(DATA_KEYS)
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        answers = [
            (review_id, question_id, kind, raw and keys.open(raw, aad="answer.value"))
            for review_id, question_id, kind, raw in con.execute(
                "SELECT review_id, question_id, kind, value FROM answer"
            )
        ]
        submitted = dict(con.execute("SELECT id, submitted_at FROM review").fetchall())
        summaries = dict(
            con.execute(
                "SELECT review_id, COUNT(*) FROM outboxmessage WHERE kind = 'summary' "
                "GROUP BY review_id"
            ).fetchall()
        )
    finally:
        con.close()
    return answers, submitted, summaries


def assess(
    db: Path, reviews: dict[int, tuple[int, str]], tally: Tally, children: list[Child]
) -> tuple[dict[str, int], list[str]]:
    """Compares what the children were told was heard with what the database holds."""
    answers, submitted, summaries = read_database(db)
    child_of = {review_id: child for child, (review_id, _) in reviews.items()}
    by_question: dict[tuple[int, str], list[Typed]] = defaultdict(list)
    for t in tally.typed:
        by_question[(t.child, t.key)].append(t)

    stored: dict[tuple[int, str], tuple[str, Any]] = {}
    notes: list[str] = []
    misfiled = 0
    for review_id, question_id, kind, raw in answers:
        child = child_of.get(review_id, -1)
        value = json.loads(raw) if isinstance(raw, str) else raw
        stored[(child, question_id)] = (kind, value)
        if kind == "text":
            # The text itself says whose answer it is and to which question.
            mark = parse_mark(value)
            wrong = mark is None or mark[:2] != (child, question_id)
        elif kind == "skipped":
            wrong = not any(t.kind == "skipped" for t in by_question[(child, question_id)])
        else:
            continue
        if wrong:
            misfiled += 1
            notes.append(f"misfiled: child {child} {question_id} holds {kind} {value!r}")

    by_index = {c.index: c for c in children}
    acknowledged = questions = kept = lost = 0
    for (child, key), typed in by_question.items():
        acked = [t for t in typed if by_index[child].acknowledged(t.activity_id)]
        acknowledged += len(acked)
        if not acked:
            continue
        questions += 1
        # A later answer to the same question may replace it, acknowledged or not yet.
        latest = max(t.seq for t in acked)
        allowed = [t for t in typed if t.seq >= latest]
        kind, value = stored.get((child, key), ("missing", None))
        if any(t.kind == kind and (t.kind == "skipped" or t.text == value) for t in allowed):
            kept += 1
        else:
            lost += 1
            notes.append(
                f"lost: child {child} {key}: acknowledged "
                f"{[(t.kind, t.text) for t in acked][-1]}, stored {(kind, value)}"
            )

    finished = sum(1 for review_id, _ in reviews.values() if submitted.get(review_id))
    wrong_summaries = [
        (child, summaries.get(review_id, 0))
        for child, (review_id, _) in reviews.items()
        if summaries.get(review_id, 0) != 1
    ]
    notes += [f"child {c}: {n} summaries" for c, n in wrong_summaries]
    counts = {
        "acknowledged": acknowledged,
        "questions_acknowledged": questions,
        "stored_as_acknowledged": kept,
        "lost": lost,
        "misfiled": misfiled,
        "finished": finished,
        "summaries_not_one": len(wrong_summaries),
    }
    return counts, notes


@pytest.mark.crash
@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    "plan",
    [
        pytest.param(Plan.of(15, kills=3, delivery_kills=0), id="while-they-answer"),
        pytest.param(Plan.of(15, kills=0, delivery_kills=2), id="while-mail-goes-out"),
    ],
)
async def test_kill_9_loses_misfiles_and_strands_nothing(tmp_path: Path, plan: Plan) -> None:
    started = time.monotonic()
    seed = int(os.environ.get("CRASH_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    db = tmp_path / "myreview.db"
    port = free_port()
    sink = MailSink(delay=SINK_DELAY)
    env = bot_env(
        tmp_path,
        port=port,
        root=ROOT,
        data_keys=DATA_KEYS,
        outbox_poll_seconds="0.2",
        smtp_host="127.0.0.1",
        smtp_port=str(sink.port),
        smtp_starttls="false",
        burst_window_seconds="0",
    )
    words = Words(yaml.safe_load((ROOT / "content/locales/en.yaml").read_text()))
    reviews = await create_reviews(env, plan.children, seed)

    tally = Tally()
    connector = CrashConnector(latency=CONNECTOR_LATENCY, seed=seed)
    bot = BotProcess(ROOT, env, port, tmp_path / "server.log")
    children: list[Child] = []
    delivery_kills = 0
    sink.start()
    async with serving(connector.app) as service_url:
        try:
            await bot.start()
            # No kept-alive connections: one the kill broke must not fail the next request.
            pool = aiohttp.TCPConnector(force_close=True, limit=0)
            async with aiohttp.ClientSession(connector=pool) as http:
                children = [
                    Child(
                        i,
                        code,
                        http=http,
                        bot=bot,
                        connector=connector,
                        service_url=service_url,
                        tally=tally,
                        words=words,
                        deadline=time.monotonic() + RUN_SECONDS,
                        seed=seed + i,
                        channel_id="webchat" if i >= plan.children - plan.webchat else "msteams",
                    )
                    for i, (_, code) in reviews.items()
                ]
                delivery_kills = await consult_and_crash(children, bot, tally, rng, sink, db, plan)
            await bot.stop()
        finally:
            if bot.proc is not None and bot.proc.returncode is None:
                bot.proc.kill()
                await bot.proc.wait()
            sink.stop()

    counts, notes = assess(db, reviews, tally, children)
    mails = sink.counts()
    log = bot.log_path.read_text(errors="replace")
    figures = Figures(
        children=plan.children,
        webchat=plan.webchat,
        kills=bot.kills,
        activities=tally.activities,
        resends=tally.resends,
        retries_answered=tally.retries_answered,
        unanswered_retries=len(tally.unanswered_retries),
        stalls=len(tally.stalls),
        unrecognised=len(tally.unrecognised),
        server_errors=tally.server_errors,
        unexplained_failures=tally.unexplained_failures,
        own_words_sent=len(tally.typed),
        duplicates_ignored_in_log=log.count("duplicate activity ignored"),
        errors_in_log=log.count('"level": "ERROR"'),
        delivery_kills=delivery_kills,
        summaries_at_mail_server=len(summary_ids(db) & set(mails)),
        deliveries=len(sink.mails),
        delivered_twice=sum(n - 1 for n in mails.values()),
        seconds=round(time.monotonic() - started, 1),
        seed=seed,
        **counts,
    )
    print(f"\ncrash test: {figures.line()}")
    problems = []
    if figures.kills != plan.kills + plan.delivery_kills or delivery_kills != plan.delivery_kills:
        problems.append(
            f"only {figures.kills} of {plan.kills} + {plan.delivery_kills} kills happened during"
            " the run"
            f" ({delivery_kills} while mail went out)"
        )
    if figures.summaries_at_mail_server != plan.children:
        problems.append(
            f"{plan.children - figures.summaries_at_mail_server} summaries not at the mail server "
            f"{MAIL_WAIT:.0f} s after the last child finished"
        )
    if figures.delivered_twice > figures.kills:
        problems.append(
            f"{figures.delivered_twice} messages delivered twice in {figures.kills} kills: more "
            "than the one on its way at each"
        )
    if figures.misfiled:
        problems.append(f"{figures.misfiled} answers stored under a question not being answered")
    if figures.lost:
        problems.append(f"{figures.lost} acknowledged answers not stored as acknowledged")
    if figures.unanswered_retries:
        problems.append(f"{figures.unanswered_retries} resent activities got no reply")
    if figures.finished != plan.children:
        problems.append(f"{plan.children - figures.finished} consultations did not finish")
    if figures.summaries_not_one:
        problems.append(f"{figures.summaries_not_one} reviews without exactly one summary")
    files = f"server log: {bot.log_path}"
    if problems or os.environ.get("CRASH_TRANSCRIPTS"):
        transcripts = tmp_path / "transcripts.txt"
        transcripts.write_text(
            "\n\n".join(f"child {c.index}\n" + "\n".join(c.transcript()) for c in children)
        )
        files += f"; transcripts: {transcripts}"
        print(files)
    details = (
        notes[:15]
        + [f"unanswered retry: {w}" for w in tally.unanswered_retries[:10]]
        + [f"stall: {w}" for w in tally.stalls[:10]]
        + [f"gave up: {w}" for w in tally.gave_up[:10]]
        + [f"not recognised: {w}" for w in tally.unrecognised[:5]]
    )
    assert not problems, "\n".join([figures.line(), *problems, files, *details])


@pytest.mark.crash
@pytest.mark.timeout(120)
async def test_a_quick_follow_up_resent_after_kill_9_is_filed_as_without_it(
    tmp_path: Path,
) -> None:
    """Issue 15: "Sam", then 0.3 s later "and my nan calls me Sammy". The server is killed
    before the follow-up lands; the channel resends it (same id, body and timestamp) once the
    server is back, long after: it still joins the name, as it would have without the crash."""
    db = tmp_path / "myreview.db"
    port = free_port()
    env = bot_env(tmp_path, port=port, root=ROOT, data_keys=DATA_KEYS, burst_window_seconds="1.5")
    [(review_id, code)] = (await create_reviews(env, 1, 7)).values()
    connector = CrashConnector()
    bot = BotProcess(ROOT, env, port, tmp_path / "server.log")
    seq = iter(range(1, 100))

    def activity(service_url: str, text: str | None, at: datetime, **more: Any) -> dict[str, Any]:
        return {
            "type": "message",
            "id": f"quick-{next(seq)}",
            "channelId": "webchat",
            "serviceUrl": service_url,
            "conversation": {"id": "quick-follow-up"},
            "from": {"id": "child-quick"},
            "recipient": {"id": "bot"},
            "timestamp": at.isoformat(),
            "locale": "en-GB",
            **({"text": text} if text is not None else {}),
            **more,
        }

    async with serving(connector.app) as service_url:
        try:
            await bot.start()
            async with aiohttp.ClientSession() as http:

                async def post(act: dict[str, Any]) -> int:
                    async with http.post(f"{bot.url}/api/messages", json=act) as resp:
                        return resp.status

                now = datetime.now(UTC)
                start = activity(service_url, None, now, type="conversationUpdate")
                start["membersAdded"] = [{"id": "child-quick"}, {"id": "bot"}]
                assert await post(start) < 300
                # The device says English: linked, the name is asked next.
                assert await post(activity(service_url, code, datetime.now(UTC))) < 300
                await asyncio.sleep(2)  # reading the question
                sent = datetime.now(UTC)
                assert await post(activity(service_url, "Sam", sent)) < 300
                follow_up = activity(service_url, "and my nan calls me Sammy", sent)
                follow_up["timestamp"] = (sent + timedelta(seconds=0.3)).isoformat()
                await bot.kill()  # it dies before the follow-up lands
                await asyncio.sleep(3)
                await bot.start()
                assert await post(follow_up) < 300  # the channel's resend, long after
            await bot.stop()
        finally:
            if bot.proc is not None and bot.proc.returncode is None:
                bot.proc.kill()
                await bot.proc.wait()
    answers, _, _ = read_database(db)
    stored = {q: json.loads(v) for r, q, _, v in answers if r == review_id}
    assert stored.get("name") == "Sam\nand my nan calls me Sammy", (stored, bot.log_tail())
    assert "pronouns" not in stored
