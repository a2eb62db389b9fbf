"""Three young people from issue 7, taken through the whole consultation to Send, counting what
it asks of them: prompts answered, words to read, and messages or taps sent.

Used by tests/test_personas.py (which asserts the limits) and tests/benchmark.py (which prints
the figures). Each persona answers by question id, the way that child would: the 12-year-old
taps buttons on Teams, the 9-year-old types in his own words on Web Chat, the 16-year-old uses
Teams in Arabic. A question a persona has no answer for is skipped with the Skip button (or
"skip" typed), as a child in a hurry would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.chat import NUMBERED, Chat, option_buttons, prompt_of, suggested_answers, words
from tests.consult import content_of, waiting_key

# What to do at a question: tap/pick option ids, or type words. Keys are question ids (the
# part before "." for per-topic questions). SUGGESTED taps the one-tap answer offered with a
# typing question (the name on the review).
Pick = tuple[str, ...]
SUGGESTED = "@suggested"


@dataclass(frozen=True)
class Persona:
    name: str
    channel: str
    age: int
    device_locale: str
    answers: dict[str, Pick | str]
    language_hint: str | None = None
    uasc: bool = False
    first_name: str = "Sam"
    easy_read: bool = False
    # Limits from issue 7 for this child's age band.
    max_prompts: int = 15
    max_words: int | None = 600
    # The easy path: no prompt longer than this, and nothing typed but the invite code.
    max_prompt_words: int | None = None
    max_typed: int | None = None
    # What the child meant by answers typed loosely ("whatever", "لا"): (kind, value) stored.
    meant: dict[str, tuple[str, Any]] = field(default_factory=dict)

    def review_fields(self) -> dict[str, Any]:
        """What their review says of them (for `review add`)."""
        return {
            "age": self.age,
            "first_name": self.first_name,
            "language_hint": self.language_hint,
            "is_uasc": self.uasc,
            "easy_read": self.easy_read,
        }


TWELVE_TEAMS = Persona(
    name="12, Teams, buttons",
    channel="msteams",
    age=12,
    device_locale="en-GB",
    answers={
        "language": ("en",),
        "name": "Sam",
        "take_part": ("speak_myself",),
        "talk_to_iro": ("yes",),
        "where": ("school",),
        "when": ("after_school", "weekend"),
        "who_there": "my foster carer and my teacher",
        "who_not_there": "my dad",
        "topics": ("family_time", "hobbies"),
        "topic_say": "i want to see my sister more",
        "topic_going_well": "i like my new school",
        "not_discussed": "my dad",
        "advocate": ("no",),
        "who_helped": ("no_one",),
        "share_all": ("all_everyone",),
        "review_choice": ("send",),
        "send_confirm": ("send",),
    },
)

NINE_WEBCHAT = Persona(
    name="9, Web Chat, typing",
    channel="webchat",
    age=9,
    device_locale="en-GB",
    answers={
        "language": "english",
        "name": "its Jay",
        "take_part": "come and speak",
        "talk_to_iro": "yep",
        "where": "at home",
        "when": "after school and weekends",
        "who_there": "my nan and my carer",
        "who_not_there": "no",
        "topics": "family and hobbys",
        "topic_say": "i want to go to football more",
        "topic_going_well": "football is good",
        "not_discussed": "nah",
        "advocate": "nah",
        "who_helped": "my carer",
        "share_all": "everyone",
        "review_choice": "send",
        "send_confirm": "send",
    },
    first_name="Jayden",
    max_prompt_words=10,
)

# Issue 7's easy path: the youngest, tapping only (no typing but the code).
EIGHT_EASY = Persona(
    name="8, Teams, easy, taps only",
    channel="msteams",
    age=8,
    device_locale="en-GB",
    first_name="Lily",
    answers={
        "name": (SUGGESTED,),
        "take_part": ("with_advocate",),
        "talk_to_iro": ("no",),
        "where": ("where_i_live",),
        "when": ("after_school",),
        "who_there": ("same_as_last_time",),
        "who_not_there": ("no_one",),
        "topics": ("family_time", "education"),
        "topic_say": ("not_good",),
        "not_discussed": ("nothing",),
        "advocate": ("yes",),
        "who_helped": ("carer",),
        "send_confirm": ("send",),
    },
    max_words=520,
    max_prompt_words=10,
    max_typed=1,
)

# A 14-year-old with additional needs, whose review says easy read, on Web Chat, tapping.
FOURTEEN_EASY_READ = Persona(
    name="14, easy read, Web Chat, taps only",
    channel="webchat",
    age=14,
    device_locale="en-GB",
    easy_read=True,
    first_name="Kai",
    answers={
        "name": (SUGGESTED,),
        "take_part": ("not_come_send_views",),
        "talk_to_iro": ("yes",),
        "where": ("online",),
        "when": ("weekend", "school_holidays"),
        "who_there": ("not_sure",),
        "who_not_there": ("not_sure",),
        "topics": ("hobbies",),
        "topic_say": ("going_well",),
        "not_discussed": ("not_sure",),
        "advocate": ("no",),
        "who_helped": ("social_worker",),
        "send_confirm": ("send",),
    },
    max_words=520,
    max_prompt_words=10,
    max_typed=1,
)

SIXTEEN_ARABIC = Persona(
    name="16, Arabic, Teams",
    channel="msteams",
    age=16,
    device_locale="en-GB",
    language_hint="ar",
    uasc=True,
    first_name="Amira",
    answers={
        "language": ("ar",),
        "name": "أميرة",
        "pronouns": ("she_her",),
        "take_part": ("written_views",),
        "talk_to_iro": ("yes",),
        "where": ("council_office",),
        "when": ("not_in_lessons",),
        "who_there": "معلمتي والمحامية",
        "who_not_there": "لا أحد",
        "topics": ("where_i_live", "education", "immigration"),
        "topic_say": "أريد أن أعرف ماذا يحدث مع أوراقي",
        "topic_going_well": "المدرسة جيدة",
        "not_discussed": "عائلتي في بلدي",
        "interpreter": ("yes_chat_language",),
        "advocate": ("yes",),
        "proud": "تعلمت الإنجليزية",
        "who_helped": ("no_one",),
        "share_all": ("all_iro",),
        "review_choice": ("send",),
        "send_confirm": ("send",),
    },
    max_prompts=22,
    max_words=None,
)

# Issue 16: a 15-year-old typing everything in Arabic on Web Chat, as she would say it.
FIFTEEN_ARABIC_TYPING = Persona(
    name="15, Arabic, Web Chat, typing",
    channel="webchat",
    age=15,
    device_locale="ar-SA",
    language_hint="ar",
    first_name="Rana",
    answers={
        "language": "العربية",
        "name": "رنا",
        "pronouns": "هي",
        "take_part": "ما بعرف",
        "talk_to_iro": "لا",
        "where": "المدرسة",
        "when": "بعد المدرسة و نهاية الاسبوع",
        "who_there": "مرشدتي",
        "who_not_there": "لا",
        "topics": "١، ٥",
        "topic_say": "بدي اعرف شو رح يصير بالمدرسة الجديدة",
        "not_discussed": "ما في",
        "interpreter": "لا",
        "advocate": "مش فارقة",
        "who_helped": "لا",
        "share_all": "الكل",
        "send_confirm": "ارسال",
    },
    meant={
        "pronouns": ("choice", "she_her"),
        "take_part": ("choice", "not_sure"),
        "talk_to_iro": ("yesno", False),
        "where": ("choice", "school"),
        "when": ("choices", ["after_school", "weekend"]),
        "who_not_there": ("choice", "no_one"),
        "topics": ("choices", ["where_i_live", "hobbies"]),
        "not_discussed": ("choice", "nothing"),
        "interpreter": ("choice", "no"),
        "advocate": ("unsure", "any"),
        "who_helped": ("choice", "no_one"),
    },
    max_prompts=22,
    max_words=None,
)

# Issue 16: a 13-year-old on Teams who types as little as possible.
THIRTEEN_TERSE = Persona(
    name="13, Teams, terse typing",
    channel="msteams",
    age=13,
    device_locale="en-GB",
    first_name="Rio",
    answers={
        "language": "english",
        "name": "rio",
        "pronouns": "he",
        "take_part": "idk",
        "talk_to_iro": "nah",
        "where": "skool",
        "when": "after skool n weekends",
        "who_there": "whoever",
        "who_not_there": "nobody",
        "topics": "hobbies + school",
        "topic_say": "its ok",
        "not_discussed": "nah",
        "advocate": "whatever",
        "my_words": "nah",
        "proud": "idk",
        "anything_else": "nope",
        "who_helped": "nah",
        "share_all": "yeah",
        "send_confirm": "send",
    },
    meant={
        "pronouns": ("choice", "he_him"),
        "take_part": ("choice", "not_sure"),
        "talk_to_iro": ("yesno", False),
        "where": ("choice", "school"),
        "when": ("choices", ["after_school", "weekend"]),
        "who_not_there": ("choice", "no_one"),
        "topics": ("choices", ["education", "hobbies"]),
        "not_discussed": ("choice", "nothing"),
        "advocate": ("unsure", "any"),
        "who_helped": ("choice", "no_one"),
    },
    max_prompts=22,
    max_words=None,
)

PERSONAS = (
    TWELVE_TEAMS,
    NINE_WEBCHAT,
    SIXTEEN_ARABIC,
    EIGHT_EASY,
    FOURTEEN_EASY_READ,
    FIFTEEN_ARABIC_TYPING,
    THIRTEEN_TERSE,
)


def as_meant(persona: Persona, stored: dict[str, tuple[str, Any]]) -> tuple[int, int, list[str]]:
    """How many of the persona's loosely typed answers were stored as meant, of how many, and
    the ones that were not (question: stored)."""
    wrong = [
        f"{qid}: {stored.get(qid)} (meant {want})"
        for qid, want in persona.meant.items()
        if tuple(stored.get(qid) or ()) != want
    ]
    return len(persona.meant) - len(wrong), len(persona.meant), wrong


@dataclass
class Figures:
    prompts: int = 0
    words: int = 0
    sends: int = 0  # messages typed, or card/button submits
    taps: int = 0  # choices ticked in a card before its submit
    typed: int = 0  # messages the child typed themselves (not a button's text)
    longest_prompt: int = 0  # words in the longest question (without its options)
    prompt_words: list[int] = field(default_factory=list)
    not_understood: int = 0
    asked: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.prompts} prompts, {self.words} words to read, {self.sends} sends + "
            f"{self.taps} taps, {self.typed} typed, longest prompt {self.longest_prompt} words, "
            f'{self.not_understood} "didn\'t get that"'
        )


def _count_words(text: str) -> int:
    # Words to read: numbers beside options ("1.", a button "3") are not reading.
    return len(re.findall(r"[^\W\d_]+", text))


class Run:
    """One persona's consultation, from the first message to Send."""

    def __init__(self, persona: Persona, chat: Chat, parts: Any) -> None:
        self.persona, self.chat, self.parts = persona, chat, parts
        self.figures = Figures()
        self.last_words = 0
        self.content = content_of(parts)

    def _heard(self) -> None:
        text = "\n".join(words(a) for a in self.chat.replies)
        self.last_words = _count_words(text)
        self.figures.words += self.last_words
        self.figures.transcript.append(text)
        locale = self.locale()
        not_understood = [
            self.content.text(f"messages.{k}", locale, None).split(".")[0]
            for k in (
                "not_understood",
                "not_understood_multi",
                "not_understood_yesno",
                "not_understood_tap",
                "not_understood_multi_tap",
            )
            if self.content.has(f"messages.{k}", "en")
        ]
        if any(n in text for n in not_understood):
            self.figures.not_understood += 1

    def locale(self) -> str:
        return str(self.chat.last_locale or "en")

    async def say(self, text: str, *, typed: bool = True) -> None:
        self.figures.sends += 1
        self.figures.typed += typed
        await self.chat.say(text, locale=self.persona.device_locale)
        self._heard()

    def _prompt_words(self) -> int:
        """Words in the waiting question itself, without its options and hints."""
        return len(prompt_of(self.chat.last_question()).split())

    async def start(self, code: str) -> None:
        await self.chat.start()
        self._heard()
        await self.say(code)

    async def answer(self, key: str) -> bool:
        """Answers the waiting question; True once the answers were sent."""
        qid = key.split(".")[0]
        self.figures.prompts += 1
        self.figures.asked.append(key)
        self.figures.longest_prompt = max(self.figures.longest_prompt, self._prompt_words())
        self.figures.prompt_words.append(self._prompt_words())
        plan = self.persona.answers.get(qid)
        question = self.content.question(qid) if qid in self._ids() else None
        if plan is None:
            await self._control("skip")
        elif isinstance(plan, str):
            await self.say(plan)
        else:
            await self._pick(plan, question)
        if qid not in ("send_confirm", "review_choice") or not plan:
            return False
        return isinstance(plan, str) or "send" in plan  # typed: the send word in their language

    def _ids(self) -> set[str]:
        return set(self.content.by_id) | set(self.content.system_questions)

    async def _control(self, control: str) -> None:
        label = self.content.text(f"controls.{control}.label", self.locale(), None)
        buttons = self.chat.buttons()
        self.figures.sends += 1
        if label in buttons:
            await self.chat.tap(label)
        else:
            await self.chat.say(control, locale=self.persona.device_locale)
        self._heard()

    async def _pick(self, ids: Pick, question: Any) -> None:
        if ids == (SUGGESTED,):
            await self._suggested()
            return
        choices = self.chat.choices()
        by_id = {v: t for t, v in choices.items()}
        if choices and all(i in by_id for i in ids):
            self.figures.sends += 1
            card = self.chat.last_question()["attachments"][0]["content"]
            if not option_buttons(card):  # ticks before the OK
                self.figures.taps += len(ids)
            await self.chat.pick(*(by_id[i] for i in ids))
            self._heard()
            return
        buttons = self.chat.buttons()
        for title, button in buttons.items():
            value = button.get("value") or {}
            if isinstance(value, dict) and value.get("choice") == ids[0]:
                self.figures.sends += 1
                await self.chat.tap(title)
                self._heard()
                return
        # Suggested actions send their label as text (imBack): a tap, if there is a button.
        labels = [self._label(question, i) for i in ids]
        if len(labels) == 1 and await self._tap_suggested(labels[0]):
            return
        await self.say(", ".join(labels))

    async def _tap_suggested(self, label: str) -> bool:
        """Taps the Web Chat button for an option: its own (a picture may come first), or its
        number where the options are listed and the buttons are numbers."""
        buttons = self.chat.buttons()
        for title in buttons:
            if title == label or title.endswith(f" {label}"):
                self.figures.sends += 1
                await self.chat.tap(title)
                self._heard()
                return True
        for number, rest in NUMBERED.findall(str(self.chat.last_question().get("text") or "")):
            if number in buttons and rest.endswith(label):
                self.figures.sends += 1
                await self.chat.tap(number)
                self._heard()
                return True
        return False

    async def _suggested(self) -> None:
        """Taps the one-tap answer offered with a typing question (the name on the review)."""
        act = self.chat.last_question()
        for att in act.get("attachments") or []:
            offered = suggested_answers(att.get("content") or {})
            if offered:
                self.figures.sends += 1
                await self.chat.post(self.chat.activity(value=next(iter(offered.values()))))
                self._heard()
                return
        name = self.persona.first_name
        assert name in self.chat.buttons(), f"no one-tap answer offered: {self.chat.said}"
        self.figures.sends += 1
        await self.chat.tap(name)
        self._heard()

    def _label(self, question: Any, option_id: str) -> str:
        locale = self.locale()
        if question is not None and question.type == "yesno":
            return self.content.text(f"choice_{option_id}.label", locale, None)
        if question is not None and question.type == "language":
            return self.content.locales[option_id].meta.name
        qid = question.id if question is not None else ""
        return self.content.text(f"questions.{qid}.options.{option_id}.label", locale, None)


async def run_persona(persona: Persona, parts: Any, chat: Chat, code: str) -> Figures:
    """Takes the persona from hello to Send and returns what it took."""
    run = Run(persona, chat, parts)
    await run.start(code)
    for _ in range(80):
        key = await waiting_key(parts, chat)
        if key is None:
            raise AssertionError(f"nothing asked; the bot said:\n{chat.said}")
        if await run.answer(key):
            run.figures.words -= run.last_words  # "Sent!" is read after Send
            return run.figures
    raise AssertionError(f"{persona.name} never reached Send: asked {run.figures.asked}")
