"""Performance and accuracy figures (run with `make bench`). Prints numbers; asserts nothing.

1. Turns per second through the whole app over loopback HTTP (SQLite file, local connector).
2. ConnectorClient creation: the stock per-turn cost against the cached client.
3. The safeguarding screen: recall and false alarms per layer and language on the test corpora
   and the frozen held-out sets, and the time to check one message.
4. A whole turn for a 250 KB message, and the longest it holds the event loop.
5. What the consultation asks of issue 7's three young people, from hello to Send.
6. Sealing at rest: the cost of sealing a value, per turn, the size it adds, and the time to
   rotate the key of 10,000 answers.
7. The web door: replies per second at 20 concurrent chats through its Direct Line channel,
   against the same chats through the Bot Framework protocol, in the same run.
8. One full training of the safeguarding model, as `myreview safeguarding train` runs it (the
   tests train on a sample of a few hundred examples).
9. Peak memory of the process.
10. The duty board: from a child's disclosure to its alert on the board
    (tests/alert_board_figures.py).
11. The staff workspace: each page's p50/p95 time and SQL statements for an IRO holding 70
    reviews in a database of 10,000 (tests/staff_figures.py).
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import PARTS, create_app  # noqa: E402
from bot.cli import add_review  # noqa: E402
from dialogs.safeguarding import SafeguardingMatcher  # noqa: E402
from dialogs.safeguarding_model import FOLDS, REPEATS, Screen, train, training_set  # noqa: E402
from storage.content import load_content  # noqa: E402
from storage.crypto import Keyring, new_key_entry  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.repositories import Repositories  # noqa: E402
from tests import alert_board_figures, alert_flood, measure_screen, staff_figures  # noqa: E402
from tests import screening_sets as sets  # noqa: E402
from tests.channel import Connector  # noqa: E402
from tests.chat import Chat, WebChat  # noqa: E402
from tests.conftest import make_settings, review_data  # noqa: E402

TURNS = 300


@asynccontextmanager
async def new_chat(
    channel_id: str = "msteams", **review: Any
) -> AsyncIterator[tuple[TestClient, Chat, str]]:
    """The whole app on a fresh SQLite file, a new review and its code, and a child's chat,
    over loopback HTTP with a local connector."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp))
        conn = Connector()
        channel = TestServer(conn.app)
        await channel.start_server()
        url = str(channel.make_url("/")).rstrip("/") + "/"
        async with TestClient(TestServer(create_app(settings))) as client:
            _, code = await add_review(settings, review_data(**review))
            yield client, Chat(client, conn, url, channel_id=channel_id), code
        await channel.close()


@asynccontextmanager
async def linked_teams_chat() -> AsyncIterator[tuple[TestClient, Chat]]:
    """A child on Teams who has linked and chosen English."""
    async with new_chat() as (client, chat, code):
        await chat.start()
        await chat.say(code)
        await chat.pick("English")
        yield client, chat


async def alert_flood_figures() -> None:
    """Issue 15: how long alerts wait under a sustained flood from throwaway chats (30 an hour
    for three simulated hours against a limit of 10 emails an hour)."""
    async with new_chat("webchat") as (client, chat, _):
        parts = client.app[PARTS]

        def make(channel_id: str = "webchat", **kw: Any) -> Chat:
            return Chat(client, chat.connector, chat.service_url, channel_id=channel_id, **kw)

        got = await alert_flood.flood(parts, make, hours=3, per_hour=30)
        for name, delays in (
            ("every alert", got.delays()),
            ("real children", got.delays(real_only=True)),
        ):
            q = (
                statistics.quantiles(delays, n=100, method="inclusive")
                if len(delays) > 1
                else delays * 99
            )
            print(
                f"alert delay under a flood ({len(delays)} {name}): p50 {q[49] / 60:.1f} min, "
                f"p95 {q[94] / 60:.1f} min, max {max(delays) / 60:.1f} min "
                f"(limit {parts.services.alert_max_hold.total_seconds() / 60:.0f} min)"
            )


