"""The crash test's channel: a connector service that records every reply, the bot's server as a
subprocess that can be killed, and young people who answer as a Teams or Web Chat client would.

Everything here judges the bot from outside, by what a channel can see: which replies came for
which activity (on Teams a reply carries the activity's id in `replyToId`; on Web Chat it is
whatever came between one message and the next), and whether the POST of an activity got an HTTP
answer. A channel resends an activity, with the same id and body, when its POST got no answer;
the young person waits for the next question before answering it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.chat import (
    NUMBERED,
    actions_of,
    choice_set,
    is_help,
    one_tap,
    question_card,
    question_key,
    suggested_actions,
    text_of,
)

# Replies normally arrive before the POST is answered; this is slack for a bot that sends them
# just after answering the channel.
LATE_REPLY_GRACE = 1.5
POST_TIMEOUT = 20.0
RESTART_TIMEOUT = 45.0
MAX_RECOVERIES = 12
# Answers that are not the young person's own words: they belong to the bot's own flow.
FLOW_CHOICES = {
    "language": ["en"],
    "send_confirm": ["send"],
    "welcome_back_sent": ["no_thanks"],
    "restart_confirm": ["no"],
}
# The SDK leaves replyToId out of replies on these channels.
UNMARKED_REPLIES = {"webchat", "directline"}
TEXT_MARK = re.compile(r"^c(\d+)-(.+)-(\d+)$")


class GiveUp(Exception):
    """A child stops: out of time, or stuck however often they ask for help."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def now_stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- the connector service ------------------------------------------------------------------


@dataclass
class Reply:
    verb: str  # POST (a new message) or PUT (a card replaced by its answer)
    body: dict[str, Any]
    reply_to: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class Conversation:
    replies: list[Reply] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def to(self, activity_id: str, since: int) -> list[Reply]:
        """Replies to an activity. Those to a conversationUpdate, and all on Web Chat, carry no
        replyToId: they are the unmarked replies that came after it was sent (`since`, an
        index into replies)."""
        return [
            r
            for i, r in enumerate(self.replies)
            if r.reply_to == activity_id or (r.reply_to is None and i >= since)
        ]


