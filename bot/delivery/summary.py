"""The IRO's summary: what its templates show, assembled here (words in content/templates).

Always in English, whatever language the child used: choices by their English labels, free text
in the child's own words with its language named. The questions it lists are the ones the chat
asked, worked out from the same facts (dialogs/flow.py `facts_for`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.delivery.english import CATEGORY_NAMES, english_name
from dialogs.flow import age_at_review, facts_for, steps
from dialogs.recognize import normalize
from storage.content import FALLBACK_LOCALE, Content
from storage.models import Answer, Review, SafeguardingAlert

CODE_MEANINGS = {
    "PN1": "attends and speaks for themselves",
    "PN2": "attends; an advocate or the IRO conveys their views",
    "PN5": "does not attend; briefs someone to speak for them",
    "PN6": "does not attend; conveys their views another way (this consultation)",
}


@dataclass
class Row:
    question: str
    answer: str
    own_words: bool = False
    language: str | None = None  # named when not English
    interpreter: bool = False
    english: str | None = None  # a machine translation, where a translator is set up
    practical: bool = False  # for organising the meeting: the IRO acts on it


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)


# Answers that say "nobody" or "nothing", which need no action.
# A yes/no question answered "idk" or "whatever" (dialogs/ask.py `_by_meaning`).
UNSURE = {"not_sure": "Not sure yet", "any": "They don't mind"}


class _Shown:
    """A child's answers as the IRO reads them: in English, labels for option ids."""

    def __init__(self, content: Content, answers: Mapping[str, Answer], chat_locale: str) -> None:
        self.content, self.answers, self.chat_locale = content, answers, chat_locale

    def label(self, qid: str, oid: str) -> str:
        if self.content.question(qid).type == "language":
            return english_name(self.content, oid)
        # A label may name the chat's language ("Yes, in {language}"): in English here.
        return self.content.text(
            f"questions.{qid}.options.{oid}.label",
            FALLBACK_LOCALE,
            language=english_name(self.content, self.chat_locale),
        )

    def shown(self, a: Answer) -> str:
        # Only choices need their question; a picture noted on a choice question is stored
        # as "media.<key>", which names no question, and must not stop the summary.
        qid = a.question_id.split(".")[0]
        if a.kind == "skipped":
            return "(skipped)"
        if a.kind == "media":
            return {"picture": "(sent a picture)", "voice": "(sent a voice note)"}.get(
                a.value, "(sent a file)"
            )
        if a.kind == "yesno":
            return "Yes" if a.value else "No"
        if a.kind == "unsure":
            return UNSURE.get(str(a.value), "Not sure")
        if a.kind == "choice":
            return self.label(qid, a.value)
        if a.kind == "choices":
            return "; ".join(self.label(qid, v) for v in a.value)
        return str(a.value)

    def text_of(self, key: str) -> str | None:
        a = self.answers.get(key)
        return str(a.value) if a is not None and a.kind == "text" else None


@dataclass
class _Read:
    """The answers by section, those for the IRO alone, each as shown, and what changed."""

    sections: list[Section] = field(default_factory=list)
    iro_only: list[Row] = field(default_factory=list)
    snapshot: dict[str, str] = field(default_factory=dict)
    changed: list[Row] = field(default_factory=list)


def _answer_row(see: _Shown, s: Any, a: Answer, translations: Mapping[str, str] | None) -> Row:
    """One answer's row: in English, with its picture, its other words, what they typed."""
    content, answers = see.content, see.answers
    q_title = content.text(f"questions.{s.question.id}.summary", FALLBACK_LOCALE)
    row = Row(q_title, see.shown(a), own_words=a.kind == "text", practical=s.question.practical)
    if a.kind == "text" and a.locale != FALLBACK_LOCALE:
        row.language = english_name(content, a.locale)
        row.interpreter = True
        row.english = (translations or {}).get(s.key)
    media = answers.get(f"media.{s.key}")
    if media is not None:
        row.answer += " " + see.shown(media)
    other = answers.get(f"{s.key}.other")  # typed words that named no option
    if a.kind == "choices" and other is not None and other.kind == "text":
        row.answer += f"; in their words: “{other.value}”"
    typed = answers.get(f"{s.key}.said")  # what they typed, where it says more
    if a.kind != "text" and typed is not None and typed.kind == "text":
        row.answer += f" (they typed “{typed.value}”)"
    return row