async def turns_per_second() -> None:
    async with linked_teams_chat() as (client, chat):
        # The name question, answered back and forth: each turn reads state, stores an
        # answer, renders a card and sends it through the connector.
        latencies = []
        started = time.perf_counter()
        for i in range(TURNS):
            t0 = time.perf_counter()
            await chat.say(f"Name {i}" if i % 2 == 0 else "back")
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
        connectors = len(client.app[PARTS].adapter.auth.connectors)
    latencies.sort()
    print(f"turns: {TURNS} sequential message turns in {elapsed:.2f} s = {TURNS / elapsed:.0f}/s")
    print(
        f"  latency ms: median {statistics.median(latencies) * 1000:.1f}, "
        f"p95 {latencies[int(TURNS * 0.95)] * 1000:.1f}, max {latencies[-1] * 1000:.1f}"
    )
    print(f"  connector clients built for {TURNS} turns: {connectors}")


WEB_CHATS = 20
WEB_TURNS = 15


async def web_door_throughput() -> None:
    """Issue 19: 20 children at once, each linking and then answering back and forth, through
    the web door's Direct Line channel (post, then read after the watermark, as the page's
    client does when polling) and through the Bot Framework protocol (Web Chat on Azure)."""
    for door in ("Direct Line (web door)", "Bot Framework protocol"):
        async with new_chat("webchat") as (client, first, _):
            parts = client.app[PARTS]
            settings = parts.settings
            codes = [(await add_review(settings, review_data()))[1] for _ in range(WEB_CHATS)]
            if door.startswith("Direct"):
                chats: list[Chat] = [WebChat(client) for _ in codes]
            else:
                chats = [
                    Chat(client, first.connector, first.service_url, channel_id="webchat")
                    for _ in codes
                ]
            replies = 0

            async def child(chat: Chat, code: str) -> None:
                nonlocal replies
                await chat.start()
                await chat.say(code)
                await chat.say("English")
                for i in range(WEB_TURNS):
                    await chat.say(f"Name {i}" if i % 2 == 0 else "back")
                    replies += len(chat.replies)

            started = time.perf_counter()
            await asyncio.gather(*(child(c, k) for c, k in zip(chats, codes, strict=True)))
            elapsed = time.perf_counter() - started
        print(
            f"{door}: {WEB_CHATS} chats at once, {WEB_CHATS * (WEB_TURNS + 3)} turns in "
            f"{elapsed:.1f} s; {replies} replies to the answers = {replies / elapsed:.0f}/s"
        )


async def connector_creation() -> None:
    from botframework.connector.auth import (
        PasswordServiceClientCredentialFactory,
    )
    from botframework.connector.auth._connector_factory_impl import _ConnectorFactoryImpl

    from bot.adapter import CachingConnectorFactory

    stock = _ConnectorFactoryImpl(
        "", "https://api.botframework.com", "", True, PasswordServiceClientCredentialFactory()
    )
    n = 200
    t0 = time.perf_counter()
    for _ in range(n):
        await stock.create("http://127.0.0.1:1/", None)
    per_stock = (time.perf_counter() - t0) / n
    cached = CachingConnectorFactory(stock, {}, "anonymous")
    t0 = time.perf_counter()
    for _ in range(n):
        await cached.create("http://127.0.0.1:1/", None)
    per_cached = (time.perf_counter() - t0) / n
    print(
        f"connector client per turn: stock {per_stock * 1000:.2f} ms, "
        f"cached {per_cached * 1000:.4f} ms"
    )