class CrashConnector:
    """Receives the bot's replies, records them per conversation, and answers with ids.

    It answers each reply after a short delay, as a real connector service does: the child
    already sees the reply while the bot is still waiting on the channel. That is when a crash
    shows whether the bot had committed what it said.
    """

    def __init__(self, latency: tuple[float, float] = (0.0, 0.0), seed: int = 0) -> None:
        self.conversations: dict[str, Conversation] = {}
        self.latency = latency
        self._rng = random.Random(seed)
        self._ids = itertools.count(1)
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/v3/conversations/{cid}/activities", self._post)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._post)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._put)
        self.app = app

    def conversation(self, cid: str) -> Conversation:
        return self.conversations.setdefault(cid, Conversation())

    async def _record(self, request: web.Request, verb: str) -> web.Response:
        try:
            body = await request.json()
        except (ConnectionError, aiohttp.ClientPayloadError, ValueError):
            # The bot died while sending it: the child never saw this reply.
            return web.Response(status=400)
        cid = request.match_info["cid"]
        if verb == "POST":
            body["id"] = f"bot-{next(self._ids)}"
        else:
            body["id"] = request.match_info["aid"]
        reply_to = body.get("replyToId") or (
            request.match_info.get("aid") if verb == "POST" else None
        )
        conv = self.conversation(cid)
        conv.replies.append(Reply(verb, body, reply_to))
        conv.changed.set()
        lo, hi = self.latency
        if hi > 0:
            await asyncio.sleep(self._rng.uniform(lo, hi))
        return web.json_response({"id": body["id"]})

    async def _post(self, request: web.Request) -> web.Response:
        return await self._record(request, "POST")

    async def _put(self, request: web.Request) -> web.Response:
        return await self._record(request, "PUT")


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """The app on its own loopback port; yields its base URL (an activity's serviceUrl)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


# --- the bot's server, as a process that can die ------------------------------------------------


class BotProcess:
    """`myreview serve` from `root`, restartable on the same database and port."""

    def __init__(self, root: Path, env: dict[str, str], port: int, log_path: Path) -> None:
        self.root = root
        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self.generation = 0
        self.killing = False
        self.kills = 0
        self._up = asyncio.Event()

    async def start(self, timeout: float = 30.0) -> None:
        with self.log_path.open("ab") as log:
            # `python -m bot.cli` from the checkout itself, so CRASH_ROOT can point at another
            # worktree; the venv's `myreview` script would always import this one.
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "serve",
                cwd=self.root,
                env=self.env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"the server exited at start:\n{self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    async with http.get(
                        f"{self.url}/healthz", timeout=aiohttp.ClientTimeout(total=2)
                    ) as resp:
                        if resp.status == 200:
                            self.generation += 1
                            self.killing = False
                            self._up.set()
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the server was not healthy within {timeout} s:\n{self.log_tail()}")

    async def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: no clean-up of any kind runs."""
        assert self.proc is not None
        self.killing = True
        self._up.clear()
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.proc.wait(), 10)
        self.kills += 1

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.send_signal(signal.SIGKILL)
            await asyncio.wait_for(self.proc.wait(), 10)

    async def wait_restarted(self, after: int) -> bool:
        """True once a server newer than generation `after` is up; False at once when no kill
        explains a failed request (that failure is then the bot's, not the crash's)."""
        if self.generation > after:
            return True
        if not self.killing:
            return False
        try:
            await asyncio.wait_for(self._up.wait(), RESTART_TIMEOUT)
        except TimeoutError as exc:
            raise GiveUp(f"the server was not back within {RESTART_TIMEOUT} s") from exc
        return True

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def server_env(settings: dict[str, str]) -> dict[str, str]:
    """This process's environment without any MYREVIEW_* of its own, plus the test's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYREVIEW_")}
    env.pop("PYTHONSAFEPATH", None)
    env.update(settings)
    return env


def bot_env(
    tmp_path: Path, *, port: int, root: Path, data_keys: str, **settings: str
) -> dict[str, str]:
    """The environment of a `myreview serve` on its own SQLite file under `tmp_path`, listening
    on `port`, with the checkout at `root` and these data keys; `settings` adds MYREVIEW_* (by
    their names without the prefix, in lower case: smtp_port="2525")."""
    values = {
        "MYREVIEW_ENVIRONMENT": "test",
        "MYREVIEW_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'myreview.db'}",
        "MYREVIEW_VAR_DIR": str(tmp_path / "var"),
        "MYREVIEW_PORT": str(port),
        "MYREVIEW_SECRET_KEY": "crash-test-secret-key-0123456789",
        "MYREVIEW_DATA_KEYS": data_keys,
        "PYTHONPATH": str(root),
    }
    values.update({f"MYREVIEW_{k.upper()}": v for k, v in settings.items()})
    return server_env(values)


# --- the mail server ---------------------------------------------------------------------------


@dataclass
class Mail:
    message_id: str
    subject: str
    at: float = field(default_factory=time.monotonic)


class MailSink:
    """An SMTP server (aiosmtpd) that keeps what it accepts, counted per Message-ID, as the
    IRO's and the duty team's mail server would. A message counts as accepted once its data has
    all arrived, as a real server queues it then, whether or not the bot heard the "250" (a
    kill in between is where SMTP can deliver twice).

    `delay` paces each message, as a real server takes its time; `hold_urgent` keeps the first
    urgent message's "250" back until `release()`, so that a kill lands while it is on its way.
    """

    def __init__(self, *, delay: float = 0.0, hold_urgent: bool = False) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.delay = delay
        self.hold_urgent = hold_urgent
        self.mails: list[Mail] = []
        self.busy = 0  # messages whose data has arrived and whose answer has not gone
        self.holding: Mail | None = None
        self._released = False
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._released = True
        self._controller.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        raw = envelope.original_content or envelope.content
        msg = message_from_bytes(raw, policy=policy.default)
        mail = Mail(str(msg["Message-ID"]), str(msg["Subject"]))
        self.mails.append(mail)
        self.busy += 1
        try:
            if self.hold_urgent and self.holding is None and msg["Importance"] == "high":
                self.holding = mail
                while not self._released:
                    await asyncio.sleep(0.02)
            elif self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.busy -= 1
        return "250 OK"

    def release(self) -> None:
        self._released = True

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for mail in self.mails:
            found[mail.message_id] = found.get(mail.message_id, 0) + 1
        return found


# --- what a young person reads ----------------------------------------------------------------


class Words:
    """The bot's English wording, read from the content under test: how a child on Web Chat,
    where a question is plain text with buttons, knows which question they are looking at."""

    def __init__(self, en: dict[str, Any]) -> None:
        self.controls = {
            c: _plain_wording(v.get("label", "")) for c, v in en.get("controls", {}).items()
        }
        self.meta_name = str(en.get("meta", {}).get("name", ""))
        self.yes_no = {
            "yes": _plain_wording(en.get("choice_yes", {}).get("label", "")),
            "no": _plain_wording(en.get("choice_no", {}).get("label", "")),
        }
        questions = en.get("questions", {})
        self.labels = {
            (q, o): _plain_wording(v.get("label", ""))
            for q, entry in questions.items()
            for o, v in (entry.get("options") or {}).items()
        }
        # Every band's wording of a topic ("where you live", on the easy path "home").
        about = {
            str(text): o
            for v_entry in questions.values()
            for o, v in (v_entry.get("options") or {}).items()
            if isinstance(v, dict) and "about" in v
            for text in (v["about"].values() if isinstance(v["about"], dict) else [v["about"]])
        }
        self._about = about
        self._prompts: list[tuple[re.Pattern[str], str]] = []
        for q, entry in questions.items():
            prompt = entry.get("prompt")
            for text in prompt.values() if isinstance(prompt, dict) else [prompt]:
                if isinstance(text, str):
                    self._prompts.append((_template(text), q))
        # The most specific wording first: one prompt can begin with another.
        self._prompts.sort(key=lambda p: -len(p[0].pattern))
        self.sent = sent_marks(en.get("messages", {}))

    def question(self, text: str) -> str | None:
        """The key of the question this message asks ("topic_change.health" for a topic)."""
        for pattern, q in self._prompts:
            m = pattern.fullmatch(text)
            if m is None:
                continue
            topic = m.groupdict().get("topic")
            if topic is None:
                return q
            if topic in self._about:
                return f"{q}.{self._about[topic]}"
        return None

    def option(self, q: str, option: str) -> str:
        """What a button for this option says."""
        if q == "language":
            return self.meta_name
        return self.labels.get((q, option)) or self.yes_no.get(option, option)


def _plain_wording(value: Any) -> str:
    """Wording as every band but the named ones reads it (`{easy: ..., any: ...}`)."""
    if isinstance(value, dict):
        return str(value.get("any") or next(iter(value.values()), ""))
    return str(value)


def _button(shown: Shown, words: str | None) -> str | None:
    """The title of the button that says `words`, with or without the easy path's picture."""
    return next((t for t in shown.buttons if words and without_picture(t) == words), None)