def _read_answers(
    see: _Shown,
    facts: Any,
    previous: Mapping[str, str] | None,
    translations: Mapping[str, str] | None,
) -> _Read:
    """Every answer as the IRO reads it, in the order asked, by section; those for the IRO
    alone apart; and, for an update, what changed since `previous`."""
    content, answers = see.content, see.answers
    read = _Read()
    current: Section | None = None
    for s in steps(content, facts):
        a = answers.get(s.key)
        if a is None or s.question.type == "language":  # named once, at the top
            continue
        title, topic = _section_of(see, s, read.sections)
        if current is None or current.title != title:
            current = Section(title)
            read.sections.append(current)
        row = _answer_row(see, s, a, translations)
        private = a.kind == "text" and a.visibility == "iro"
        if previous is not None and previous.get(s.key) != row.answer:
            read.changed.append(_changed(row, topic, private, previous.get(s.key)))
        read.snapshot[s.key] = row.answer
        if private:
            # Out of its section, a topic answer needs its topic to make sense.
            if topic is not None:
                row.question = f"{topic}: {row.question}"
            read.iro_only.append(row)
        else:
            current.rows.append(row)
    read.sections = [sec for sec in read.sections if sec.rows]
    if previous is not None:
        gone = [k for k in previous if k not in read.snapshot and k.split(".")[0] in content.by_id]
        # Not what it was: a removed answer may have been for the IRO alone.
        read.changed += [Row(_title(content, k), "(removed)") for k in gone]
    return read


def _section_of(see: _Shown, s: Any, sections: list[Section]) -> tuple[str, str | None]:
    """The section a step's answer goes in, and its topic's label if it is about one: each
    topic its own, the meeting's questions before them, the rest after."""
    if s.topic is not None and s.question.for_each_chosen:
        topic = see.label(s.question.for_each_chosen, s.topic)
        return f"Topic: {topic}", topic
    seen_topics = any(sec.title.startswith("Topic: ") for sec in sections)
    return ("Other things they said" if seen_topics else "The review meeting"), None


def _changed(row: Row, topic: str | None, private: bool, before: str | None) -> Row:
    """An answer as the list of changes shows it: old and new, new, or only that it changed
    (words for the IRO alone are not repeated up there)."""
    if private:
        answer = "changed: see 'Just for the IRO' below"
    elif before is not None:
        answer = f"{before} → {row.answer}"
    else:
        answer = f"(new) {row.answer}"
    question = f"{topic}: {row.question}" if topic is not None else row.question
    return dataclasses.replace(row, question=question, answer=answer)


def _participation(see: _Shown) -> dict[str, str] | None:
    """The participation code their choice of how to take part gives, and why."""
    take_part = see.answers.get("take_part")
    if take_part is None or take_part.kind != "choice":
        return None
    option = next(o for o in see.content.question("take_part").options if o.id == take_part.value)
    if not option.participation:
        return None
    return {
        "code": option.participation,
        "meaning": CODE_MEANINGS.get(option.participation, ""),
        "reason": f"They chose “{see.label('take_part', option.id)}”.",
    }