def matcher_figures() -> None:
    content = load_content(ROOT / "content")
    t0 = time.perf_counter()
    screen = Screen.for_content(content)
    built = time.perf_counter() - t0
    matcher, model = screen.phrases, screen.model
    print(
        f"safeguarding: {len(matcher._phrases)} phrases and model {model.meta['version']} "
        f"({len(model._index):,} features), loaded in {built * 1000:.0f} ms"
    )
    layers = {"phrases": matcher.categories, "model": model.categories, "both": screen.categories}
    print("  recall on disclosures / false alarms on ordinary sentences, per layer:")
    for set_name, read in (
        ("test corpora", sets.corpus),
        ("held-out", sets.heldout),
        ("held-out v2", sets.heldout_v2),
        ("held-out v3", sets.heldout_v3),
        ("held-out v4", sets.heldout_v4),
    ):
        for locale in sets.LOCALES:
            pos, neg = read(locale, "disclosures"), read(locale, "ordinary")
            cells = [
                f"{name} {sets.flagged(check, pos)} / {sets.flagged(check, neg)}"
                for name, check in layers.items()
            ]
            print(f"  {set_name:12} {locale}: " + "; ".join(cells))
    for locale, f in model.meta["validation"]["phrases_and_model"].items():
        print(
            f"  validation (out of fold, training examples) {locale}: recall {f['recall']:.1%} "
            f"of {f['disclosures']}, false alarms {f['false_alarms']:.1%} of {f['ordinary']}"
        )
    every = [
        t
        for read in (sets.heldout, sets.heldout_v2, sets.heldout_v3, sets.heldout_v4, sets.corpus)
        for loc in sets.LOCALES
        for kind in ("disclosures", "ordinary")
        for t in read(loc, kind)
    ]
    took = []
    for text in every * 3:
        t0 = time.perf_counter()
        screen.categories(text)
        took.append(time.perf_counter() - t0)
    q = statistics.quantiles(took, n=100)
    print(
        f"  check of one message ({len(every)} messages x 3): p50 {q[49] * 1000:.2f} ms, "
        f"p95 {q[94] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms, max {max(took) * 1000:.2f} ms"
    )
    short = "I would like my review at school after lessons please"
    long = ("I like my school and my friends and my football club. " * 19)[:1000]
    for name, text in (("typical sentence", short), ("1,000 characters", long)):
        n = 200
        t0 = time.perf_counter()
        for _ in range(n):
            screen.categories(text)
        per = (time.perf_counter() - t0) / n
        print(f"  check of a {name}: {per * 1000:.2f} ms")
    # A pasted wall of text must not stall the turn: 256 KB of ordinary words, of a character
    # NFKC expands eighteen-fold (U+FDFA), and of random letters, each checked once.
    rng = random.Random(1)
    ordinary = "the school was fine and my friends came over for tea then we played football"
    walls = {
        "words": " ".join(rng.choice(ordinary.split()) for _ in range(60000))[: 256 * 1024],
        "U+FDFA": "\ufdfa" * (249 * 1024 // 3),
        "random letters": "".join(rng.choice("abcdefghij klmnop") for _ in range(256 * 1024)),
    }
    # The first text NFKC changes builds a table of Unicode data once per process; not per text.
    screen.categories("\ufdfa")
    cpu = []
    for name, text in walls.items():
        t0 = time.process_time()
        screen.categories(text)
        cpu.append(f"{name} {(time.process_time() - t0) * 1000:.0f}")
    print(f"  check of 256 KB, ms of CPU: {', '.join(cpu)}")


def training_figures() -> None:
    """Every example, three shuffles of five folds: what `myreview safeguarding train` does."""
    from threadpoolctl import threadpool_info

    content = load_content(ROOT / "content")
    examples = training_set(content)
    phrases = SafeguardingMatcher(content.safeguarding)
    t0, cpu0 = time.perf_counter(), time.process_time()
    trained = train(examples, phrase_hits=lambda t: bool(phrases.categories(t)), log=lambda _: None)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    committed = Screen.for_content(content).model.meta["version"]
    version = trained.meta["version"]
    same = "the committed model" if version == committed else f"not the committed {committed}"
    print(
        f"training: {len(examples):,} examples, {REPEATS} shuffles of {FOLDS} folds, "
        f"in {wall:.0f} s ({cpu:.0f} s of CPU, BLAS on {max(blas, default=1)} threads); "
        f"model {version}, {same}"
    )
    for locale, f in trained.meta["validation"]["phrases_and_model"].items():
        print(
            f"  validation {locale}: recall {f['recall']:.1%} of {f['disclosures']}, "
            f"false alarms {f['false_alarms']:.1%} of {f['ordinary']}"
        )


async def _heartbeat(gaps: list[float], stop: asyncio.Event) -> None:
    """Ticks every millisecond; a long gap between ticks is time the event loop was held."""
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


def _odd_payloads(chat: Chat) -> Iterator[tuple[str, dict[str, Any]]]:
    """Messages as big or as odd as a request may carry (256 KB), as a channel sends them."""
    fdfa = "\ufdfa" * (250 * 1024 // 3)  # 18 letters each once normalised
    yield (
        "250 KB of words",
        chat.activity(text=("the school was fine and my friends came over " * 6000)[: 250 * 1024]),
    )
    yield "250 KB of U+FDFA", chat.activity(text=fdfa)
    yield "250 KB of numbers", chat.activity(text=("1 2 3, " * 50000)[: 250 * 1024])
    yield "accents stacked", chat.activity(text="a" + "\u0301" * 120000)
    yield "emoji joined", chat.activity(text="\U0001f468\u200d\U0001f469\u200d\U0001f467" * 13000)
    yield "a card's answer of 120 KB", chat.activity(value={"q": fdfa[:20000], "opt": fdfa[:20000]})
    yield (
        "2,000 attachments",
        chat.activity(
            text="hi",
            attachments=[
                {"contentType": "image/png", "name": "a", "contentUrl": "https://x.example/a"}
            ]
            * 2000,
        ),
    )
    yield "an edit of 120 KB", {**chat.activity(text=fdfa[:40000]), "type": "messageUpdate"}


async def _timed_post(client: TestClient, activity: dict[str, Any]) -> tuple[int, float, float]:
    """HTTP status, how long the turn took and the longest the event loop was held meanwhile."""
    gaps: list[float] = []
    running = asyncio.Event()
    beat = asyncio.create_task(_heartbeat(gaps, running))
    body = json.dumps(activity, ensure_ascii=False).encode()
    t0 = time.perf_counter()
    resp = await client.post(
        "/api/messages", data=body, headers={"Content-Type": "application/json"}
    )
    took = time.perf_counter() - t0
    running.set()
    await beat
    return resp.status, took, max(gaps)


async def big_message_turns() -> None:
    """Whole turns for messages as big or odd as a request may carry, before the code, at a
    written question and at a choice: how long each turn takes, and the longest the event loop
    was held (other children's turns wait that long)."""
    async with new_chat() as (client, chat, code):
        await chat.start()
        steps = {"before the code": None, "at a written question": code, "at a choice": "Sam"}
        for step, before in steps.items():
            if before == code:
                await chat.say(code)
                await chat.pick("English")
            elif before is not None:
                await chat.say(before)
            for name, activity in _odd_payloads(chat):
                status, took, stall = await _timed_post(client, activity)
                print(
                    f"{step}, {name}: HTTP {status}, turn {took * 1000:.0f} ms, "
                    f"longest event-loop stall {stall * 1000:.1f} ms"
                )


class _Counting:
    """Counts seals and opens while a benchmark runs (Keyring is immutable; its class is not)."""

    def __init__(self) -> None:
        self.seals = self.opens = 0
        self._seal, self._open = Keyring.seal, Keyring.open

    def __enter__(self) -> _Counting:
        outer = self

        def seal(self: Keyring, plain: str, *, aad: str) -> str:
            outer.seals += 1
            return outer._seal(self, plain, aad=aad)

        def open_(self: Keyring, stored: str, *, aad: str) -> str:
            outer.opens += 1
            return outer._open(self, stored, aad=aad)

        Keyring.seal, Keyring.open = seal, open_  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        Keyring.seal, Keyring.open = self._seal, self._open  # type: ignore[method-assign]


@contextmanager
def _plain_text() -> Iterator[None]:
    """For comparison only: values stored as they are (what the app did before sealing)."""
    seal = Keyring.seal
    Keyring.seal = lambda self, plain, *, aad: plain  # type: ignore[method-assign]
    try:
        yield
    finally:
        Keyring.seal = seal  # type: ignore[method-assign]


async def _median_turn_ms(turns: int) -> float:
    async with linked_teams_chat() as (_, chat):
        took = []
        for i in range(turns):
            t0 = time.perf_counter()
            await chat.say(f"Name {i}" if i % 2 == 0 else "back")
            took.append(time.perf_counter() - t0)
    return statistics.median(took) * 1000


async def _answers_db_bytes(value: object, keys: str, path: Path) -> int:
    db = Database(f"sqlite+aiosqlite:///{path}", keys=Keyring.parse(keys))
    await db.migrate()
    repos = Repositories(db)
    review = await repos.reviews.create(
        data=review_data(),
        invite_code_hash="bench",
        invite_expires_at=review_data().review_at,
        content_version="files",
    )
    assert review.id is not None
    async with db.unit_of_work():
        for i in range(10000):
            await repos.answers.save(
                review_id=review.id, question_id=f"q{i}", kind="text", value=value, locale="en"
            )
    await db.dispose()
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


async def persona_figures() -> None:
    from tests.consult import answers_of
    from tests.personas import PERSONAS, as_meant, run_persona

    for persona in PERSONAS:
        async with new_chat(persona.channel, **persona.review_fields()) as (client, chat, code):
            parts = client.app[PARTS]
            figures = await run_persona(persona, parts, chat, code)
            review = await parts.repos.reviews.by_code_hash(
                invite_code_hash=parts.services.codes.hash(code)
            )
            assert review is not None and review.id is not None
            ok, total, _ = as_meant(persona, await answers_of(parts, review.id))
        limit = f"limit {persona.max_prompts} prompts" + (
            f", {persona.max_words} words" if persona.max_words else ""
        )
        meant = f"; typed answers stored as meant {ok}/{total}" if total else ""
        print(f"consultation, {persona.name}: {figures.line()} ({limit}){meant}")


async def sealing_figures() -> None:
    keys = Keyring.parse(new_key_entry("bench"))
    answer = "i want to talk about seeing my little brother more often " * 2
    value = json.dumps(answer)
    n = 20000
    t0 = time.perf_counter()
    sealed = [keys.seal(value, aad="answer.value") for _ in range(n)]
    per_seal = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for token in sealed:
        keys.open(token, aad="answer.value")
    per_open = (time.perf_counter() - t0) / n
    print(
        f"sealing: a {len(value)}-character answer seals in {per_seal * 1e6:.1f} us, opens in "
        f"{per_open * 1e6:.1f} us, and takes {len(sealed[0])} characters stored "
        f"(+{len(sealed[0]) - len(value)})"
    )
    with _Counting() as count:
        await _median_turn_ms(100)
    print(f"  per turn: {count.seals / 100:.1f} seals and {count.opens / 100:.1f} opens")
    # Alternate, so that a slower moment of the machine does not land on one side only.
    sealed_ms, plain_ms = [], []
    for _ in range(3):
        sealed_ms.append(await _median_turn_ms(100))
        with _plain_text():
            plain_ms.append(await _median_turn_ms(100))
    print(
        f"  median turn: sealed {statistics.median(sealed_ms):.2f} ms, plain text "
        f"{statistics.median(plain_ms):.2f} ms (3 runs of 100 turns each)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        old, new = new_key_entry("old"), new_key_entry("new")
        with _plain_text():
            plain_size = await _answers_db_bytes(answer, old, Path(tmp) / "plain.db")
        path = Path(tmp) / "rotate.db"
        size = await _answers_db_bytes(answer, old, path)
        db = Database(f"sqlite+aiosqlite:///{path}", keys=Keyring.parse(f"{new},{old}"))
        t0 = time.perf_counter()
        done = await Repositories(db).sealed.reseal_all(batch=500)
        took = time.perf_counter() - t0
        await db.dispose()
    print(
        f"  10,000 answers of {len(answer)} characters: database {size / 1e6:.2f} MB sealed, "
        f"{plain_size / 1e6:.2f} MB plain"
    )
    print(
        f"  rotating their key: {took:.2f} s in batches of 500 ({done.resealed} values, "
        f"{done.resealed / took:,.0f}/s)"
    )


def main() -> None:
    cores = Path("/proc/cpuinfo").read_text().count("processor")
    print(f"Python {sys.version.split()[0]}, {cores} cores")
    asyncio.run(connector_creation())
    matcher_figures()
    measure_screen.main()
    asyncio.run(alert_flood_figures())
    asyncio.run(alert_board_figures.figures(runs=30, already_open=300))
    asyncio.run(turns_per_second())
    asyncio.run(big_message_turns())
    asyncio.run(persona_figures())
    asyncio.run(sealing_figures())
    asyncio.run(web_door_throughput())
    training_figures()
    asyncio.run(staff_figures.staff_page_figures())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS) of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
