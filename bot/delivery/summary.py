"""The IRO's summary and the safeguarding alert: data assembled here, words in content/templates.

Always in English, whatever language the child used: choices by their English labels, free text
in the child's own words with its language named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from dialogs.flow import Facts, Given, age_on, steps
from storage.content import FALLBACK_LOCALE, Content
from storage.models import Answer, Review, SafeguardingAlert

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


class Templates:
    """One sandboxed Environment: officers edit these files, so they must not reach Python."""

    def __init__(self, directory: Path) -> None:
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(directory)),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
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


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)


def _english_name(content: Content, locale: str) -> str:
    loc = content.locales.get(locale)
    return loc.meta.english_name or loc.meta.name if loc else locale


def _band(content: Content, review: Review, tz: ZoneInfo) -> str:
    day = review.review_at.astimezone(tz).date()
    return content.band_for_age(age_on(review.date_of_birth, review.age, day))


def summary_data(
    *,
    content: Content,
    review: Review,
    answers: dict[str, Answer],
    tz: ZoneInfo,
    updated: bool,
    sent_at: datetime,
) -> dict[str, Any]:
    en = FALLBACK_LOCALE
    facts = Facts(
        band=_band(content, review, tz),
        uasc=review.is_uasc,
        answers={k: Given(a.kind, a.value) for k, a in answers.items()},
    )

    def label(qid: str, oid: str) -> str:
        if content.question(qid).type == "language":
            return _english_name(content, oid)
        return content.text(f"questions.{qid}.options.{oid}.label", en)

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
    current: Section | None = None
    for s in steps(content, facts):
        a = answers.get(s.key)
        if a is None:
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
        row = Row(q_title, shown(a), own_words=a.kind == "text")
        if a.kind == "text" and a.locale != en:
            row.language = _english_name(content, a.locale)
            row.interpreter = True
        media = answers.get(f"media.{s.key}")
        if media is not None:
            row.answer += " " + shown(media)
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
    chat_language = answers.get("language")
    day = review.review_at.astimezone(tz)
    return {
        "updated": updated,
        "sent_at": sent_at.astimezone(tz).strftime("%-d %B %Y at %H:%M"),
        "child": {
            "first_name": review.first_name,
            "name": text_of("name") or review.preferred_name or review.first_name,
            "pronouns": pronoun_text,
            "words": text_of("my_words"),
            "age_band": facts.band,
            "uasc": review.is_uasc,
        },
        "review": {
            "date": day.strftime("%A %-d %B %Y at %H:%M"),
            "iro_name": review.iro_name,
        },
        "chat_language": _english_name(content, chat_language.value)
        if chat_language is not None and chat_language.kind == "choice"
        else "English",
        "interpreter": text_of("interpreter_language"),
        "participation": participation,
        "sections": sections,
        "iro_only": iro_only,
    }


def alert_data(
    *, content: Content, alert: SafeguardingAlert, review: Review | None, tz: ZoneInfo
) -> dict[str, Any]:
    return {
        "categories": [CATEGORY_NAMES.get(c, c) for c in alert.categories],
        "message": alert.message,
        "language": _english_name(content, alert.locale),
        "at": alert.created_at.astimezone(tz).strftime("%A %-d %B %Y at %H:%M"),
        "channel": alert.channel_id,
        "child": {
            "first_name": review.first_name,
            "iro_name": review.iro_name,
            "review": review.review_at.astimezone(tz).strftime("%-d %B %Y"),
        }
        if review
        else None,
        "alert_id": alert.id,
    }