def without_picture(title: str) -> str:
    """A button's words without the picture the easy path puts before them ("👍 Yes")."""
    first, _, rest = title.partition(" ")
    return rest if rest and first and not any(c.isalnum() for c in first) else title


def _template(text: str) -> re.Pattern[str]:
    """A prompt with its {placeholders} as wildcards; a hint may follow on the next line."""
    parts = re.split(r"\{([a-z_]+)\}", text)
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(re.escape(part))
        else:
            out.append("(?P<topic>.+?)" if part == "topic" else ".+?")
    return re.compile("".join(out) + r"(?:\n.*)?", re.S)


@dataclass(frozen=True)
class Shown:
    """A question (or the help menu) as the child sees it."""

    reply: Reply
    key: str | None  # None: the child cannot tell which question it is
    help: bool
    card: dict[str, Any] | None  # a card with a q/n payload, where the channel draws one
    buttons: dict[str, str]  # suggested actions: title -> the text tapping it sends
    # messageBack buttons: title -> the value tapping it sends beside the text
    payloads: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Typed:
    """An answer the child gave in their own words (or skipped), and the question it was for."""

    child: int
    key: str
    seq: int
    kind: str  # text | skipped
    text: str | None
    activity_id: str
    conversation_id: str


@dataclass
class Tally:
    activities: int = 0  # first sends, not resends
    resends: int = 0
    retries_answered: int = 0
    unanswered_retries: list[str] = field(default_factory=list)
    stalls: list[str] = field(default_factory=list)  # a turn that ended with nothing to answer
    unrecognised: list[str] = field(default_factory=list)  # a Web Chat question not recognised
    server_errors: int = 0
    unexplained_failures: int = 0  # a failed POST with no kill to explain it
    typed: list[Typed] = field(default_factory=list)
    finished_clients: int = 0
    gave_up: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Expect:
    """What the child waits for after an activity: a question (or, after asking for help,
    anything to tap), or being told their answers were sent."""

    any_card: bool = False
    sent: bool = False


