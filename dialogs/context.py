"""What every dialog can reach: services built once, and the facts of this turn."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

from dialogs.chat_state import ChatStates
from dialogs.display import child_text
from dialogs.flow import Facts, band_for, facts_for
from dialogs.ports import ChatTurn
from dialogs.render import Activity, AskView, Control, question_activity, text_message
from dialogs.safeguarding_model import Screen
from dialogs.turn_facts import Screened, TurnFacts
from storage.content import FALLBACK_LOCALE, Content, ContentSource
from storage.models import Answer, ChannelLink, Review
from storage.repositories import Repositories
from storage.translations import is_translated

# Crockford-style: no 0/O, 1/I/L, or U, so a code read aloud or handwritten survives.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
# Nine characters, read aloud in threes ("K7M-4QX-9PD"): 30^9 codes. Codes made before
# nine-character codes (eight, "K7QM-4TXR") still work until they expire.
CODE_LENGTH = 9


class Notifier(Protocol):
    """Delivery of what the bot produces, through the outbox."""

    async def summary(self, *, review_id: int, updated: bool) -> None: ...

    async def alert(self, *, alert_id: int, linked_later: bool = False) -> None: ...

    async def code_guessing(self, *, wrong_in_last_hour: int, at: datetime) -> None: ...

    async def alert_group(self, *, lead_id: int, alert_ids: list[int]) -> None: ...

    async def alert_digest(self, *, alert_ids: list[int], waited: timedelta) -> None: ...

    async def note(self, *, alert_id: int, linked_later: bool = False) -> None: ...


class Translator(Protocol):
    """English renderings of a child's words for the adults (bot/delivery/translator.py)."""

    enabled: bool

    async def to_english(self, text: str, *, source: str | None = None) -> str | None: ...

    async def many_to_english(
        self, texts: list[str], *, source: str | None = None
    ) -> list[str | None]: ...


class _NoTranslation:
    enabled = False

    async def to_english(self, text: str, *, source: str | None = None) -> str | None:
        return None

    async def many_to_english(
        self, texts: list[str], *, source: str | None = None
    ) -> list[str | None]:
        return [None] * len(texts)


class InviteCodes:
    """Makes invite codes and their keyed hashes; the code itself is never stored."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    @staticmethod
    def new() -> str:
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        return "-".join(raw[i : i + 3] for i in range(0, CODE_LENGTH, 3))

    def hash(self, code: str) -> str:
        canonical = code.replace("-", "").upper()
        return hmac.new(self._key, canonical.encode(), hashlib.sha256).hexdigest()


@dataclass
class Services:
    """Built once by the app factory and shared by every turn."""

    content_source: ContentSource
    repos: Repositories
    notifier: Notifier
    codes: InviteCodes
    chats: ChatStates
    timezone: ZoneInfo
    code_attempts_allowed: int = 5
    code_window: timedelta = timedelta(minutes=15)
    code_attempts_per_user_per_day: int = 12
    code_guesses_per_hour: int = 100
    code_slow_lane: timedelta = timedelta(seconds=10)
    # Chats one code can open (the child's own and a few more: a carer's, a social worker's).
    code_devices_allowed: int = 3
    alert_group_window: timedelta = timedelta(minutes=10)
    duty_alerts_per_hour: int = 10
    # No alert held for the duty team's digest waits longer than this.
    alert_max_hold: timedelta = timedelta(minutes=15)
    burst_window: timedelta = timedelta(seconds=1.5)
    # When someone will be in touch after a worry, as the help tells the child: a key of
    # messages.safeguarding_when_<...> ("today", "one_day", "two_days").
    alert_contact_within: str = "one_day"
    # The council's advocacy service, as a child can reach it ("Coram Voice: 0808 800 5792").
    advocacy_contact: str = ""
    # Off unless a translation service is set up.
    translator: Translator = field(default_factory=_NoTranslation)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(ZoneInfo("UTC")))

    def matcher(self, content: Content) -> Screen:
        """The safeguarding screen for this content: phrases and the trained model (built once
        per content, by Screen.for_content)."""
        return Screen.for_content(content)


def screened(context: ChatTurn) -> Screened:
    return TurnFacts.of(context).screened


def flagged(context: ChatTurn) -> list[str]:
    """The categories this turn's screening heard clearly (empty when nothing, or not
    screened)."""
    found = screened(context)
    return list(found.categories) if found.tier == "clear" else []


# Replies are held back until the turn commits, so a reply has no channel id yet when a dialog
# wants to remember it; it gets this stand-in, resolved through the stored delivery later.
HELD_PREFIX = "held:"
# Channels whose chats end when the page closes (the web door, bot/directline.py): the child
# comes back with the code, and that chat takes the place of the one before.
REOPENING_CHANNELS = frozenset({"web"})


def held_id(activity_id: str, index: int) -> str:
    return f"{HELD_PREFIX}{index}:{activity_id}"


def parse_held_id(value: str) -> tuple[str, int] | None:
    """(activity id, index) of a held reply's stand-in id, or None for a real id."""
    if not value.startswith(HELD_PREFIX):
        return None
    index, _, activity_id = value[len(HELD_PREFIX) :].partition(":")
    return (activity_id, int(index)) if index.isdigit() and activity_id else None