def summary_data(
    *,
    content: Content,
    review: Review,
    answers: dict[str, Answer],
    tz: ZoneInfo,
    updated: bool,
    sent_at: datetime,
    alerts: list[SafeguardingAlert] | None = None,
    previous: Mapping[str, str] | None = None,
    first_sent_at: datetime | None = None,
    translations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What the summary templates show. `previous`: each answer as the last summary showed
    it (an update lists what changed first, old and new); the result's "snapshot" is this
    one's. `translations`: written answers in English, by answer key (machine translation)."""
    chat_language = answers.get("language")
    chat_locale = (
        str(chat_language.value)
        if chat_language is not None and chat_language.kind == "choice"
        else FALLBACK_LOCALE
    )
    facts = facts_for(content, review, answers, tz=tz, locale=chat_locale)
    see = _Shown(content, answers, chat_locale)
    read = _read_answers(see, facts, previous, translations)
    day = review.review_at.astimezone(tz)
    written = [r for sec in read.sections for r in sec.rows] + read.iro_only
    locale_meta = content.locales[chat_locale].meta if chat_locale in content.locales else None
    stamp = "%-d %B %Y at %H:%M"
    return {
        "updated": updated,
        # Every alert this review has, at the top: the one thing the IRO must not miss.
        "alerts": _urgent_alerts(alerts or [], tz, stamp),
        "sent_at": sent_at.astimezone(tz).strftime(stamp),
        "first_sent_at": first_sent_at.astimezone(tz).strftime(stamp)
        if updated and first_sent_at is not None
        else None,
        # Once, at the top: which answers are in which language, and whether they are in
        # English below (machine translation) or need a speaker to read them.
        "written_in": _written_in(written),
        "actions": _actions(
            content, answers, alerts or [], tz, chat_locale, see.text_of, translations or {}
        ),
        "changed": read.changed,
        "snapshot": read.snapshot,
        "draft_translation": bool(locale_meta and locale_meta.status != "reviewed"),
        # Asked on the easy path: short questions, pictures, answers mostly tapped.
        "easy_path": content.is_easy(facts.band),
        "child": _child(review, see, facts.band, tz),
        "review": {
            "date": day.strftime("%A %-d %B %Y at %H:%M"),
            "day": day.strftime("%-d %B %Y"),
            "iro_name": review.iro_name,
            "place": review.place,
        },
        "chat_language": english_name(content, chat_locale),
        "interpreter": _interpreter(content, answers, chat_locale, see.text_of),
        "participation": _participation(see),
        "sections": read.sections,
        "iro_only": read.iro_only,
    }


def _urgent_alerts(alerts: list[SafeguardingAlert], tz: ZoneInfo, stamp: str) -> list[dict]:
    """Every urgent alert of the review, oldest first: the one thing the IRO must not miss."""
    return [
        {
            "at": a.created_at.astimezone(tz).strftime(stamp),
            "categories": [CATEGORY_NAMES.get(c, c) for c in a.categories],
            "alert_id": a.id,
        }
        for a in sorted(alerts, key=lambda a: a.created_at)
        if a.tier == "clear"
    ]


def _written_in(written: list[Any]) -> list[dict]:
    """Each language answers were written in: how many, and whether all are in English too."""
    languages = sorted({r.language for r in written if r.language})
    return [
        {
            "language": lang,
            "count": sum(r.language == lang for r in written),
            "translated": all(r.english for r in written if r.language == lang),
        }
        for lang in languages
    ]


def _child(review: Review, see: _Shown, band: str, tz: ZoneInfo) -> dict[str, Any]:
    """Who the child is, as they told us where they did (name, pronouns, words about them)."""
    pronouns = see.answers.get("pronouns")
    pronoun_text = see.text_of("pronouns_other") or (
        see.shown(pronouns) if pronouns is not None and pronouns.kind == "choice" else None
    )
    return {
        "case_reference": review.case_reference,
        "date_of_birth": review.date_of_birth.strftime("%-d %B %Y")
        if review.date_of_birth
        else None,
        "first_name": review.first_name,
        "name": see.text_of("name") or review.preferred_name or review.first_name,
        "pronouns": pronoun_text,
        "words": see.text_of("my_words"),
        "age_band": band,
        "age": age_at_review(review, tz),
        "uasc": review.is_uasc,
    }


def _title(content: Content, key: str) -> str:
    return content.text(f"questions.{key.split('.')[0]}.summary", FALLBACK_LOCALE)


def _interpreter(
    content: Content, answers: Mapping[str, Answer], chat_locale: str, text_of: Any
) -> str | None:
    """The language to book an interpreter in, if they want one."""
    wanted = answers.get("interpreter")
    if wanted is None or wanted.kind == "skipped":
        return None
    if wanted.kind == "choice" and wanted.value == "yes_chat_language":
        return english_name(content, chat_locale)
    if (wanted.kind == "choice" and wanted.value == "yes_other") or (
        wanted.kind == "yesno" and wanted.value  # answers given before it had options
    ):
        chosen = answers.get("interpreter_language")
        if chosen is not None and chosen.kind == "choice" and chosen.value != "another_language":
            return content.text(
                f"questions.interpreter_language.options.{chosen.value}.label", FALLBACK_LOCALE
            )
        # Typed: in their own words, or (answers from before the list) the language itself.
        named = text_of("interpreter_language_other") or text_of("interpreter_language")
        return named or "language not given: ask them"
    return None


INTERPRETER_WISHES = {
    "woman": "a woman",
    "man": "a man",
    "not_my_community": "not someone from their community",
}


def _interpreter_wishes(answers: Mapping[str, Answer], text_of: Any) -> str:
    """ ", dialect: Sudanese; a woman; not someone from their community", as far as said."""
    prefs = answers.get("interpreter_prefs")
    chosen = list(prefs.value) if prefs is not None and prefs.kind == "choices" else []
    out = ""
    dialect = text_of("interpreter_dialect")
    if dialect or "dialect" in chosen:
        out += f", dialect: {dialect or 'not given, ask them'}"
    wishes = [INTERPRETER_WISHES[c] for c in chosen if c in INTERPRETER_WISHES]
    return out + "".join(f"; {w}" for w in wishes)


def _said_something(content: Content, answer: Answer | None) -> str | None:
    """A written answer that is more than "no" or "nobody", in the language it was written in
    (answers stored before such words picked an option)."""
    if answer is None or answer.kind != "text":
        return None
    text = str(answer.value).strip()
    nothing = {normalize(w) for w in content.synonyms("meanings.nothing", answer.locale)}
    return None if not normalize(text) or normalize(text) in nothing else text


def _actions(
    content: Content,
    answers: Mapping[str, Answer],
    alerts: list[SafeguardingAlert],
    tz: ZoneInfo,
    chat_locale: str,
    text_of: Any,
    translations: Mapping[str, str],
) -> list[str]:
    """What the IRO must do or know before the review, one line each, in English. Words the
    child kept for the IRO alone are pointed to, not quoted: this box heads the summary."""
    out: list[str] = []
    for a in sorted(alerts, key=lambda a: a.created_at):
        kinds = ", ".join(CATEGORY_NAMES.get(c, c) for c in a.categories)
        when = a.created_at.astimezone(tz).strftime("%-d %B at %H:%M")
        if a.tier == "clear":
            out.append(
                f"SAFEGUARDING alert {a.id} ({kinds}), {when}: the duty team was told at once."
            )
    for a in sorted(alerts, key=lambda a: a.created_at):
        if a.tier == "unsure":
            when = a.created_at.astimezone(tz).strftime("%-d %B at %H:%M")
            out.append(
                f"Check they are all right: MyReview was not sure about a message ({when}); "
                f"you had a note (reference {a.id})."
            )

    def yes(qid: str) -> bool:
        a = answers.get(qid)
        return a is not None and a.kind == "yesno" and bool(a.value)

    take_part = answers.get("take_part")
    if yes("advocate") or (take_part is not None and take_part.value == "with_advocate"):
        out.append("Arrange an advocate: they asked for one.")
    if yes("talk_to_iro"):
        out.append("Talk to them on their own before the review: they asked to.")
    elif (talk := answers.get("talk_to_iro")) is not None and talk.kind == "unsure":
        out.append("Ask whether they want to talk to you on their own: they were not sure.")
    language = _interpreter(content, answers, chat_locale, text_of)
    if language:
        out.append(f"Book an interpreter: {language}{_interpreter_wishes(answers, text_of)}.")
    for qid, what in (
        ("who_not_there", "Do not invite"),
        ("not_discussed", "Do not discuss"),
    ):
        said = _said_something(content, answers.get(qid))
        if said is None:
            continue
        private = answers[qid].visibility == "iro"
        english = f" (in English, by machine: {translations[qid]})" if qid in translations else ""
        out.append(f"{what}: " + ("see 'Just for the IRO' below." if private else said + english))
    # A one-tap "it's not good" (the easy path) says something is wrong, not what: ask them.
    not_good = [
        content.text(f"questions.topics.options.{key.split('.', 1)[1]}.label", FALLBACK_LOCALE)
        for key, a in sorted(answers.items())
        if key.startswith("topic_say.") and a.kind == "choice" and a.value == "not_good"
    ]
    if not_good:
        out.append(f"Ask them what is not good about: {'; '.join(not_good)}.")
    return out