class Child:
    """One young person: starts the chat, types the code, answers every question, checks,
    shares and sends, as a Teams client (cards) or a Web Chat client (text and buttons)."""

    def __init__(
        self,
        index: int,
        code: str,
        *,
        http: aiohttp.ClientSession,
        bot: BotProcess,
        connector: CrashConnector,
        service_url: str,
        tally: Tally,
        words: Words,
        deadline: float,
        seed: int,
        channel_id: str = "msteams",
    ) -> None:
        self.index = index
        self.code = code
        self.http = http
        self.bot = bot
        self.connector = connector
        self.service_url = service_url
        self.tally = tally
        self.words = words
        self.deadline = deadline
        self.seed = seed
        self.channel_id = channel_id
        self.conversation_id = f"crash-{index}"
        self.conv = connector.conversation(self.conversation_id)
        self.seq = itertools.count(1)
        self.done = False
        self.recoveries = 0
        self._posts: set[asyncio.Task[int | None]] = set()
        self._since: dict[str, int] = {}  # activity id -> replies there were when it was sent
        self._order: list[str] = []  # activity ids, as first sent
        self.sent: list[tuple[float, str, str, int | None]] = []  # (t, id, gist, HTTP status)

    # --- the whole consultation ---

    async def run(self) -> None:
        try:
            start = self._activity("conversationUpdate")
            start["membersAdded"] = [{"id": f"child-{self.index}"}, {"id": "bot"}]
            await self._exchange(start, Expect())
            while not self.done:
                if time.monotonic() > self.deadline:
                    raise GiveUp("out of time")
                shown = self._current()
                if shown is None or shown.key is None and not shown.help:
                    if shown is not None:
                        self.tally.unrecognised.append(
                            f"c{self.index}: {text_of(shown.reply.body)}"
                        )
                    await self._recover("nothing to answer")
                    continue
                act, expect = self._answer(shown)
                await self._exchange(act, expect)
                if expect.sent and self._said_sent(self._replies(act["id"])):
                    self.done = True
            self.tally.finished_clients += 1
        except GiveUp as exc:
            self.tally.gave_up.append(f"c{self.index}: {exc}")
        finally:
            # The last turn may still be finishing after its reply came: let it end.
            if self._posts:
                await asyncio.wait(set(self._posts), timeout=POST_TIMEOUT)
            for task in set(self._posts):
                task.cancel()
            await asyncio.gather(*self._posts, return_exceptions=True)

    def _shown(self, reply: Reply) -> Shown | None:
        if reply.verb != "POST":
            return None
        card = question_card(reply.body)
        actions = suggested_actions(reply.body)
        buttons = {
            str(a.get("title")): str(
                a.get("text") if a.get("type") == "messageBack" else a.get("value") or a["title"]
            )
            for a in actions
        }
        payloads = {
            str(a.get("title")): dict(a["value"])
            for a in actions
            if a.get("type") == "messageBack" and isinstance(a.get("value"), dict)
        }
        if card is not None:
            return Shown(reply, question_key(card)[0], is_help(card), card, buttons, payloads)
        if not buttons:
            return None
        text = str(reply.body.get("text") or "")
        listed = NUMBERED.findall(text)
        if listed and all(n in buttons for n, _ in listed):
            # Many options: listed and numbered, the buttons their numbers. Read as the child
            # does, each label beside its number.
            buttons = {k: v for k, v in buttons.items() if k not in dict(listed)}
            buttons.update({label: n for n, label in listed})
            text = NUMBERED.sub("", text).strip()
        help = self.words.controls.get("repeat") in {without_picture(t) for t in buttons}
        key = None if help else self.words.question(text)
        return Shown(reply, key, help, None, buttons, payloads)

    def _current(self) -> Shown | None:
        for reply in reversed(self.conv.replies):
            shown = self._shown(reply)
            if shown is not None:
                return shown
        return None

    def _answer(self, shown: Shown) -> tuple[dict[str, Any], Expect]:
        """What the child does with the question in front of them."""
        if shown.help:
            return self._control(shown, "repeat"), Expect()
        q = str(shown.key)
        options = self._options(shown)
        if options is not None:
            choices = choice_set(shown.card) if shown.card is not None else None
            picked = self._choose(q, options, bool(choices and choices.get("isMultiSelect")))
            # "I'm not safe" at the gentle check is answered with the help, whose card is a
            # help card ("When you're ready, we can carry on"): that is its reply.
            expect = Expect(sent=q == "send_confirm", any_card=q == "safety_check")
            return self._pick(shown, picked), expect
        if q == "invite_code":
            return self._activity(text=self.code), Expect()
        seq = next(self.seq)
        if self._can(shown, "skip") and self._mind(q).random() < 0.08:
            act = self._control(shown, "skip", seq=seq)
            self._note(q, seq, "skipped", None, act)
            return act, Expect()
        # Typed, with no payload, as a child types: only the bot knows which question it is for.
        text = f"c{self.index}-{q}-{seq}"
        act = self._activity(text=text, seq=seq)
        self._note(q, seq, "text", text, act)
        return act, Expect()

    def _options(self, shown: Shown) -> list[str] | None:
        """Option ids from a card, or button titles on Web Chat; None for a written answer."""
        if shown.card is not None:
            choices = choice_set(shown.card)
            if choices:
                return [str(c["value"]) for c in choices["choices"]]
            return list(one_tap(shown.card)) or None
        controls = set(self.words.controls.values())
        # A button that is no option (the name on the review, offered at the name question)
        # does not make a written answer a choice.
        known = {*self.words.labels.values(), *self.words.yes_no.values(), self.words.meta_name}
        titles = [
            t
            for t in shown.buttons
            if without_picture(t) not in controls and (without_picture(t) in known or t.isdigit())
        ]
        titles += [
            t
            for t in shown.buttons
            if t not in titles and without_picture(t) not in controls and shown.buttons[t].isdigit()
        ]
        return titles or None

    def _mind(self, q: str) -> random.Random:
        """The child's mind about one question: asked it again, they answer it the same way
        (else a re-asked "topics" would open other questions and strand earlier answers)."""
        return random.Random(f"{self.seed}/{q}")

    def _choose(self, q: str, values: list[str], multi: bool) -> list[str]:
        rng = self._mind(q)
        for option in FLOW_CHOICES.get(q, []):
            for v in (option, self.words.option(q, option)):
                for value in values:
                    if v in (value, without_picture(value)):
                        return [value]
        if q == "share_all":
            # One choice for all: choosing for each answer would double the run's length.
            choose = {"choose", self.words.option(q, "choose")}
            return [rng.choice([v for v in values if v not in choose] or values)]
        if multi:
            # One topic brings three questions in the child's own words; more only add length.
            many = 1 if q == "topics" else rng.choice([1, 2])
            return rng.sample(values, k=min(len(values), many))
        return [rng.choice(values)]

    def _note(self, key: str, seq: int, kind: str, text: str | None, act: dict[str, Any]) -> None:
        self.tally.typed.append(
            Typed(self.index, key, seq, kind, text, act["id"], self.conversation_id)
        )

    # --- activities ---

    def _activity(
        self, type: str = "message", *, seq: int | None = None, **fields: Any
    ) -> dict[str, Any]:
        act: dict[str, Any] = {
            "type": type,
            "id": f"c{self.index}-a{seq if seq is not None else next(self.seq)}",
            "channelId": self.channel_id,
            "serviceUrl": self.service_url,
            "conversation": {"id": self.conversation_id},
            "from": {"id": f"child-{self.index}", "name": "Young person"},
            "recipient": {"id": "bot", "name": "MyReview"},
            "timestamp": now_stamp(),
            "locale": "en-GB",
        }
        act.update({k: v for k, v in fields.items() if v is not None})
        return act

    def _pick(self, shown: Shown, picked: list[str]) -> dict[str, Any]:
        """Submits a card with its choices ticked, or taps the button (Web Chat sends its
        title as text)."""
        if shown.card is None:
            return self._tap(shown, picked[0])
        buttons = one_tap(shown.card)
        if buttons:
            return self._activity(value=dict(buttons[picked[0]]), replyToId=shown.reply.body["id"])
        submit = next(a for a in actions_of(shown.card) if "ctl" not in a["data"])
        return self._activity(
            value=dict(submit["data"], choice=",".join(picked)), replyToId=shown.reply.body["id"]
        )

    def _can(self, shown: Shown, ctl: str) -> bool:
        on_card = shown.card is not None and any(
            a["data"].get("ctl") == ctl for a in actions_of(shown.card)
        )
        return on_card or _button(shown, self.words.controls.get(ctl)) is not None

    def _control(self, shown: Shown, ctl: str, *, seq: int | None = None) -> dict[str, Any]:
        for a in actions_of(shown.card or {}):
            if a["data"].get("ctl") == ctl:
                return self._activity(
                    value=dict(a["data"]), replyToId=shown.reply.body["id"], seq=seq
                )
        label = self.words.controls[ctl]
        title = _button(shown, label)
        if title is not None:
            return self._tap(shown, title, seq=seq)
        return self._activity(text=label, seq=seq)

    def _tap(self, shown: Shown, title: str, *, seq: int | None = None) -> dict[str, Any]:
        """A suggested action tapped: its text, and its value where it carries one."""
        if title in shown.payloads:
            return self._activity(text=shown.buttons[title], value=shown.payloads[title], seq=seq)
        return self._activity(text=shown.buttons[title], seq=seq)

    # --- one activity, to its reply ---

    def _replies(self, activity_id: str) -> list[Reply]:
        return self.conv.to(activity_id, self._since[activity_id])

    def acknowledged(self, activity_id: str) -> bool:
        """The bot answered this message: the child was told, in effect, "heard".

        Teams replies name the activity (replyToId). Web Chat replies name nothing, so there
        it is any reply between this message and the child's next one."""
        if any(r.reply_to == activity_id for r in self.conv.replies):
            return True
        if self.channel_id not in UNMARKED_REPLIES or activity_id not in self._since:
            return False
        i = self._order.index(activity_id)
        end = self._since[self._order[i + 1]] if i + 1 < len(self._order) else None
        return any(r.reply_to is None for r in self.conv.replies[self._since[activity_id] : end])

    def _met(self, expect: Expect, replies: list[Reply]) -> bool:
        for r in replies:
            shown = self._shown(r)
            if shown is not None and (expect.any_card or not shown.help):
                return True
        return expect.sent and self._said_sent(replies)

    def _said_sent(self, replies: list[Reply]) -> bool:
        return any(
            r.verb == "POST" and any(m in text_of(r.body) for m in self.words.sent) for r in replies
        )

    async def _exchange(self, act: dict[str, Any], expect: Expect) -> None:
        """Posts an activity and waits for what it should bring, resending it (same id, same
        body) whenever its POST got no answer and its reply had not come."""
        self.tally.activities += 1
        self._since[act["id"]] = len(self.conv.replies)
        self._order.append(act["id"])
        resend = False
        while True:
            if time.monotonic() > self.deadline:
                raise GiveUp(f"out of time waiting on {act['id']}")
            generation = self.bot.generation
            post = asyncio.create_task(self._post(act))
            self._posts.add(post)
            post.add_done_callback(self._posts.discard)
            if await self._until_reply(act["id"], expect, post):
                if resend:
                    self.tally.retries_answered += 1
                return
            status = post.result()
            if status is not None and status < 500:
                if await self._until_reply(act["id"], expect, None, LATE_REPLY_GRACE):
                    if resend:
                        self.tally.retries_answered += 1
                    return
                what = f"c{self.index} {act['id']} ({_gist(act)})"
                if resend:
                    self.tally.unanswered_retries.append(what)
                else:
                    self.tally.stalls.append(what)
                await self._recover(what)
                return
            if status is not None:
                self.tally.server_errors += 1
                await asyncio.sleep(0.2)
            elif not await self.bot.wait_restarted(generation):
                self.tally.unexplained_failures += 1
                await asyncio.sleep(0.2)
            if self._met(expect, self._replies(act["id"])):
                return  # its reply got through before the crash: nothing to resend
            resend = True
            self.tally.resends += 1

    async def _post(self, act: dict[str, Any]) -> int | None:
        """The HTTP status, or None when the server gave no answer (it died under us)."""
        status, started = None, time.monotonic()
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            async with self.http.post(
                f"{self.bot.url}/api/messages",
                json=act,
                timeout=aiohttp.ClientTimeout(total=POST_TIMEOUT),
            ) as resp:
                await resp.read()
                status = resp.status
        self.sent.append((started, act["id"], _gist(act), status))
        return status

    async def _until_reply(
        self,
        activity_id: str,
        expect: Expect,
        post: asyncio.Task[int | None] | None,
        timeout: float = POST_TIMEOUT + 5,
    ) -> bool:
        """True when the expected reply to this activity has come; False once the POST ended
        (or, with no POST to watch, once `timeout` passed) without it."""
        end = time.monotonic() + timeout
        while True:
            self.conv.changed.clear()
            if self._met(expect, self._replies(activity_id)):
                return True
            if post is not None and post.done():
                return False
            left = end - time.monotonic()
            if left <= 0:
                return False
            changed = asyncio.create_task(self.conv.changed.wait())
            waits: set[asyncio.Task[Any]] = {changed} if post is None else {changed, post}
            await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()

    async def _recover(self, why: str) -> None:
        """A child left with nothing to answer asks for help, then to carry on."""
        self.recoveries += 1
        if self.recoveries > MAX_RECOVERIES:
            raise GiveUp(f"stuck after {MAX_RECOVERIES} tries for help; last: {why}")
        shown = self._current()
        if shown is None:
            act = self._activity(text=self.words.controls["help"])
        else:
            act = self._control(shown, "repeat" if shown.help else "help")
        await self._exchange(act, Expect(any_card=True))

    def transcript(self) -> list[str]:
        """What was sent and said, in order, for reading a failure."""
        lines = [(t, f"child  {aid} {gist} -> HTTP {status}") for t, aid, gist, status in self.sent]
        lines += [
            (r.at, f"bot    {r.verb} re {r.reply_to}: {self._said(r)}") for r in self.conv.replies
        ]
        return [line for _, line in sorted(lines, key=lambda x: x[0])]

    def _said(self, reply: Reply) -> str:
        shown = self._shown(reply)
        text = " ".join(text_of(reply.body).split())[:70]
        if shown is None:
            return text
        return (
            f"{'HELP' if shown.help else 'QUESTION'} {shown.key} id={reply.body.get('id')}: {text}"
        )


def _gist(act: dict[str, Any]) -> str:
    value = act.get("value") or {}
    if value:
        return f"q={value.get('q')} " + (
            f"ctl={value['ctl']}" if "ctl" in value else f"choice={value.get('choice')}"
        )
    return f"text={act.get('text')!r}" if act.get("text") else str(act.get("type"))


def parse_mark(text: Any) -> tuple[int, str, int] | None:
    """(child, question key, seq) from a text the crash test's children type."""
    m = TEXT_MARK.match(text) if isinstance(text, str) else None
    return (int(m.group(1)), m.group(2), int(m.group(3))) if m else None


def sent_marks(en_messages: dict[str, Any]) -> tuple[str, ...]:
    """The placeholder-free core of the "sent" messages, read from the content itself."""
    marks = []
    for key in ("sent", "sent_updated"):
        raw = en_messages.get(key)
        texts = raw.values() if isinstance(raw, dict) else [raw]
        for t in texts:
            if isinstance(t, str):
                marks.append(max((p.strip() for p in re.split(r"\{[a-z_]+\}", t)), key=len))
    return tuple(m for m in marks if m)