@dataclass
class Turn:
    """This turn's facts, loaded once: the conversation's profile, review and answers."""

    services: Services
    context: ChatTurn
    profile: dict[str, Any]
    content: Content
    review: Review | None
    answers: dict[str, Answer]
    # This chat's link to the review; a device that is not the child's own only adds answers.
    link: ChannelLink | None = None

    @property
    def trusted(self) -> bool:
        return self.link is None or self.link.trusted

    @classmethod
    async def load(cls, services: Services, context: ChatTurn) -> Turn:
        facts = TurnFacts.of(context)
        if facts.turn is not None:
            return facts.turn
        profile = (await services.chats.load(context)).profile
        if "locale" not in profile:
            profile["locale"] = _initial_locale(services, context)
        review = None
        answers: dict[str, Answer] = {}
        link = None
        if profile.get("review_id"):
            act = context.activity
            link = await services.repos.links.current(
                channel_id=act.channel_id or "",
                conversation_id=act.conversation.id if act.conversation else "",
            )
            if (
                link is None
                or link.revoked_at is not None
                or link.review_id != profile["review_id"]
            ):
                # The IRO gave a new code, which closes every device linked before it; or the
                # child opened the web door again, and that chat took this one's place.
                profile.pop("review_id")
                reopened = link is not None and link.closed_because == "reopened"
                profile["device_closed"] = "reopened" if reopened else True
                link = None
            else:
                review = await services.repos.reviews.get(review_id=profile["review_id"])
            if review is not None:
                answers = await services.repos.answers.all_for(review_id=review.id or 0)
        version = review.content_version if review else None
        content = (
            services.content_source.version(version)
            if version
            else services.content_source.current()
        )
        turn = cls(services, context, profile, content, review, answers, link)
        facts.turn = turn
        return turn

    async def reload_answers(self) -> None:
        if self.review is not None:
            self.answers = await self.services.repos.answers.all_for(review_id=self.review.id or 0)

    # --- facts --------------------------------------------------------------------------

    @property
    def locale(self) -> str:
        loc = self.profile.get("locale", FALLBACK_LOCALE)
        return loc if loc in self.content.locales else FALLBACK_LOCALE

    @property
    def band(self) -> str:
        return band_for(self.content, self.review, self.services.timezone)

    @property
    def easy(self) -> bool:
        return self.content.is_easy(self.band)

    def facts(self) -> Facts:
        return facts_for(
            self.content,
            self.review,
            self.answers,
            tz=self.services.timezone,
            locale=self.locale,
            own_device=self.trusted,
        )

    def now(self) -> datetime:
        return self.services.clock()

    def review_day(self) -> date | None:
        if self.review is None:
            return None
        return self.review.review_at.astimezone(self.services.timezone).date()

    def can_change(self) -> bool:
        """Answers can change until the day before the review, inclusive."""
        day = self.review_day()
        return day is not None and self.now().astimezone(self.services.timezone).date() < day

    # --- words --------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """Placeholders every string may use (worked out once per turn and name)."""
        chosen = self.answers.get("name")
        key = (
            self.review.id if self.review else None,
            chosen.value if chosen else None,
            self.locale,
        )
        facts = TurnFacts.of(self.context)
        if facts.values is not None and facts.values[0] == key:
            return facts.values[1]
        vals = self._values()
        facts.values = (key, vals)
        return vals

    def _values(self) -> dict[str, Any]:
        # The chat's language by its own name ("العربية"), as the language buttons show it.
        vals: dict[str, Any] = {"language": self.content.locales[self.locale].meta.name}
        if self.review is not None:
            name = self.review.preferred_name or self.review.first_name
            chosen = self.answers.get("name")
            # A chosen name is used in what the bot says, unless the child wrote something
            # else there (a long answer, or a worry the safeguarding check caught).
            if (
                chosen is not None
                and chosen.kind == "text"
                and len(str(chosen.value)) <= 40
                and not self.services.matcher(self.content).categories(str(chosen.value))
            ):
                name = child_text(str(chosen.value))
            day = self.review_day()
            assert day is not None
            vals.update(
                name=name,
                first_name=self.review.preferred_name or self.review.first_name,
                iro=self.review.iro_name,
                iro_email=self.review.iro_email,
                place=self.review.place or "",
                date=self.date_words(day),
                deadline=self.date_words(day - timedelta(days=1)),
            )
        return vals

    def date_words(self, day: date) -> str:
        return format_date(day, "EEEE d MMMM", locale=self.locale)

    def time_words(self, at: datetime) -> str:
        return format_time(at.astimezone(self.services.timezone), "HH:mm", locale=self.locale)

    @property
    def form(self) -> str | None:
        """How to address the child where a language must choose (Arabic): from the pronouns
        they gave (she: f, he: m); else the plain, neutral-where-possible wording."""
        given = self.answers.get("pronouns")
        value = given.value if given is not None and given.kind == "choice" else None
        return {"she_her": "f", "he_him": "m"}.get(str(value))

    def t(self, key: str, **extra: Any) -> str:
        said = self.content.text(
            key, self.locale, self.band, form=self.form, **{**self.values(), **extra}
        )
        if _read_as_a_sentence(key) and not is_translated(self.content, key, self.locale):
            # Wording added in English and not yet translated (`myreview content check`): the
            # English, and a word in their language that it is not their language.
            note = self.content.text(f"messages.{NOT_TRANSLATED}", self.locale, self.band)
            said = f"{said}\n{note}"
        return said

    def msg(self, key: str, **extra: Any) -> str:
        return self.t(f"messages.{key}", **extra)

    @property
    def rtl(self) -> bool:
        return self.content.direction(self.locale) == "rtl"

    def message(self, text: str) -> Activity:
        """Words as this chat shows them: its channel's format, its language's direction."""
        return text_message(
            text, rtl=self.rtl, channel=self.context.activity.channel_id, locale=self.locale
        )

    async def say(self, *keys: str, **extra: Any) -> None:
        for key in keys:
            await self.context.send_activity(self.message(self.msg(key, **extra)))

    async def offer_next(self, text: str) -> None:
        """A message with the two buttons that belong under the safeguarding help: carry on,
        and talk to someone now."""
        view = AskView(
            key="help",
            nonce=0,
            type="text",
            prompt=text,
            options=(),
            controls=tuple(Control(c, self.t(f"controls.{c}.label")) for c in ("repeat", "talk")),
            submit_label=self.t("controls.submit.label"),
            rtl=self.rtl,
        )
        await self.context.send_activity(
            question_activity(view, self.context.activity.channel_id or "", self.locale)
        )


NOT_TRANSLATED = "not_translated_yet"


def _read_as_a_sentence(key: str) -> bool:
    """Messages, prompts, help: not a button's label, which stays as it is."""
    return key.startswith("messages.") or key.endswith((".prompt", ".intro", ".help", ".answer"))


def _initial_locale(services: Services, context: ChatTurn) -> str:
    """The chat starts in the language the channel reports, when we have it."""
    content = services.content_source.current()
    reported = (context.activity.locale or "").split("-")[0].lower()
    return reported if reported in content.locales else FALLBACK_LOCALE
