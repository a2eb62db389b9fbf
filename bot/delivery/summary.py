"""The IRO's summary and the safeguarding alert: data assembled here, words in content/templates.

Always in English, whatever language the child used: choices by their English labels, free text
in the child's own words with its language named.

Every value a template inserts is made safe to show (dialogs/display.py): in HTML it is also
escaped; in plain text a line break inside it cannot start a line of its own. The templates are
rendered once at start-up with sample data (`check_templates`), so a typo stops the app there,
naming the file and line, instead of failing a child's Send.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    pass_eval_context,
    select_autoescape,
)
from jinja2.exceptions import SecurityError, TemplateRuntimeError, UndefinedError
from jinja2.nodes import EvalContext
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import missing
from markupsafe import Markup

from dialogs.display import continued, shown
from dialogs.flow import Facts, Given, age_on, steps
from dialogs.recognize import normalize
from storage.content import FALLBACK_LOCALE, SAFEGUARDING_CATEGORIES, Content, ContentError
from storage.models import Answer, Review, SafeguardingAlert

TEMPLATES = ("summary.txt", "summary.html", "alert.txt", "alert.html")

CODE_MEANINGS = {
    "PN1": "attends and speaks for themselves",
    "PN2": "attends; an advocate or the IRO conveys their views",
    "PN5": "does not attend; briefs someone to speak for them",
    "PN6": "does not attend; conveys their views another way (this consultation)",
}
CATEGORY_NAMES = {
    "self_harm": "self-harm",
    "suicide": "suicide or wanting to die",
    "being_hurt": "being hurt",
    "abuse": "abuse",
    "not_safe_at_home": "not safe where they live",
    "running_away": "running away",
    "exploitation": "exploitation",
    "immediate_danger": "immediate danger",
}


class MissingName(UndefinedError):
    """A name a template used that its data does not have, with what it was looked up in
    (`jinja2.utils.missing` for a top-level name), so the error can list the names there are."""

    def __init__(self, message: str | None = None, *, parent: Any, name: Any) -> None:
        super().__init__(message)
        self.parent = parent
        self.name = name


class _Strict(StrictUndefined):
    """StrictUndefined whose error keeps what was missing and where it was looked for."""

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: Any = None,
        exc: type[TemplateRuntimeError] = UndefinedError,
    ) -> None:
        super().__init__(hint, obj, name, exc)
        if exc is UndefinedError:  # the sandbox's SecurityError stays what it is
            self._undefined_exception = partial(MissingName, parent=obj, name=name)  # type: ignore[assignment]


@pass_eval_context
def _safe_to_show(eval_ctx: EvalContext, value: Any) -> Any:
    """Every inserted value, before it is escaped: nothing in it can hide or reorder text, and
    in plain text its further lines are marked as continuing it."""
    if isinstance(value, Markup):
        return Markup(shown(str(value)))
    if isinstance(value, str):
        return shown(value) if eval_ctx.autoescape else continued(shown(value))
    return value


class Templates:
    """One sandboxed Environment: officers edit these files, so they must not reach Python."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(directory)),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=_Strict,
            finalize=_safe_to_show,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, **data: Any) -> str:
        return self.env.get_template(name).render(**data)


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


def _english_name(content: Content, locale: str) -> str:
    loc = content.locales.get(locale)
    return loc.meta.english_name or loc.meta.name if loc else locale


def _band(content: Content, review: Review, tz: ZoneInfo) -> str:
    day = review.review_at.astimezone(tz).date()
    return content.band_for_age(
        age_on(review.date_of_birth, review.age, day), easy_read=review.easy_read
    )


