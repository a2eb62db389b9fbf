"""AskDialog: asks one question and waits until the child answers it or uses a control.

It is the only place that waits for the child, so everything that works "at every step" lives
here: help, back, skip, language, pause, start again, talk to someone; stale or repeated card
submits; bursts typed before the next question could be read; pictures and voice notes; answers
that are too long. Each message is first classified (`classify`, a pure function of the
question, the dialog state and the input), then the verdict is applied. Safeguarding screening
has already happened in front of the dialogs (dialogs/screen.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from dialogs.context import (
    HELD_PREFIX,
    Services,
    Turn,
    TurnFacts,
    parse_held_id,
    screened,
)
from dialogs.display import child_text
from dialogs.engine import END_OF_TURN, DialogContext, Result
from dialogs.flow import visible_options
from dialogs.ports import ChatTurn
from dialogs.recognize import Choice, match_many, match_one, match_parts, match_word, normalize
from dialogs.render import (
    CARD_CHANNELS,
    CHANGE,
    CHOICE_INPUT,
    AskView,
    Control,
    answered_card,
    numbers_shown,
    question_activity,
    updated_card_activity,
)
from storage.content import MEANINGS, Question

log = logging.getLogger(__name__)
ASK = "ask"
# Controls that make sense from any card, however old; back and skip belong to one question.
GLOBAL_CONTROLS = ("help", "language", "pause", "restart", "talk", "repeat")
STEP_CONTROLS = ("back", "skip")
# "Start again" last, away from "Carry on" (a slip there would cost every answer), and not on
# the easy path at all, where typing "start again" still works.
HELP_MENU = ("repeat", "talk", "language", "pause", "restart")
# No option label or control word is this long: a longer message is not read as one, which
# keeps a 256 KB message from costing seconds of recognition.
RECOGNISED_CHARS = 300
# The option of a pick-more-than-one question that typed words matching no option go under.
SOMETHING_ELSE = "something_else"
CODE = "invite_code"
CLOCK_SKEW_SECONDS = 2.0
RESEND_HORIZON_SECONDS = 600.0
# How many recent delays (arrival less the activity's own timestamp) a chat remembers.
DELAYS_KEPT = 20


@dataclass(frozen=True)
class Incoming:
    """A message from the child, reduced to what we branch on."""

    text: str | None
    payload: dict[str, Any] | None
    media: str | None

    @classmethod
    def of(cls, context: ChatTurn) -> Incoming:
        act = context.activity
        payload = act.value if isinstance(act.value, dict) else None
        text = act.text.strip() if isinstance(act.text, str) and act.text.strip() else None
        media = None
        for att in act.attachments or []:
            ct = (att.content_type or "").lower()
            if ct.startswith("image/"):
                media = "picture"
            elif ct.startswith("audio/"):
                media = "voice"
            elif ct.startswith(("video/", "application/vnd.microsoft.teams.file")) or (
                ct.startswith("application/") and "card" not in ct
            ):
                media = media or "file"
        return cls(text, payload, media)

    @property
    def typed(self) -> str | None:
        """Text the child typed themselves (a button's label is not typing)."""
        return None if self.payload else self.text


@dataclass(frozen=True)
class Verdict:
    """What a message is, for the question waiting: decided before anything is done."""

    kind: Literal[
        "answer",
        "control",
        "stale",
        "burst",
        "too_long",
        "media",
        "unclear",
        "greet",
        "none_ticked",
        "change",
        "handled",
        "glossary",
        "wait",
        "ask_again",
    ]
    answer: tuple[str, Any] | None = None
    control: str | None = None
    text: str | None = None
    media: str | None = None
    # A typed pick-more-than-one answer: what matched no option, as typed ("my dog").
    rest: str | None = None


@dataclass(frozen=True)
class Case:
    """One message at one question: everything a rule may look at."""

    question: Question
    state: Mapping[str, Any]
    inc: Incoming
    choices: list[Choice]
    typed_control: Callable[[str], str | None]
    paused: bool
    burst: bool
    disclosed: bool
    suggestions: Sequence[str]
    meanings: Mapping[str, frozenset[str]] | None
    negations: frozenset[str]
    # What the chat knows besides the message: the screen's verdict on it (answered by the
    # screen itself: `handled`, which may `ask` the question now), the glossary term it asks
    # about, whether the help after a worry is still the last thing on screen ("unseen" or
    # "seen"), and whether the message only says "ready".
    handled: bool = False
    ask_now: bool = False
    glossary: str | None = None
    after_help: str | None = None
    ready: bool = False
    # The chat was paused ("pause"): a glossary word then greets, as any message does.
    paused_chat: bool = False

    @property
    def payload(self) -> Mapping[str, Any]:
        return self.inc.payload or {}

    @property
    def short_text(self) -> str | None:
        """What was typed, if short enough to be read as a label, number or control word."""
        text = self.inc.text
        return text if text and len(text) <= RECOGNISED_CHARS else None

    def answered(self, answer: tuple[str, Any]) -> Verdict:
        if self.disclosed and answer[0] == "text" and not self.question.takes_disclosures:
            # A worry typed at the name or code question is not a name or a wrong code: the
            # alert keeps it, and the question is asked again after the help.
            return Verdict("unclear")
        return Verdict("answer", answer=answer)


Rule = Callable[[Case], "Verdict | None"]


def answer_tapped_in_list(case: Case) -> Verdict | None:
    """An answer tapped in the check list above the question: change that one."""
    tapped = case.payload.get(CHANGE)
    if isinstance(tapped, str) and case.state["qid"] in ("send_confirm", "which_answer"):
        return Verdict("change", text=tapped)
    return None


def answered_by_the_screen(case: Case) -> Verdict | None:
    """The screen answered this message itself (the gentle check's answer, a word about the
    worry): it answers no question."""
    return Verdict("handled") if case.handled else None


def asks_what_a_word_means(case: Case) -> Verdict | None:
    """ "What's an IRO?": answered in a line, and the question stays where it was."""
    if case.glossary is not None and not case.paused_chat and not case.disclosed:
        return Verdict("glossary", text=case.glossary)
    return None


def after_the_help(case: Case) -> Verdict | None:
    """While the help after a worry is the last thing on screen: another worry waits; "OK",
    "ready" (or anything, before the question was seen) brings the question. Once seen, a
    message may well answer it ("its boring and teachers pick on me") and goes on."""
    if not case.after_help or case.inc.payload:
        return None
    if case.disclosed:
        return Verdict("wait")
    if case.after_help != "seen" or case.ready:
        return Verdict("ask_again")
    return None


def paused_greets(case: Case) -> Verdict | None:
    """They were told "just say hi": what they type now greets, it does not answer."""
    return Verdict("greet") if case.paused and not case.inc.payload else None


def _tapped_control(case: Case) -> str | None:
    ctl = case.payload.get("ctl")
    return ctl if ctl in (*GLOBAL_CONTROLS, *STEP_CONTROLS) else None


def old_card(case: Case) -> Verdict | None:
    """A tap on a card of an earlier question (or an earlier asking of this one) answers
    nothing; help, language and the like still work from any card."""
    p, state = case.payload, case.state
    stale = "q" in p and (p.get("q") != state["key"] or p.get("n") != state["n"])
    return Verdict("stale") if stale and _tapped_control(case) not in GLOBAL_CONTROLS else None


def control_tapped(case: Case) -> Verdict | None:
    ctl = _tapped_control(case)
    return Verdict("control", control=ctl) if ctl is not None else None


def typed_too_soon(case: Case) -> Verdict | None:
    """Typed before the question could be read. A label of the new question is a button tapped
    on it (Web Chat sends the label as text), so only other text counts."""
    text = case.inc.text
    if not case.burst or text is None or _is_a_label(text, case.choices):
        return None
    typed = case.typed_control(text)
    return Verdict("control", control=typed) if typed else Verdict("burst", text=text)


def nothing_ticked(case: Case) -> Verdict | None:
    """OK on a pick-more-than-one card with nothing ticked."""
    p = case.payload
    multi = case.question.type == "multi"
    return (
        Verdict("none_ticked")
        if multi and "q" in p and not p.get(CHOICE_INPUT) and not p.get("opt")
        else None
    )


def option_tapped(case: Case) -> Verdict | None:
    answer = _from_payload(case.question, case.payload, case.choices) if case.payload else None
    return case.answered(answer) if answer is not None else None


def suggestion_tapped(case: Case) -> Verdict | None:
    """A one-tap answer offered with a typing question (the name on the review)."""
    say = case.payload.get("say")
    if case.question.type == "text" and say in case.suggestions:
        return case.answered(("text", str(say)))
    return None


def one_tap_label_typed(case: Case) -> Verdict | None:
    """A one-tap answer to a typing question, tapped on Web Chat (its label comes as text) or
    typed just so. Anything else typed is the child's own words."""
    text = case.short_text
    if text is None or case.question.type != "text" or not case.choices:
        return None
    said = normalize(text)
    exact = [c.id for c in case.choices if said and said in c.words()]
    return case.answered(("choice", exact[0])) if len(exact) == 1 else None


def parts_typed(case: Case) -> Verdict | None:
    """Several options typed in one message ("my carer and my dog"); what matched none is kept
    beside them, under "something else" where the question has it."""
    text = case.short_text
    if text is None or case.question.type != "multi":
        return None
    found, rest = match_parts(text, case.choices, case.negations)
    if not found or (len(rest) == 1 and case.typed_control(rest[0])):
        return None
    ids = {c.id for c in case.choices}
    if rest and SOMETHING_ELSE in ids and SOMETHING_ELSE not in found:
        found = [c.id for c in case.choices if c.id in {*found, SOMETHING_ELSE}]
    return Verdict("answer", answer=("choices", found), rest=", ".join(rest) or None)


def meaning_typed(case: Case) -> Verdict | None:
    """ "whatever", "idk", "nah" (the whole message): what it means, not what it says; before
    labels inside a sentence, or "not sure" would be "sure", a yes."""
    text = case.short_text
    if text is None or not case.meanings:
        return None
    stored = bool(case.state.get("store"))
    answer = _by_meaning(case.question, text, case.choices, case.meanings, stored=stored)
    return case.answered(answer) if answer is not None else None


def label_typed(case: Case) -> Verdict | None:
    """An option's label, other word or number, typed."""
    text = case.short_text
    if text is None or case.question.type == "text":
        return None
    answer = _from_text(case.question, text, case.choices, case.negations)
    return case.answered(answer) if answer is not None else None


def control_typed(case: Case) -> Verdict | None:
    typed = case.typed_control(case.inc.text) if case.inc.text else None
    return Verdict("control", control=typed) if typed is not None else None


def own_words(case: Case) -> Verdict | None:
    """A typing question's answer: the child's own words (or a picture, where it is stored)."""
    question, inc = case.question, case.inc
    if question.type != "text":
        return None
    if inc.text is not None and len(inc.text) > question.max_length:
        return Verdict("too_long")
    if inc.text is not None:
        return case.answered(("text", inc.text))
    if inc.media and case.state.get("store"):
        return case.answered(("media", inc.media))
    return None


def media_sent(case: Case) -> Verdict | None:
    return Verdict("media", media=case.inc.media) if case.inc.media else None


# Verdicts about the chat rather than an answer to the question: they leave its pause and the
# help after a worry as they were.
ABOUT_THE_CHAT = frozenset({"change", "handled", "glossary", "wait", "ask_again"})

# Every decision about a message at a question, in order: the first rule with a verdict wins.
# Taps and states first, then the readings of an answer from the most certain (a tap) to the
# least (words typed), then what is left.
RULES: tuple[Rule, ...] = (
    answer_tapped_in_list,
    answered_by_the_screen,
    asks_what_a_word_means,
    after_the_help,
    paused_greets,
    old_card,
    control_tapped,
    typed_too_soon,
    nothing_ticked,
    option_tapped,
    suggestion_tapped,
    one_tap_label_typed,
    parts_typed,
    meaning_typed,
    label_typed,
    control_typed,
    own_words,
    media_sent,
)


def classify(
    question: Question,
    state: Mapping[str, Any],
    inc: Incoming,
    choices: list[Choice],
    typed_control: Callable[[str], str | None],
    *,
    paused: bool,
    burst: bool,
    disclosed: bool = False,
    suggestions: Sequence[str] = (),
    meanings: Mapping[str, frozenset[str]] | None = None,
    negations: frozenset[str] = frozenset(),
    **chat: Any,
) -> Verdict:
    """The same question, state and input always give the same verdict; nothing is stored.
    `chat`: what the chat knows besides the message (Case: handled, ask_now, glossary,
    after_help, ready, paused_chat)."""
    if inc.text is not None and len(inc.text) > RECOGNISED_CHARS:
        typed_control = _no_control
    case = Case(
        question,
        state,
        inc,
        choices,
        typed_control,
        paused,
        burst,
        disclosed,
        suggestions,
        meanings,
        negations,
        **chat,
    )
    for rule in RULES:
        verdict = rule(case)
        if verdict is not None:
            return verdict
    return Verdict("unclear")


WELCOME_AGAIN_SECONDS = 600


def welcome_due(turn: Turn) -> bool:
    """Whether to say "welcome back" now: once per return, not again within minutes (a reopened
    chat says it, then the child's "hi" would say it twice)."""
    now = turn.now().timestamp()
    last = turn.profile.get("welcomed_at")
    if isinstance(last, (int, float)) and now - last < WELCOME_AGAIN_SECONDS:
        return False
    turn.profile["welcomed_at"] = now
    return True


def glossary_term(turn: Turn, text: str) -> str | None:
    """The word a short question asks the meaning of ("what's an IRO?", "شو يعني مناصر"), as
    the id of its entry under glossary: in content; None for anything else."""
    if len(text) > 80:  # before normalising: NFKC can make one character eighteen
        return None
    norm = normalize(text)
    if not norm or len(norm.split()) > 7:
        return None
    padded = f" {norm.replace('?', ' ')} "
    # A question, not an answer that mentions the word: it starts with a question word or
    # ends with a question mark ("i want my advocate there" is an answer).
    asks = turn.content.synonyms("glossary.ask", turn.locale)
    starts = any(padded.startswith(f" {normalize(w)} ") for w in asks if normalize(w))
    if not (starts or text.rstrip().endswith(("?", "؟"))):
        return None
    if turn.review is not None and turn.review.iro_name:
        # "who is pat lee", "who's pat?": their IRO, by name.
        full = normalize(turn.review.iro_name)
        names = {full, full.split()[0]} if full else set()
        if any(len(n) >= 2 and f" {n} " in padded for n in names):
            return "iro_person"
    english = turn.content.locales["en"].strings
    terms = [
        k.split(".")[1] for k in english if k.startswith("glossary.") and k.endswith(".answer")
    ]
    for term in terms:
        for word in turn.content.synonyms(f"glossary.{term}", turn.locale):
            if normalize(word) and f" {normalize(word)} " in padded:
                return term
    return None


def _is_a_label(text: str, choices: list[Choice]) -> bool:
    said = normalize(text)
    return bool(said) and any(said == normalize(c.label) for c in choices)


def _no_control(text: str) -> str | None:
    return None


def _from_payload(
    question: Question, payload: Mapping[str, Any], choices: list[Choice]
) -> tuple[str, Any] | None:
    ids = {c.id for c in choices}
    raw = payload.get("opt", payload.get(CHOICE_INPUT))
    if raw is None:
        return None
    picked = [x for x in str(raw).split(",") if x]
    if not picked or any(x not in ids for x in picked):
        return None
    if question.type == "text":
        # One of a typing question's one-tap answers ("No one").
        return ("choice", picked[0]) if len(picked) == 1 else None
    return _typed_answer(question, picked)


def _from_text(
    question: Question, text: str, choices: list[Choice], negations: frozenset[str]
) -> tuple[str, Any] | None:
    if question.type == "multi":
        many = match_many(text, choices, negations)
        return _typed_answer(question, many) if many else None
    one = match_one(text, choices, negations)
    return _typed_answer(question, [one]) if one else None


# The meanings a yes/no question keeps as such ("not sure", "don't mind"); a "nothing" there is
# left to the yes/no words.
SHRUGS = ("not_sure", "any")


def meanings_for(turn: Turn) -> dict[str, frozenset[str]]:
    """Each meaning's words in the child's language and English, normalised."""
    return {
        m: frozenset(
            n for w in turn.content.synonyms(f"meanings.{m}", turn.locale) if (n := normalize(w))
        )
        for m in MEANINGS
    }


def _by_meaning(
    question: Question,
    text: str,
    choices: list[Choice],
    meanings: Mapping[str, frozenset[str]],
    *,
    stored: bool,
) -> tuple[str, Any] | None:
    """The option a shrug or a "nothing" picks (`means:` in content); on a stored yes/no
    question, "not sure" or "don't mind" as such. A written answer's options count even where
    not shown: "nah" to who should not come is "No one" on every path."""
    said = normalize(text)
    shown = {c.id for c in choices}
    for meaning in (m for m in MEANINGS if said in meanings.get(m, ())):
        for option in question.options:
            if meaning in option.means and (question.type == "text" or option.id in shown):
                if question.type == "text":
                    return ("choice", option.id)
                return _typed_answer(question, [option.id])
        if question.type == "yesno" and stored and meaning in SHRUGS:
            return ("unsure", meaning)
    return None


def _typed_answer(question: Question, ids: list[str]) -> tuple[str, Any] | None:
    if question.type == "multi":
        return ("choices", ids)
    if len(ids) != 1:
        return None
    if question.type == "yesno":
        return ("yesno", ids[0] == "yes")
    return ("choice", ids[0])


def choices_for(turn: Turn, question: Question) -> list[Choice]:
    c = turn.content
    if question.type == "language":
        return [
            Choice(code, loc.meta.name, (code, *loc.meta.synonyms))
            for code, loc in c.locales.items()
        ]
    if question.type == "yesno":
        return [
            Choice("yes", turn.t("choice_yes.label"), tuple(c.synonyms("choice_yes", turn.locale))),
            Choice("no", turn.t("choice_no.label"), tuple(c.synonyms("choice_no", turn.locale))),
        ]
    base = f"questions.{question.id}.options"
    # On the easy path each option carries its picture, so it can be found without reading.
    easy = turn.easy
    return [
        Choice(
            o.id,
            f"{o.emoji} {label}" if easy and o.emoji else label,
            tuple(c.synonyms(f"{base}.{o.id}", turn.locale)),
        )
        for o in visible_options(question, turn.facts())
        for label in (turn.t(f"{base}.{o.id}.label"),)
    ]


OTHER = "other"
# The words a child typed for a choice, where they say more than its label (`<key>.said`).
SAID = "said"


def describe(turn: Turn, question: Question, kind: str, value: Any, key: str | None = None) -> str:
    """An answer in the child's own language, as they would recognise it (with what they typed
    that named no option, when `key` is given)."""
    if kind == "skipped":
        return turn.msg("answer_skipped")
    if kind == "unsure":
        return turn.msg(f"answer_{value}")
    if kind == "media":
        return turn.msg(f"answer_{value}")
    if kind == "text":
        return child_text(str(value))
    labels = {ch.id: ch.label for ch in choices_for(turn, question)}
    if question.type == "language":
        labels = {code: loc.meta.name for code, loc in turn.content.locales.items()}
    if kind == "yesno":
        return labels["yes" if value else "no"]
    ids = [value] if kind == "choice" else list(value)
    base = f"questions.{question.id}.options"
    shown = [labels.get(i) or turn.t(f"{base}.{i}.label") for i in ids]
    other = turn.answers.get(f"{key}.{OTHER}") if key else None
    if other is not None and other.kind == "text":
        shown.append(f"“{child_text(str(other.value))}”")
    return turn.msg("list_separator").join(shown)


def prompt_for(turn: Turn, question: Question, topic: str | None, extra: dict[str, Any]) -> str:
    about = {}
    if topic is not None and question.for_each_chosen:
        about["topic"] = turn.t(f"questions.{question.for_each_chosen}.options.{topic}.about")
    return turn.t(f"questions.{question.id}.prompt", **about, **extra)


def check_label(turn: Turn, question: Question, topic: str | None) -> str:
    """The short name of a question in the list the child checks ("Where", "About school"):
    the whole prompt where content gives none in the child's language."""
    key = f"questions.{question.id}.check"
    if not turn.content.has(key, turn.locale):
        return prompt_for(turn, question, topic, {})
    about = {}
    if topic is not None and question.for_each_chosen:
        about["topic"] = turn.t(f"questions.{question.for_each_chosen}.options.{topic}.about")
    return turn.t(key, **about)


class AskDialog:
    """Options: qid, topic, key, store, can_back, silent, intro, values. Ends with
    {"kind", "value"} for an answer or {"control": "back" | "skip"}."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def begin(self, dc: DialogContext, options: dict[str, Any] | None = None) -> Result:
        turn = await Turn.load(self.services, dc.context)
        state = dc.state
        state.update(dict(options or {}))
        state.setdefault("key", state["qid"])
        turn.profile["asks"] = turn.profile.get("asks", 0) + 1
        state["n"] = turn.profile["asks"]
        if screened(turn.context).worry and not state.get("nested") and state["qid"] != CODE:
            # After a worry the help (or the gentle check) stays the last thing on screen: the
            # next question, not seen yet, comes when the child says they are ready (the code is
            # short, and they came to type it).
            turn.profile["after_help"] = "unseen"
        elif not state.get("silent"):
            await self._ask(turn, state, intro=state.get("intro", True))
        return END_OF_TURN

    async def continue_(self, dc: DialogContext) -> Result:
        """Classifies the message against the question waiting, then acts on the verdict."""
        if dc.context.activity.type != "message":
            return END_OF_TURN
        turn = await Turn.load(self.services, dc.context)
        state = dc.state
        question = turn.content.question(state["qid"])
        inc = Incoming.of(dc.context)
        said = screened(dc.context)
        paused_chat = "paused" in turn.profile
        after_help = turn.profile.get("after_help")
        # "Hi", "pershendetje": coming back, as the bot told them to, not an answer.
        greets = inc.typed is not None and match_word(
            inc.typed, turn.content.synonyms("greetings", turn.locale)
        )
        suggestions = self._suggestions(turn, question)
        # A one-tap answer tapped at once (Web Chat sends its label as text) is a tap, however
        # quick, not words typed before the question could be read.
        tapped = inc.text is not None and match_word(inc.text, suggestions)
        verdict = classify(
            question,
            state,
            inc,
            choices_for(turn, question),
            lambda text: self._typed_control(turn, text),
            paused=paused_chat or greets,
            # Asked first: it also keeps this message's delay, which later resends are judged by.
            burst=self._is_burst(turn, state, inc) and not tapped,
            disclosed=said.worry,
            suggestions=suggestions,
            meanings=meanings_for(turn),
            negations=frozenset(
                normalize(w) for w in turn.content.synonyms("negations", turn.locale)
            ),
            handled=said.handled,
            ask_now=said.ask,
            glossary=glossary_term(turn, inc.typed) if inc.typed else None,
            after_help=after_help,
            ready=self._ready(turn, inc.text),
            paused_chat=paused_chat,
        )
        if verdict.kind not in ABOUT_THE_CHAT:
            # The message is read against the question itself: the pause is over, and the help
            # after a worry is no longer what it answers.
            turn.profile.pop("paused", None)
            if after_help and not inc.payload:
                turn.profile.pop("after_help", None)
        return await self._apply(dc, turn, state, question, verdict, paused=paused_chat or greets)

    async def _apply(
        self,
        dc: DialogContext,
        turn: Turn,
        state: dict[str, Any],
        question: Question,
        verdict: Verdict,
        *,
        paused: bool,
    ) -> Result:
        """Does what the verdict says; an answer is stored before anything is said back."""
        about_the_chat = self._about_the_chat.get(verdict.kind)
        if about_the_chat is not None:
            return await about_the_chat(self, dc, turn, state, verdict)
        if verdict.kind == "greet" and state["qid"] != CODE and welcome_due(turn):
            await turn.say("welcome_back")
        if verdict.kind == "control" and verdict.control:
            return await self._control(dc, turn, state, question, verdict.control)
        not_an_answer = self._not_an_answer.get(verdict.kind)
        if not_an_answer is not None:
            await not_an_answer(self, turn, state, question, verdict)
            return END_OF_TURN
        if verdict.answer is None:
            return await self._no_answer(turn, state, question, verdict, paused=paused)
        return await self._answered(dc, turn, state, question, verdict, verdict.answer)

    async def _stale(
        self, turn: Turn, state: dict[str, Any], question: Question, verdict: Verdict
    ) -> None:
        """A tap on an old card: said so, and the question waiting again below (the tap may be
        a resend whose first turn moved on while its replies were lost in a crash, and the
        child would otherwise be left with nothing to answer)."""
        payload = turn.context.activity.value
        log.info(
            "tap on an old card",
            extra={
                "tapped": str(payload.get("q") if isinstance(payload, dict) else "")[:40],
                "waiting": state["key"],
            },
        )
        await turn.say("stale_card")
        await self._ask(turn, state, intro=False)

    async def _burst_came(
        self, turn: Turn, state: dict[str, Any], question: Question, verdict: Verdict
    ) -> None:
        """Typed before the question could be read: kept where it belongs if it can be, else
        the question it came in under is named and shown again, last on screen."""
        if verdict.text is not None and not await self._burst(turn, verdict.text):
            label = check_label(turn, question, state.get("topic"))
            await turn.say("burst_next", question=label)
            await self._ask(turn, state, intro=False)

    async def _none_ticked(
        self, turn: Turn, state: dict[str, Any], question: Question, verdict: Verdict
    ) -> None:
        """OK with nothing ticked: the card is still there, ticks and all; no second one."""
        await turn.say("none_ticked")

    async def _too_long(
        self, turn: Turn, state: dict[str, Any], question: Question, verdict: Verdict
    ) -> None:
        await turn.say("too_long", max=question.max_length)

    _not_an_answer: ClassVar[dict[str, Callable[..., Awaitable[None]]]] = {
        "stale": _stale,
        "burst": _burst_came,
        "none_ticked": _none_ticked,
        "too_long": _too_long,
    }

    async def _no_answer(
        self,
        turn: Turn,
        state: dict[str, Any],
        question: Question,
        verdict: Verdict,
        *,
        paused: bool,
    ) -> Result:
        """Nothing to store (a picture, words that answer nothing, a worry): said so, and the
        question again, unless the help after a worry is to stay last."""
        worry = screened(turn.context).worry
        if verdict.kind == "media" and verdict.media:
            await self._note_media(turn, state, verdict.media)
        elif verdict.kind == "unclear" and not worry and not paused:
            await turn.say(self._sorry(turn, question))
        if worry and state["qid"] != CODE:
            # A worry, not an answer: the help stays last; asked again when they are ready.
            turn.profile["after_help"] = "seen"
            return END_OF_TURN
        await self._ask(turn, state, intro=False)
        return END_OF_TURN

    async def _answered(
        self,
        dc: DialogContext,
        turn: Turn,
        state: dict[str, Any],
        question: Question,
        verdict: Verdict,
        answer: tuple[str, Any],
    ) -> Result:
        """Stores the answer (and typed words that named no option beside it), says back what
        typing was read as, and ends the question."""
        kind, value = answer
        if state.get("store") or question.type == "language":
            await self._store(turn, state, kind, value)
            if kind == "choices":
                # Typed words that named no option are kept, not dropped (or a stale
                # "something else" from an earlier answer is cleared).
                other = {"key": f"{state['key']}.{OTHER}"}
                if verdict.rest:
                    await self._store(turn, other, "text", verdict.rest)
                elif other["key"] in turn.answers:
                    await self._forget(turn, other["key"])
            await self._keep_their_words(turn, state, question, kind, value)
        if kind == "choices" and Incoming.of(turn.context).typed:
            # Typing is read, not tapped: say back what was understood, so it can be fixed.
            understood = describe(turn, question, kind, value, state["key"])
            await turn.say("got_it", answer=understood)
        if question.type == "language":
            await self._switch_language(turn, value)
        if kind == "media":
            await turn.say(f"media_{value}")
        await self._mark_card_answered(turn, state, question, kind, value)
        self._moved_on(turn, state, question, kind)
        return await dc.end({"kind": kind, "value": value})

    async def _change_tapped(
        self, dc: DialogContext, turn: Turn, state: dict[str, Any], verdict: Verdict
    ) -> Result:
        """An answer tapped in the check list above: change that one."""
        if state["qid"] == "which_answer":
            return await dc.end({"kind": "text", "value": verdict.text})
        return await dc.end({"kind": "choice", "value": "change", "key": verdict.text})

    async def _handled(
        self, dc: DialogContext, turn: Turn, state: dict[str, Any], verdict: Verdict
    ) -> Result:
        """Answered by the screen: the question comes if the screen says so."""
        if screened(turn.context).ask:
            await self._ask(turn, state, intro=turn.profile.get("after_help") == "unseen")
        return END_OF_TURN

    async def _glossary(
        self, dc: DialogContext, turn: Turn, state: dict[str, Any], verdict: Verdict
    ) -> Result:
        await turn.context.send_activity(turn.message(turn.t(f"glossary.{verdict.text}.answer")))
        await self._ask(turn, state, intro=False)
        return END_OF_TURN

    async def _wait(
        self, dc: DialogContext, turn: Turn, state: dict[str, Any], verdict: Verdict
    ) -> Result:
        """Another worry after the help: the screen has answered it, and still no question."""
        return END_OF_TURN

    async def _ask_again(
        self, dc: DialogContext, turn: Turn, state: dict[str, Any], verdict: Verdict
    ) -> Result:
        """Ready after the help: the question, now (with its intro if they have not seen it)."""
        unseen = turn.profile.get("after_help") != "seen"
        await self._ask(turn, state, intro=unseen and state.get("intro", True))
        return END_OF_TURN

    _about_the_chat: ClassVar[dict[str, Callable[..., Awaitable[Result]]]] = {
        "change": _change_tapped,
        "handled": _handled,
        "glossary": _glossary,
        "wait": _wait,
        "ask_again": _ask_again,
    }

    @staticmethod
    def _sorry(turn: Turn, question: Question) -> str:
        """What to say to an answer not understood: "type its number" only where the question
        on screen shows numbers."""
        if question.type == "text":
            return "empty_text"
        if question.type == "yesno":
            return "not_understood_yesno"
        asked = turn.profile.get("asked")
        numbers = not isinstance(asked, dict) or asked.get("numbers", True)
        if question.type == "multi":
            return "not_understood_multi" if numbers else "not_understood_multi_tap"
        return "not_understood" if numbers else "not_understood_tap"

    async def _keep_their_words(
        self, turn: Turn, state: dict[str, Any], question: Question, kind: str, value: Any
    ) -> None:
        """Typed words read as a choice ("after skool n weekends", "whatever"): kept beside it
        (`<key>.said`), so the IRO sees what they meant and what they wrote. Not a number, a
        label or yes/no as shown: those say nothing more."""
        typed = Incoming.of(turn.context).typed
        key = f"{state['key']}.{SAID}"
        if kind in ("choice", "choices", "yesno", "unsure") and typed and state.get("store"):
            said = normalize(typed)
            chosen = [value] if kind == "choice" else value if kind == "choices" else []
            shown = {
                w
                for c in choices_for(turn, question)
                if c.id in chosen or kind == "yesno"
                for w in c.words()
            }
            shrugs = set().union(*meanings_for(turn).values())  # "whatever" says no more
            if said and not re.fullmatch(r"[\d\s]+", said) and said not in shown | shrugs:
                await self._store(turn, {"key": key}, "text", typed)
                return
        if key in turn.answers:
            await self._forget(turn, key)

    async def _forget(self, turn: Turn, key: str) -> None:
        await turn.services.repos.answers.delete(
            review_id=turn.review.id or 0 if turn.review else 0, question_ids=[key]
        )
        turn.answers.pop(key, None)

    def _moved_on(self, turn: Turn, state: dict[str, Any], question: Question, kind: str) -> None:
        """Remembers, for the next question asked in this turn, what was just answered."""
        turn.profile["after"] = {
            "key": state["key"],
            "qid": question.id,
            "kind": kind,
            "stored": bool(state.get("store")) and turn.review is not None,
            "t": TurnFacts.of(turn.context).received_at,
        }

    def _is_burst(self, turn: Turn, state: dict[str, Any], inc: Incoming) -> bool:
        """Typed before the child could have read the question now waiting (README: bursts).
        Decided from when the child sent it, not when it arrived, so that a channel's resend
        after a crash, however late, is judged as the original was."""
        asked = turn.profile.get("asked")
        sent = self._sent_at(turn)
        if inc.payload or inc.text is None or not isinstance(asked, dict) or sent is None:
            return False
        if asked.get("n") != state.get("n") or not asked.get("after"):
            return False
        at = float(asked["at"])
        if sent[0] < at + self.services.burst_window.total_seconds():
            return True
        # By its own timestamp it was sent before that question existed (clocks differ a little,
        # hence the margin): a resend that arrives long after, with no live delay to go by yet.
        return sent[1] is not None and sent[1] < at - CLOCK_SKEW_SECONDS

    @staticmethod
    def _sent_at(turn: Turn) -> tuple[float, float | None] | None:
        """When the child sent this message, on this server's clock, and by the activity's own
        timestamp. The first is that timestamp moved by the least delay this chat's messages
        have had (the channel's clock may differ from ours; a resend's delay is large, so the
        least is a live one's), or the time it arrived when the channel sends no usable one."""
        received = TurnFacts.of(turn.context).received_at
        stamp = turn.context.activity.timestamp
        if not isinstance(stamp, datetime):
            return None if received is None else (float(received), None)
        sent = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
        if received is None:
            return sent, sent
        delay = float(received) - sent
        if abs(delay) > RESEND_HORIZON_SECONDS:
            return float(received), None  # a stand-in channel's odd timestamp
        delays = [d for d in turn.profile.get("delays", []) if isinstance(d, (int, float))]
        turn.profile["delays"] = [*delays[-(DELAYS_KEPT - 1) :], round(delay, 3)]
        return sent + min([*delays, delay]), sent

    async def _burst(self, turn: Turn, text: str) -> bool:
        """Adds the message to the written answer just given; False when it cannot be."""
        after = (turn.profile.get("asked") or {}).get("after") or {}
        previous = turn.answers.get(str(after.get("key")))
        if after.get("stored") and after.get("kind") == "text" and previous is not None:
            combined = f"{previous.value}\n{text}"
            if previous.kind == "text" and len(combined) <= self._max_length(turn, after):
                await self._store(turn, {"key": after["key"]}, "text", combined)
                await turn.say("burst_added")
                return True
        return False

    @staticmethod
    def _max_length(turn: Turn, after: dict[str, Any]) -> int:
        try:
            return turn.content.question(str(after.get("qid"))).max_length
        except KeyError:
            return 0

    async def resume(self, dc: DialogContext, result: Any = None) -> Result:
        """Back from a nested ask (change language, or confirm start again)."""
        turn = await Turn.load(self.services, dc.context)
        state = dc.state
        pending = state.pop("pending", None)
        if pending == "restart" and isinstance(result, dict):
            if result.get("value") is True:
                if turn.review is not None:
                    await turn.services.repos.answers.clear(review_id=turn.review.id or 0)
                    turn.answers = {}
                await dc.cancel_all()
                return await dc.begin("consultation", {"restart": True})
            await turn.say("restart_cancelled")
        state["n"] = turn.profile["asks"] = turn.profile.get("asks", 0) + 1
        await self._ask(turn, state, intro=False)
        return END_OF_TURN

    async def reprompt(self, dc: DialogContext) -> None:
        turn = await Turn.load(self.services, dc.context)
        await self._ask(turn, dc.state, intro=False)

    # --- parts ----------------------------------------------------------------------------

    async def _ask(self, turn: Turn, state: dict[str, Any], *, intro: bool) -> None:
        question = turn.content.question(state["qid"])
        turn.profile.pop("after_help", None)  # the question is on screen now
        before = state.pop("before", None)
        if before is not None:
            # What belongs above this question (the list of answers), held back while help
            # for a worry had to stay the last thing on screen.
            await turn.context.send_activity(before)
        if intro and turn.content.has(f"questions.{question.id}.intro", "en"):
            await turn.context.send_activity(turn.message(turn.t(f"questions.{question.id}.intro")))
        controls = []
        if state.get("can_back"):
            controls.append("back")
        if not question.essential:
            controls.append("skip")
        controls += [*question.controls, "help"]
        options = tuple(choices_for(turn, question))
        prompt = prompt_for(turn, question, state.get("topic"), state.get("values", {}))
        stored = turn.answers.get(state["key"]) if state.get("store") else None
        if stored is not None and stored.kind != "skipped":
            # Asked again (back, a change, coming back): what they said is there to keep or change.
            shown = describe(turn, question, stored.kind, stored.value, state["key"])
            prompt = f"{prompt}\n{turn.t('controls.answered.label', answer=shown)}"
        view = AskView(
            key=state["key"],
            nonce=state["n"],
            type=question.type,
            prompt=prompt,
            options=options,
            controls=tuple(Control(c, turn.t(f"controls.{c}.label")) for c in controls),
            submit_label=turn.t("controls.submit.label"),
            rtl=turn.content.direction(turn.locale) == "rtl",
            # Until the child has typed a couple of answers: after that they know how.
            # Not where one-tap answers are offered: the prompt says "tap or type" there.
            hint=turn.msg("type_hint")
            if question.type == "text" and turn.profile.get("typed", 0) < 2 and not options
            else None,
            suggestions=self._suggestions(turn, question),
        )
        sent = await turn.context.send_activity(
            question_activity(view, turn.context.activity.channel_id or "", turn.locale)
        )
        if sent is not None and sent.id:
            state["card"] = sent.id  # to replace it with the answer, tapped or typed
        after = turn.profile.pop("after", None)
        this_turn = TurnFacts.of(turn.context).received_at
        turn.profile["asked"] = {
            "key": state["key"],
            "qid": question.id,
            "n": state["n"],
            "at": turn.now().timestamp(),
            "numbers": numbers_shown(view, turn.context.activity.channel_id or ""),
            # Only an answer given in this same turn makes this "the next question".
            "after": after if isinstance(after, dict) and after.get("t") == this_turn else None,
        }

    @staticmethod
    def _suggestions(turn: Turn, question: Question) -> tuple[str, ...]:
        if question.suggest == "review_name" and turn.review is not None and turn.trusted:
            return (turn.review.preferred_name or turn.review.first_name,)
        return ()

    @staticmethod
    def _ready(turn: Turn, text: str | None) -> bool:
        """ "OK", "ready", "carry on": nothing to answer, only ready for the question."""
        words = [turn.t("controls.repeat.label"), *turn.content.synonyms("ready", turn.locale)]
        return text is not None and match_word(text, words)

    def _typed_control(self, turn: Turn, text: str) -> str | None:
        for ctl in (*STEP_CONTROLS, *GLOBAL_CONTROLS):
            # Its label too: Web Chat sends a tapped button's label as text ("Carry on" under
            # the help, which has no other words). The whole message only, never inside one.
            words = [
                turn.t(f"controls.{ctl}.label"),
                *turn.content.synonyms(f"controls.{ctl}", turn.locale),
            ]
            if match_word(text, words):
                return ctl
        return None

    async def _control(
        self, dc: DialogContext, turn: Turn, state: dict[str, Any], question: Question, ctl: str
    ) -> Result:
        """A control typed or tapped at a question: its handler, which ends the step or starts
        another, or says why it cannot; then, unless it ended the turn, the question again."""
        act = self._controls.get(ctl)
        done = await act(self, dc, turn, state, question) if act is not None else None
        if done is not None:
            return done
        await self._ask(turn, state, intro=False)
        return END_OF_TURN

    async def _back(
        self, dc: DialogContext, turn: Turn, state: dict[str, Any], question: Question
    ) -> Result | None:
        """To the question before, where there is one a child on this device may change."""
        if state.get("can_back"):
            return await dc.end({"control": "back"})
        await turn.say("back_at_start" if turn.trusted else "limited_no_change")
        return None

    async def _skip(
        self, dc: DialogContext, turn: Turn, state: dict[str, Any], question: Question
    ) -> Result | None:
        """Stores a skip and moves on, unless the question is one the review needs."""
        if question.essential:
            await turn.say("cannot_skip")
            return None
        if state.get("store"):
            await self._store(turn, state, "skipped", None)
        await turn.say("skipped")
        self._moved_on(turn, state, question, "skipped")
        return await dc.end({"control": "skip"})

    async def _help_asked(
        self, dc: DialogContext, turn: Turn, state: dict[str, Any], question: Question
    ) -> Result | None:
        """What the question means, with the other controls (the help shows the question)."""
        await self._help(turn, state, question)
        return END_OF_TURN

    async def _talk(
        self, dc: DialogContext, turn: Turn, state: dict[str, Any], question: Question
    ) -> Result | None:
        """Who to talk to now; under the help, the help's buttons again, not the question."""
        await turn.say("talk_to_someone" if turn.review else "talk_to_someone_unlinked")
        if turn.services.advocacy_contact:
            await turn.say("talk_to_advocacy", advocacy=turn.services.advocacy_contact)
        if turn.profile.get("after_help"):
            await turn.offer_next(turn.msg("carry_on"))
            return END_OF_TURN
        return None

    async def _pause(
        self, dc: DialogContext, turn: Turn, state: dict[str, Any], question: Question
    ) -> Result | None:
        """Paused: the chat waits, and says how to carry on."""
        turn.profile["paused"] = True
        await turn.say("paused" if turn.review else "paused_unlinked")
        return END_OF_TURN

    async def _language(
        self, dc: DialogContext, turn: Turn, state: dict[str, Any], question: Question
    ) -> Result | None:
        """The language question, nested, then back to this one."""
        if state["qid"] == "language" or state.get("nested"):
            return None
        state["pending"] = "language"
        # Another device's language is its own, for its own messages: never the review's.
        return await dc.begin(
            ASK, {"qid": "language", "nested": True, "store": bool(turn.review) and turn.trusted}
        )

    async def _restart(
        self, dc: DialogContext, turn: Turn, state: dict[str, Any], question: Question
    ) -> Result | None:
        """Start again: at once before the code, else after "are you sure?"; never from a
        second device, nor from inside another nested question."""
        if not turn.trusted:
            await turn.say("limited_no_change")
            return None
        if state.get("nested"):
            return None
        if turn.review is None:
            await dc.cancel_all()
            return await dc.begin("consultation", {"restart": True})
        state["pending"] = "restart"
        return await dc.begin(
            ASK, {"qid": "restart_confirm", "key": "restart_confirm", "nested": True}
        )

    _controls: ClassVar[dict[str, Callable[..., Awaitable[Result | None]]]] = {
        "back": _back,
        "skip": _skip,
        "help": _help_asked,
        "talk": _talk,
        "pause": _pause,
        "language": _language,
        "restart": _restart,
    }

    async def _help(self, turn: Turn, state: dict[str, Any], question: Question) -> None:
        key = f"questions.{question.id}.help"
        lines = [turn.t(key)] if turn.content.has(key, "en") else []
        lines.append(turn.msg("help"))
        view = AskView(
            key=state["key"],
            nonce=state["n"],
            type="text",
            prompt="\n\n".join(lines),
            options=(),
            controls=tuple(
                Control(c, turn.t(f"controls.{c}.label"))
                for c in HELP_MENU
                if not (turn.easy and c == "restart")
            ),
            submit_label=turn.t("controls.submit.label"),
            rtl=turn.content.direction(turn.locale) == "rtl",
        )
        await turn.context.send_activity(
            question_activity(view, turn.context.activity.channel_id or "", turn.locale)
        )

    async def _store(self, turn: Turn, state: dict[str, Any], kind: str, value: Any) -> None:
        if turn.review is None:
            return
        if not turn.trusted and (state["key"] in turn.answers or state.get("qid") == "language"):
            # Another device only adds answers: what the child answered stays theirs.
            log.info("another device's answer to an answered question not stored")
            return
        saved = await turn.services.repos.answers.save(
            review_id=turn.review.id or 0,
            question_id=state["key"],
            kind=kind,
            value=value,
            locale=turn.locale,
        )
        turn.answers[saved.question_id] = saved
        if kind == "text":
            turn.profile["typed"] = turn.profile.get("typed", 0) + 1

    async def _note_media(self, turn: Turn, state: dict[str, Any], media: str) -> None:
        """A picture sent to a choice question: thanked, and noted for the IRO."""
        if turn.review is not None:
            saved = await turn.services.repos.answers.save(
                review_id=turn.review.id or 0,
                question_id=f"media.{state['key']}",
                kind="media",
                value=media,
                locale=turn.locale,
            )
            turn.answers[saved.question_id] = saved
        await turn.say(f"media_{media}")

    async def _switch_language(self, turn: Turn, locale: str) -> None:
        changed = turn.profile.get("locale") != locale
        turn.profile["locale"] = locale
        turn.profile["language_chosen"] = True
        if changed and turn.review is None:
            # Before the code, all they have read is the welcome and the safety rule in a
            # language they may not read: those first, in theirs, before anything else.
            await turn.say("welcome", "welcome_rules")
        elif changed:
            await turn.say("language_changed")

    async def _mark_card_answered(
        self, turn: Turn, state: dict[str, Any], question: Question, kind: str, value: Any
    ) -> None:
        """Replace a submitted card with its answer, so it cannot be submitted again."""
        act = turn.context.activity
        card_id = act.reply_to_id if act.value and act.reply_to_id else state.get("card")
        if act.channel_id not in CARD_CHANNELS or not card_id:
            return
        held = parse_held_id(card_id)
        if held is not None:
            card_id = await turn.services.repos.activities.reply_id(
                conversation_id=act.conversation.id if act.conversation else "",
                activity_id=held[0],
                index=held[1],
            )
        if not card_id or card_id.startswith(HELD_PREFIX):
            return  # never delivered, or delivered too long ago to find
        prompt = prompt_for(turn, question, state.get("topic"), state.get("values", {}))
        line = turn.t("controls.answered.label", answer=describe(turn, question, kind, value))
        card = answered_card(prompt, line, turn.content.direction(turn.locale) == "rtl")
        try:
            await turn.context.update_activity(updated_card_activity(card_id, card))
        except Exception as exc:  # an old card we cannot update is only cosmetic
            log.info("card not updated", extra={"error": type(exc).__name__})