# Answers that say "nobody" or "nothing", which need no action.
# A yes/no question answered "idk" or "whatever" (dialogs/ask.py `_by_meaning`).
UNSURE = {"not_sure": "Not sure yet", "any": "They don't mind"}


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
    en = FALLBACK_LOCALE
    chat_language = answers.get("language")
    chat_locale = (
        str(chat_language.value)
        if chat_language is not None and chat_language.kind == "choice"
        else en
    )
    facts = Facts(
        band=_band(content, review, tz),
        uasc=review.is_uasc,
        answers={k: Given(a.kind, a.value) for k, a in answers.items()},
        locale=chat_locale,
    )

    def label(qid: str, oid: str) -> str:
        if content.question(qid).type == "language":
            return _english_name(content, oid)
        # A label may name the chat's language ("Yes, in {language}"): in English here.
        return content.text(
            f"questions.{qid}.options.{oid}.label", en, language=_english_name(content, chat_locale)
        )

    def shown(a: Answer) -> str:
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
            return label(qid, a.value)
        if a.kind == "choices":
            return "; ".join(label(qid, v) for v in a.value)
        return str(a.value)

    def text_of(key: str) -> str | None:
        a = answers.get(key)
        return str(a.value) if a is not None and a.kind == "text" else None

    sections: list[Section] = []
    iro_only: list[Row] = []
    snapshot: dict[str, str] = {}
    changed: list[Row] = []
    current: Section | None = None
    for s in steps(content, facts):
        a = answers.get(s.key)
        if a is None or s.question.type == "language":  # named once, at the top
            continue
        q_title = content.text(f"questions.{s.question.id}.summary", en)
        topic = None
        if s.topic is not None and s.question.for_each_chosen:
            topic = label(s.question.for_each_chosen, s.topic)
            title = f"Topic: {topic}"
        else:
            seen_topics = any(sec.title.startswith("Topic: ") for sec in sections)
            title = "Other things they said" if seen_topics else "The review meeting"
        if current is None or current.title != title:
            current = Section(title)
            sections.append(current)
        row = Row(q_title, shown(a), own_words=a.kind == "text", practical=s.question.practical)
        if a.kind == "text" and a.locale != en:
            row.language = _english_name(content, a.locale)
            row.interpreter = True
            row.english = (translations or {}).get(s.key)
        media = answers.get(f"media.{s.key}")
        if media is not None:
            row.answer += " " + shown(media)
        other = answers.get(f"{s.key}.other")  # typed words that named no option
        if a.kind == "choices" and other is not None and other.kind == "text":
            row.answer += f"; in their words: “{other.value}”"
        typed = answers.get(f"{s.key}.said")  # what they typed, where it says more
        if a.kind != "text" and typed is not None and typed.kind == "text":
            row.answer += f" (they typed “{typed.value}”)"
        if topic is not None:
            q_title = f"{topic}: {q_title}"
        if previous is not None and previous.get(s.key) != row.answer:
            private = a.kind == "text" and a.visibility == "iro"
            before = previous.get(s.key)
            changed.append(
                dataclasses.replace(
                    row,
                    question=q_title,
                    answer="changed: see 'Just for the IRO' below"
                    if private
                    else f"{before} → {row.answer}"
                    if before is not None
                    else f"(new) {row.answer}",
                )
            )
        snapshot[s.key] = row.answer
        if a.kind == "text" and a.visibility == "iro":
            # Out of its section, a topic answer needs its topic to make sense.
            if topic is not None:
                row.question = f"{topic}: {row.question}"
            iro_only.append(row)
        else:
            current.rows.append(row)
    sections = [sec for sec in sections if sec.rows]

    take_part = answers.get("take_part")
    participation = None
    if take_part is not None and take_part.kind == "choice":
        option = next(o for o in content.question("take_part").options if o.id == take_part.value)
        if option.participation:
            participation = {
                "code": option.participation,
                "meaning": CODE_MEANINGS.get(option.participation, ""),
                "reason": f"They chose “{label('take_part', option.id)}”.",
            }

    pronouns = answers.get("pronouns")
    pronoun_text = text_of("pronouns_other") or (
        shown(pronouns) if pronouns is not None and pronouns.kind == "choice" else None
    )
    if previous is not None:
        gone = [k for k in previous if k not in snapshot and k.split(".")[0] in content.by_id]
        # Not what it was: a removed answer may have been for the IRO alone.
        changed += [Row(_title(content, k), "(removed)") for k in gone]
    day = review.review_at.astimezone(tz)
    written = [r for sec in sections for r in sec.rows] + iro_only
    languages = sorted({r.language for r in written if r.language})
    locale_meta = content.locales[chat_locale].meta if chat_locale in content.locales else None
    return {
        "updated": updated,
        # Every alert this review has, at the top: the one thing the IRO must not miss.
        "alerts": [
            {
                "at": a.created_at.astimezone(tz).strftime("%-d %B %Y at %H:%M"),
                "categories": [CATEGORY_NAMES.get(c, c) for c in a.categories],
                "alert_id": a.id,
            }
            for a in sorted(alerts or [], key=lambda a: a.created_at)
            if a.tier == "clear"
        ],
        "sent_at": sent_at.astimezone(tz).strftime("%-d %B %Y at %H:%M"),
        "first_sent_at": first_sent_at.astimezone(tz).strftime("%-d %B %Y at %H:%M")
        if updated and first_sent_at is not None
        else None,
        # Once, at the top: which answers are in which language, and whether they are in
        # English below (machine translation) or need a speaker to read them.
        "written_in": [
            {
                "language": lang,
                "count": sum(r.language == lang for r in written),
                "translated": all(r.english for r in written if r.language == lang),
            }
            for lang in languages
        ],
        "actions": _actions(
            content, answers, alerts or [], tz, chat_locale, text_of, translations or {}
        ),
        "changed": changed,
        "snapshot": snapshot,
        "draft_translation": bool(locale_meta and locale_meta.status != "reviewed"),
        # Asked on the easy path: short questions, pictures, answers mostly tapped.
        "easy_path": content.is_easy(facts.band),
        "child": {
            "case_reference": review.case_reference,
            "date_of_birth": review.date_of_birth.strftime("%-d %B %Y")
            if review.date_of_birth
            else None,
            "first_name": review.first_name,
            "name": text_of("name") or review.preferred_name or review.first_name,
            "pronouns": pronoun_text,
            "words": text_of("my_words"),
            "age_band": facts.band,
            "age": age_on(review.date_of_birth, review.age, day.date()),
            "uasc": review.is_uasc,
        },
        "review": {
            "date": day.strftime("%A %-d %B %Y at %H:%M"),
            "iro_name": review.iro_name,
            "place": review.place,
        },
        "chat_language": _english_name(content, chat_locale),
        "interpreter": _interpreter(content, answers, chat_locale, text_of),
        "participation": participation,
        "sections": sections,
        "iro_only": iro_only,
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
        return _english_name(content, chat_locale)
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


def alert_data(
    *, content: Content, alert: SafeguardingAlert, review: Review | None, tz: ZoneInfo
) -> dict[str, Any]:
    not_english = alert.locale != FALLBACK_LOCALE
    language = _english_name(content, alert.locale)
    return {
        "categories": [CATEGORY_NAMES.get(c, c) for c in alert.categories],
        "message": alert.message,
        "language": language,
        # "clear" (urgent), "unsure" (a note: the screen was not sure), as the child was told.
        "tier": alert.tier,
        "not_english": not_english,
        # The first line of an alert the duty team may not be able to read: what to do today.
        "language_line": (
            None
            if not not_english
            else f"Written in {language}. An English machine translation is below: check "
            f"anything you act on with an interpreter or a speaker of {language}."
            if alert.translation
            else f"Written in {language}. Not translated: book an interpreter or a speaker of "
            f"{language} to read it today."
        ),
        "translation": alert.translation,
        "at": alert.created_at.astimezone(tz).strftime("%A %-d %B %Y at %H:%M"),
        "channel": alert.channel_id,
        "child": {
            "first_name": review.first_name,
            "case_reference": review.case_reference,
            "date_of_birth": review.date_of_birth.strftime("%-d %B %Y")
            if review.date_of_birth
            else None,
            "iro_name": review.iro_name,
            "review": review.review_at.astimezone(tz).strftime("%-d %B %Y"),
        }
        if review
        else None,
        "alert_id": alert.id,
        # What the child was actually told: the IRO is named only once a review is linked.
        "told": "their IRO and the duty team" if review else "the duty team",
        "question": _asked(content, alert.question_id),
        "reach": {
            "channel": alert.channel_id,
            "conversation_id": alert.conversation_id,
            "user_id": alert.user_id or "not given",
            "tenant_id": alert.tenant_id or "not given",
            "aad_object_id": alert.aad_object_id or "not given",
        },
    }


def plain_alert(data: dict[str, Any], *, held: bool = False) -> str:
    """The alert without its template: used if the template fails, so it never waits on an
    edit, and for each alert in a digest of held alerts (staff-facing, English)."""
    child = data.get("child")
    who = (
        f"{child['first_name']} (review on {child['review']}, IRO {child['iro_name']})"
        if child
        else "not yet identified (no invite code entered yet)"
    )
    reach = data["reach"]
    first = [data["language_line"], ""] if data.get("language_line") else []
    return "\n".join(
        [
            *first,
            "URGENT: possible safeguarding concern raised in a MyReview chat"
            if data.get("tier") != "unsure"
            else "Please check: a message MyReview was not sure about (not urgent)",
            "",
            f"When: {data['at']}",
            f"Young person: {who}",
            f"What they were answering: {data['question']}",
            f"What it may be about: {', '.join(data['categories'])}",
            f"Language: {data['language']}",
            "",
            "Their words:",
            continued(shown(str(data["message"]))),
            *(
                ["In English (machine translation):", continued(shown(str(data["translation"])))]
                if data.get("translation")
                else []
            ),
            "",
            f"They were given Childline (0800 1111) and 999, and told that {data['told']} "
            "would be told.",
            f"To find the chat: channel {reach['channel']}, conversation "
            f"{reach['conversation_id']}, user {reach['user_id']}, tenant {reach['tenant_id']}.",
            f"Alert reference: {data['alert_id']}."
            + (
                ""
                if held
                else " (Sent without its usual template, which failed: please tell whoever "
                "edits the templates.)"
            ),
        ]
    )


def _asked(content: Content, question_key: str | None) -> str:
    """The question on screen when the child wrote, in English, for the adults."""
    if not question_key:
        return "between questions"
    qid = question_key.split(".")[0]
    for key in (f"questions.{qid}.summary", f"questions.{qid}.prompt"):
        if content.has(key, FALLBACK_LOCALE):
            return content.text(key, FALLBACK_LOCALE)
    return qid


# --- checked at start-up ------------------------------------------------------------------------


def check_templates(content: Content, tz: ZoneInfo | None = None) -> None:
    """Renders every template with sample data that takes each of its branches (an updated
    summary and a first one, answers just for the IRO, a draft language, no answers at all, an
    alert before and after the invite code). Raises ContentError naming the file, the line and
    the fix, so a broken template stops the app at start-up, not a child's Send."""
    templates = Templates(content.templates_dir)
    for name, data in sample_data(content, tz or ZoneInfo("Europe/London")):
        try:
            templates.render(name, **data)
        except Exception as exc:  # whatever breaks it, the officer needs the file and line
            raise _explain(templates, name, exc, data) from exc


def sample_data(content: Content, tz: ZoneInfo) -> list[tuple[str, dict[str, Any]]]:
    """(template, data) pairs, built the way real emails are, from sample reviews."""
    draft = next(
        (code for code, loc in content.locales.items() if loc.meta.status == "draft"),
        next((code for code in content.locales if code != FALLBACK_LOCALE), FALLBACK_LOCALE),
    )
    at = datetime(2026, 12, 8, 10, tzinfo=UTC)
    full = _sample_review(at, first_name="Sam", age=14, is_uasc=True, place="Oak House family hub")
    preferred = _sample_review(at, first_name="Sam", age=9, preferred_name="Sammy")
    plain = _sample_review(at, first_name="Sam", age=9)

    def summary(review: Review, answers: dict[str, Answer], updated: bool) -> dict[str, Any]:
        return summary_data(
            content=content,
            review=review,
            answers=answers,
            tz=tz,
            updated=updated,
            sent_at=at,
            alerts=[_sample_alert(at, draft)] if updated else [],
        )

    summaries = [
        summary(full, _sample_answers(content, draft), True),
        summary(preferred, {}, False),
        summary(plain, {}, False),
    ]
    alerts = [
        alert_data(content=content, alert=_sample_alert(at, locale, tier), review=review, tz=tz)
        for review in (full, None)
        for locale, tier in ((draft, "clear"), ("en", "clear"), (draft, "unsure"))
    ]
    out: list[tuple[str, dict[str, Any]]] = []
    for name in TEMPLATES:
        out += [(name, data) for data in (summaries if name.startswith("summary") else alerts)]
    return out


def _sample_review(at: datetime, **values: Any) -> Review:
    return Review(
        id=1,
        iro_name="Jo Example",
        iro_email="jo.example@council.example",
        review_at=at,
        invite_code_hash="sample",
        invite_expires_at=at + timedelta(days=1),
        submitted_at=at,
        **values,
    )


def _sample_alert(at: datetime, locale: str, tier: str = "clear") -> SafeguardingAlert:
    return SafeguardingAlert(
        id=1,
        tier=tier,
        categories=list(SAFEGUARDING_CATEGORIES),
        message="Sample words of a young person,\nwritten on two lines",
        locale=locale,
        channel_id="msteams",
        conversation_id="sample",
        question_id="name",
        user_id="29:sample-user",
        tenant_id="sample-tenant",
        created_at=at,
    )


def _sample_answers(content: Content, draft: str) -> dict[str, Answer]:
    """An answer to every question, each choice picked so that the questions that depend on
    it are asked too; written answers alternate between everyone and just the IRO, and
    between English and a draft language; one is skipped with a picture sent instead."""
    wanted: dict[str, list[Any]] = {}
    for q in content.questions:
        for cond in (q.when, *(o.when for o in q.options)):
            if cond is not None and cond.answer is not None:
                wanted.setdefault(cond.answer.question, []).append(cond.answer)
    answers: dict[str, Answer] = {}

    def put(
        key: str, kind: str, value: Any, locale: str = FALLBACK_LOCALE, vis: Any = None
    ) -> None:
        answers[key] = Answer(
            review_id=1, question_id=key, kind=kind, value=value, locale=locale, visibility=vis
        )

    def written(key: str) -> None:
        n = len(answers)
        put(
            key,
            "text",
            f"Sample answer {n},\nwritten on two lines",
            locale=draft if n % 3 == 1 else FALLBACK_LOCALE,
            vis="iro" if n % 2 else "everyone",
        )

    skippable = [
        q.id
        for q in content.questions
        if q.type == "text" and not q.essential and not q.for_each_chosen and q.id not in wanted
    ]
    for q in content.questions:
        conds = wanted.get(q.id, [])
        if q.for_each_chosen is not None:
            for topic in content.question(q.for_each_chosen).options:
                written(f"{q.id}.{topic.id}")
        elif skippable and q.id == skippable[-1]:
            put(q.id, "skipped", None)
            put(f"media.{q.id}", "media", "picture")
        elif q.type == "text":
            written(q.id)
        elif q.type == "language":
            put(q.id, "choice", draft, locale=draft)
        elif q.type == "yesno":
            put(q.id, "yesno", next((c.is_ for c in conds if c.is_ is not None), True))
        elif q.type == "multi":
            put(q.id, "choices", [o.id for o in q.options])
        else:
            ids = [o.id for o in q.options]
            asked_for = [i for c in conds for i in (c.any_of or []) if i in ids]
            coded = [o.id for o in q.options if o.participation]
            put(q.id, "choice", (asked_for or coded or ids)[0])
    return answers


def _explain(templates: Templates, name: str, exc: Exception, data: dict[str, Any]) -> ContentError:
    """The error an officer can act on: which file, which line, and what to change."""
    if isinstance(exc, TemplateSyntaxError):
        path = Path(exc.filename) if exc.filename else templates.directory / name
        return ContentError(f"{path}, line {exc.lineno}: {_syntax_fix(templates, exc)}")
    path, line = _where(templates, name, exc)
    where = f"{path}, line {line}" if line else str(path)
    if isinstance(exc, TemplateNotFound) and exc.name == name:
        return ContentError(
            f"{path}: the template is missing. Put it back: the emails need all of "
            f"{', '.join(TEMPLATES)}."
        )
    if isinstance(exc, TemplateNotFound):
        return ContentError(
            f"{where}: there is no template {exc.name!r} in {templates.directory}. Check the "
            "spelling of its name, or add it."
        )
    if isinstance(exc, MissingName):
        return ContentError(f"{where}: {_spelling_fix(path, line, exc, data)}")
    if isinstance(exc, SecurityError):
        return ContentError(
            f"{where}: {exc} Templates can use only the names they are given, not Python."
        )
    return ContentError(
        f"{where}: the template fails with sample data ({type(exc).__name__}: {exc}). Check "
        "what that line does with the names it is given."
    )


def _where(templates: Templates, name: str, exc: Exception) -> tuple[Path, int | None]:
    """The innermost line of a template in the traceback (Jinja puts template lines there)."""
    root = templates.directory.resolve()
    found: tuple[Path, int | None] = (templates.directory / name, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename)
        if path.resolve().is_relative_to(root):
            found = (path, frame.lineno)
    return found


_OPENS = ("if", "for", "macro", "call", "filter", "block", "with", "autoescape", "raw")


def _syntax_fix(templates: Templates, exc: TemplateSyntaxError) -> str:
    reason = (exc.message or "a syntax error").rstrip(".")
    message = f"the template cannot be read ({reason})."
    # Jinja says which kind of block is open, not where it opened; the officer needs where.
    unclosed = (
        _unclosed_block(templates, exc.source)
        if exc.source and "needs to be closed" in (exc.message or "")
        else None
    )
    if unclosed is not None:
        tag, line = unclosed
        return (
            f"{message} The {{% {tag} %}} on line {line} is never closed: add "
            f"{{% end{tag} %}} where it should end."
        )
    return (
        f"{message} Check that every {{% if %}} or {{% for %}} has its {{% endif %}} or "
        "{% endfor %}, and that every {{ has its }}."
    )


def _unclosed_block(templates: Templates, source: str) -> tuple[str, int] | None:
    """The innermost block tag still open at the end of the file, with its line."""
    stack: list[tuple[str, int]] = []
    after_begin = False
    try:
        for lineno, token, value in templates.env.lex(source):
            if token == "block_begin":
                after_begin = True
                continue
            if token == "whitespace":
                continue
            if after_begin and token == "name":
                if value in _OPENS:
                    stack.append((value, lineno))
                elif value.startswith("end") and stack and stack[-1][0] == value[3:]:
                    stack.pop()
            after_begin = False
    except TemplateSyntaxError:
        return None
    return stack[-1] if stack else None


def _spelling_fix(path: Path, line: int | None, exc: MissingName, data: dict[str, Any]) -> str:
    name = str(exc.name)
    expr = _expression(path, line, name) or name
    owner = expr.rpartition(".")[0]
    if exc.parent is missing:
        names, problem, among = list(data), f"the template is given no {name!r}", ""
    else:
        names = _names_of(exc.parent)
        problem = f"{owner} has no {name!r}" if owner else f"there is no {name!r} there"
        among = f" in {owner}" if owner else ""
    guess = difflib.get_close_matches(name, names, n=1)
    return (
        f"{problem}. Check the spelling of {{{{ {expr} }}}}: the names you can use{among} are "
        f"{', '.join(names)}." + (f" Is it {guess[0]!r}?" if guess else "")
    )


def _names_of(parent: Any) -> list[str]:
    if isinstance(parent, Mapping):
        return [str(k) for k in parent]
    if dataclasses.is_dataclass(parent):
        return [f.name for f in dataclasses.fields(parent)]
    return [n for n in dir(parent) if not n.startswith("_")]


def _expression(path: Path, line: int | None, name: str) -> str | None:
    """The dotted name on that line that ends in the missing one ("child.frist_name")."""
    if not line:
        return None
    try:
        text = path.read_text(encoding="utf-8").splitlines()[line - 1]
    except (OSError, IndexError, UnicodeDecodeError):
        return None
    found = re.search(rf"(?:[A-Za-z_]\w*\.)*{re.escape(name)}\b", text)
    return found.group() if found else None
