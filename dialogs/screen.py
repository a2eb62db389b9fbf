"""Safeguarding screening: one stage of every turn, in front of the dialogs.

Whatever the dialog is doing (asking, paused, sent, closed, or nothing at all), every message
and every edited message is screened, on its own and together with the few the child sent just
before it (a worry told in pieces: "my uncle comes on fridays", "i hide in my room"). What the
screen hears decides one of three answers, each before the dialogs run:

- clear: help at once (Childline, 999, who is told and when, that they are not in trouble),
  and an urgent alert committed on its own, so a later failure in the turn cannot lose it; a
  further worry in the same chat soon after gets a short acknowledgement, not the whole block;
- unsure: a gentle check ("Is something making you feel unsafe?") and a note to the IRO that
  is not urgent, whatever they answer; "yes" makes it an urgent alert with the help;
- after the help: what the child says next is kept with the alert, and a word about the worry
  ("don't tell", "it's not true", "he's my brother") gets a reply that fits, not a question.

A message that is, in full, an answer the question waiting accepts (an option's number or
label, yes or no, a control word) is never a worry, whatever the model makes of it. A channel's
resend of the same message raises no second alert.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from dialogs.alert_routing import route, route_note
from dialogs.answer_form import is_answer_form, is_number_form, waiting
from dialogs.ask import choices_for
from dialogs.context import Screened, Services, Turn, TurnFacts
from dialogs.ports import Arrived, ChatTurn
from dialogs.recognize import looks_like_code, match_one, normalize
from dialogs.render import (
    CHOICE_INPUT,
    AskView,
    Control,
    question_activity,
)
from dialogs.safeguarding_model import Assessment, Screen
from storage.content import FALLBACK_LOCALE
from storage.models import SafeguardingAlert, SafeguardingAlertBase

log = logging.getLogger(__name__)

# Longer texts are screened off the event loop so that other children's turns carry on.
OFF_LOOP_CHARS = 4000
# Messages read together with the next: how many before it, and for how long.
RECENT = 3
RECENT_MINUTES = 10
# Answers this short, to a question that asks who should not come (`names_people`), get no
# gentle check when the screen is only unsure.
SHORT_ANSWER_WORDS = 6
# Only short messages are kept to be read together: a long one is screened well on its own.
RECENT_CHARS = 500
# Read together, an unsure reading counts only when the messages together look this much more
# like a disclosure than any of them alone (the model's likeliest category): the worry is in
# the combination. Chosen on rounds 5-8's sequences (dev sets by then): heard 87-88% -> 92-94%,
# gentle checks on ordinary sequences +1 to +7 per 160-200. Clear together always counts.
TOGETHER_GAIN = 0.1
# The system question of the gentle check, and the id of its "talk to someone" button.
CHECK = "safety_check"
TALK = "talk"
UNSAFE = "unsafe"
# When someone will be in touch (the council's setting), as the help says it.
WHEN = {
    "today": "safeguarding_when_today",
    "one_day": "safeguarding_when_one_day",
    "two_days": "safeguarding_when_two_days",
}
# A word about the worry, by its kind (`about_the_worry` in the phrase files), and its reply.
AFTER_WORRY = {
    "secret": "after_worry_secret",
    "not_true": "after_worry_not_true",
    "who": "after_worry_who",
}


def written(context: ChatTurn) -> str | None:
    """What the child wrote in this activity, with or without a card's value beside it."""
    act = context.activity
    if act.type not in ("message", "messageUpdate"):
        return None
    text = act.text if isinstance(act.text, str) else ""
    return text.strip() or None


async def screen(services: Services, context: ChatTurn) -> Screened:
    """Screens what the child wrote and answers as its tier says (module docstring)."""
    result = await _screen(services, context)
    facts = TurnFacts.of(context)
    facts.screened = result
    # The dialogs read the review and answers again inside the turn's own transaction.
    facts.turn = None
    return result


async def _screen(services: Services, context: ChatTurn) -> Screened:
    """The answer to the gentle check if this is one; else what the screen hears in what was
    written, and the answer to that (`_respond`)."""
    act = context.activity
    text = written(context)
    payload = act.value if isinstance(act.value, dict) else None
    if act.type not in ("message", "messageUpdate") or (text is None and not payload):
        return Screened()
    profile = (await services.chats.load(context)).profile
    if profile.get("checking"):
        answered = await _check_answered(services, context, profile, text, payload)
        if answered is not None:
            return answered
    if text is None:
        return Screened()
    now = services.clock()
    matcher = services.matcher(services.content_source.current())
    typed = payload is None
    assessment, said = await _hear(matcher, profile, text, typed=typed, now=now)
    lead = _lead(profile)
    if assessment.tier is None and not (profile.get("after_help") and lead and typed):
        return Screened()
    turn = await Turn.load(services, context)
    return await _respond(
        services, turn, matcher, heard(turn, text, assessment), text, said, lead=lead, now=now
    )


async def _hear(
    matcher: Screen, profile: dict[str, Any], text: str, *, typed: bool, now: datetime
) -> tuple[Assessment, str]:
    """What the screen hears in the message alone or read with the last few typed (a typed
    one is kept for the next), and the words an alert should quote."""
    if len(text) > OFF_LOOP_CHARS:
        found = await asyncio.to_thread(matcher.assess, text), text
    else:
        found = heard_together(matcher, _recent(profile, now) if typed else [], text)
    if typed:
        _remember(profile, matcher, text, now)
    return found


async def _respond(
    services: Services,
    turn: Turn,
    matcher: Screen,
    assessment: Assessment,
    text: str,
    said: str,
    *,
    lead: dict[str, Any] | None,
    now: datetime,
) -> Screened:
    """Clear: the help and an urgent alert. Unsure: the gentle check and a note, unless a
    worry was told just before. Otherwise, words after the help are kept with its alert."""
    profile = turn.profile
    about = _about_the_worry(turn, text)
    if assessment.tier == "clear":
        await _clear(services, turn, assessment.categories, said, lead=lead, about=about, now=now)
        profile.pop("recent", None)
        return Screened("clear", tuple(assessment.categories))
    recently = lead is not None and now.timestamp() - lead["at"] < _group_seconds(services)
    if assessment.tier == "unsure" and not (recently or profile.get("after_help")):
        await _unsure(services, turn, assessment.unsure, said, now=now)
        profile.pop("recent", None)
        return Screened("unsure", tuple(assessment.unsure))
    if lead is None or not (profile.get("after_help") or assessment.tier):
        return Screened()
    if _acknowledges(matcher, text):
        return Screened()
    # Said after the help, or an unsure word soon after a worry: kept with that alert, for the
    # duty team's follow-up and the IRO.
    await _keep_with(services, turn, lead, text)
    if about is not None:
        await _say_and_offer(turn, AFTER_WORRY[about])
        return Screened("after", handled=True)
    if assessment.tier is not None:
        await _say_and_offer(turn, _added(turn))
        return Screened("after", handled=True)
    return Screened("after")


def heard(turn: Turn, text: str, assessment: Assessment) -> Assessment:
    """What the screen heard, unless the message is, in full, an answer the question waiting
    accepts ("3, 5", "No one", "yes"): that is never a worry, whatever a model makes of it.
    Nor is a short answer naming someone where the question asks for that ("jake hes mean" to
    who should not come) when the screen is only unsure: the IRO reads it as the answer."""
    if assessment.tier is None:
        return assessment
    if is_answer_form(turn, text):
        log.info("answer form not screened as a worry")
        return Assessment([], [])
    question = waiting(turn)
    if (
        assessment.tier == "unsure"
        and question is not None
        and question.names_people
        and len(text.split()) <= SHORT_ANSWER_WORDS
    ):
        log.info("short answer naming someone not checked")
        return Assessment([], [])
    return assessment


def heard_together(matcher: Screen, earlier: list[str], text: str) -> tuple[Assessment, str]:
    """What the screen hears in `text` alone or, failing that, when read with the last one,
    two or three messages before it (`earlier`, oldest first); and the words the alert should
    quote."""
    assessment = matcher.assess(text)
    for n in range(1, len(earlier) + 1):
        if assessment.tier is not None:
            break
        messages = [*earlier[-n:], text]
        together = " / ".join(messages)
        joined = matcher.assess(together)
        if joined.tier == "clear":
            return joined, "\n".join(messages)
        # Unsure together counts only when the combination says more than each part: answers
        # to one question after another ("come and speak", "at home") read together are often
        # unsure of nothing at all. A phrase or a number rule that holds only together ("i have
        # a boyfriend", "hes 24") says more by itself.
        if joined.tier == "unsure":
            alone = max(matcher.model.most_likely(m) for m in messages)
            if matcher.model.most_likely(together) > alone + TOGETHER_GAIN or _only_together(
                matcher, messages, together
            ):
                return joined, "\n".join(messages)
    return assessment, text


def _only_together(matcher: Screen, messages: list[str], together: str) -> bool:
    """Whether the phrase lists hear in the messages together what they hear in none alone."""
    alone = {c for m in messages for c in matcher.phrases.categories(m)}
    return bool(set(matcher.phrases.categories(together)) - alone)


# --- the three answers ---------------------------------------------------------------------------


async def _clear(
    services: Services,
    turn: Turn,
    categories: list[str],
    said: str,
    *,
    lead: dict[str, Any] | None,
    about: str | None,
    now: datetime,
) -> None:
    """Help first (whatever fails after this, the child has it), then the alert."""
    recently = lead is not None and now.timestamp() - lead["at"] < _group_seconds(services)
    if recently:
        # The whole block again would drown what they said: a word that it is passed on.
        await _say_and_offer(turn, AFTER_WORRY[about] if about else _added(turn))
    else:
        await help_block(turn)
    alert = await _store(services, turn, categories, said, tier="clear")
    if alert is not None and not recently:
        turn.profile["alerted"] = {"id": alert.id, "at": now.timestamp()}
    elif alert is not None and lead is not None:
        lead["at"] = now.timestamp()


async def help_block(turn: Turn) -> None:
    """What a child reads when they tell us something worrying: thanks and not in trouble,
    who can help now, who we tell and when they will be in touch, and two buttons."""
    when = WHEN[turn.services.alert_contact_within]
    await turn.say("safeguarding_thanks", "safeguarding_help")
    tell = "safeguarding_tell_iro" if turn.review else "safeguarding_tell_duty"
    await turn.context.send_activity(turn.message(f"{turn.msg(tell)}\n{turn.msg(when)}"))
    await _say_and_offer(turn, "carry_on")


async def _unsure(
    services: Services, turn: Turn, categories: list[str], said: str, *, now: datetime
) -> None:
    """A gentle check, and a note for the adults that goes whatever the child answers."""
    await ask_check(turn)
    alert = await _store(services, turn, categories, said, tier="unsure")
    if alert is not None:
        turn.profile["checking"] = {"id": alert.id, "at": now.timestamp()}


async def ask_check(turn: Turn) -> None:
    question = turn.content.question(CHECK)
    view = AskView(
        key=CHECK,
        nonce=0,
        type="single",
        prompt=turn.t(f"questions.{CHECK}.prompt"),
        options=tuple(choices_for(turn, question)),
        controls=(Control(TALK, turn.t("controls.talk.label")),),
        submit_label=turn.t("controls.submit.label"),
        rtl=turn.content.direction(turn.locale) == "rtl",
    )
    await turn.context.send_activity(
        question_activity(view, turn.context.activity.channel_id or "", turn.locale)
    )


async def _check_answered(
    services: Services,
    context: ChatTurn,
    profile: dict[str, Any],
    text: str | None,
    payload: dict[str, Any] | None,
) -> Screened | None:
    """The child's answer to the gentle check, or None if this message is not one (it is then
    screened as any other, and the check is over: the note has gone already)."""
    turn = await Turn.load(services, context)
    check = profile["checking"]
    picked = _check_choice(turn, text, payload)
    if picked is None:
        profile.pop("checking", None)
        return None
    if picked == TALK:
        await turn.say("talk_to_someone" if turn.review else "talk_to_someone_unlinked")
        if services.advocacy_contact:
            await turn.say("talk_to_advocacy", advocacy=services.advocacy_contact)
        await ask_check(turn)
        return Screened(handled=True)
    profile.pop("checking", None)
    if picked == "ok":
        await turn.say("safety_check_ok_iro" if turn.review else "safety_check_ok_duty")
        return Screened(handled=True, ask=True)
    # "Yes, unsafe": what they wrote is a worry after all. The help, and an urgent alert now.
    first = await services.repos.alerts.get(alert_id=int(check["id"]))
    await help_block(turn)
    alert = await _store(services, turn, first.categories, first.message, tier="clear")
    if alert is not None:
        profile["alerted"] = {"id": alert.id, "at": services.clock().timestamp()}
    return Screened("clear", tuple(first.categories), handled=True)


def _check_choice(turn: Turn, text: str | None, payload: dict[str, Any] | None) -> str | None:
    choices = choices_for(turn, turn.content.question(CHECK))
    ids = {c.id for c in choices}
    if payload is not None:
        if payload.get("q") != CHECK:
            return None
        # A one-tap button carries "opt" (Web Chat, and Teams where options are buttons); a
        # card's choice set carries the choice input.
        picked = payload.get("opt") or payload.get(CHOICE_INPUT) or payload.get("ctl")
        return str(picked) if picked in {*ids, TALK} else None
    if text is None or len(text) > 80:
        return None
    said = normalize(text)
    talk = [turn.t("controls.talk.label"), *turn.content.synonyms("controls.talk", turn.locale)]
    if said and said in {normalize(w) for w in talk}:
        return TALK
    yes = {normalize(w) for w in turn.content.synonyms("choice_yes", turn.locale)}
    no = {normalize(w) for w in turn.content.synonyms("choice_no", turn.locale)}
    if said.isdigit():
        # Where the options are listed numbered (plain text, or Web Chat's number buttons).
        return match_one(said, choices)
    for c in choices:
        if said in c.words() or said in (yes if c.id == UNSAFE else no):
            return c.id
    return None


async def _keep_with(services: Services, turn: Turn, lead: dict[str, Any], text: str) -> None:
    """What the child said after the help, stored with the alert: it goes in that alert's
    follow-up to the same people."""
    alert = await _store(services, turn, [], text, tier="after", merged_into=int(lead["id"]))
    if alert is not None:
        log.info("message after the help kept with its alert", extra={"alert_id": lead["id"]})


async def _say_and_offer(turn: Turn, key: str) -> None:
    await turn.offer_next(turn.msg(key))


# --- storing and routing -------------------------------------------------------------------------


async def _store(
    services: Services,
    turn: Turn,
    categories: list[str],
    said: str,
    *,
    tier: str,
    merged_into: int | None = None,
) -> SafeguardingAlert | None:
    """Commits the alert on its own and routes it; None for a resend already stored."""
    act = turn.context.activity
    # Before the transaction, not inside it: a slow service must not hold the database.
    translation = None
    if turn.locale != FALLBACK_LOCALE and services.translator.enabled:
        translation = await services.translator.to_english(said, source=turn.locale)
    async with services.repos.db.unit_of_work():
        alert, new = await services.repos.alerts.create_once(
            data=SafeguardingAlertBase(
                categories=categories,
                channel_id=(act.channel_id or "")[:64],
                conversation_id=(act.conversation.id or "")[:512] if act.conversation else "",
                locale=turn.locale,
                question_id=_waiting_for(turn),
                tier=tier,
                **_who(act),
            ),
            review_id=turn.review.id if turn.review else None,
            message=said,
            activity_id=act.id or None,
            translation=translation,
            created_at=turn.now(),
        )
        if not new:
            return alert
        if tier == "after":
            await services.repos.alerts.hold(alert_id=alert.id or 0, merged_into=merged_into)
        elif tier == "unsure":
            await route_note(services, alert, turn.now())
        else:
            await route(services, alert, turn.now())
    return alert


# --- the chat's recent words and state -----------------------------------------------------------


def _recent(profile: dict[str, Any], now: datetime) -> list[str]:
    """The child's last few typed messages, oldest first, within the last few minutes."""
    since = now.timestamp() - RECENT_MINUTES * 60
    kept = [m for m in profile.get("recent", []) if isinstance(m, list) and m[0] >= since]
    return [str(m[1]) for m in kept[-RECENT:]]


def worth_keeping(matcher: Screen, text: str) -> bool:
    """Whether a typed message is kept to read with the next ones. Numbers, buttons' labels,
    invite codes and long messages are not: they say nothing together that they did not say
    alone (a code read with the name typed next made the model unsure of "أميرة" about one
    time in thirty), and a code is a key to the chat, not to be kept in its state."""
    return not (
        len(text) > RECENT_CHARS
        or is_number_form(text)
        or looks_like_code(text)
        or matcher.is_own_words(text)
    )


def _remember(profile: dict[str, Any], matcher: Screen, text: str, now: datetime) -> None:
    """Keeps a typed message to read with the next ones. The chat's state is sealed at rest,
    and these go with the minutes."""
    if not worth_keeping(matcher, text):
        return
    since = now.timestamp() - RECENT_MINUTES * 60
    recent = [m for m in profile.get("recent", []) if isinstance(m, list) and m[0] >= since]
    profile["recent"] = [*recent[-(RECENT - 1) :], [now.timestamp(), text]]


def _lead(profile: dict[str, Any]) -> dict[str, Any] | None:
    """The alert whose help this chat was last given."""
    lead = profile.get("alerted")
    return lead if isinstance(lead, dict) and lead.get("id") else None


def _group_seconds(services: Services) -> float:
    return services.alert_group_window.total_seconds()


def _acknowledges(matcher: Screen, text: str) -> bool:
    """ "OK", "carry on", a button's label: ready to go on, nothing to keep."""
    return matcher.is_own_words(text) or is_number_form(text) or not normalize(text)


def _about_the_worry(turn: Turn, text: str) -> str | None:
    """Which kind of word about the worry this is (secret, not_true, who), if any."""
    if len(text) > 300:
        return None
    padded = f" {normalize(text)} "
    sfile = turn.content.safeguarding.get(turn.locale) or turn.content.safeguarding.get("en")
    files = [f for f in (sfile, turn.content.safeguarding.get("en")) if f is not None]
    for f in files:
        for kind, phrases in f.about_the_worry.items():
            if any(normalize(p) and f" {normalize(p)} " in padded for p in phrases):
                return kind
    return None


def _added(turn: Turn) -> str:
    """The message key saying a further worry is passed on too, to whoever was told."""
    return "safeguarding_added_iro" if turn.review else "safeguarding_added_duty"


def _who(act: Arrived) -> dict[str, str | None]:
    """The channel's ids for the young person, so a duty worker can find the chat."""
    sender = act.from_property
    tenant = act.conversation.tenant_id if act.conversation else None
    data = act.channel_data if isinstance(act.channel_data, dict) else {}
    if not tenant and isinstance(data.get("tenant"), dict):
        tenant = data["tenant"].get("id")
    # Clipped to what the columns hold: a channel (or anyone posting) may send any length,
    # and the alert must be stored whatever it sends.
    return {
        "user_id": str(sender.id)[:256] if sender and sender.id else None,
        "tenant_id": str(tenant)[:64] if tenant else None,
        "aad_object_id": str(sender.aad_object_id)[:64]
        if sender and sender.aad_object_id
        else None,
    }


def _waiting_for(turn: Turn) -> str | None:
    """The question the child was looking at, for the adults reading the alert."""
    asked = turn.profile.get("asked")
    return str(asked["key"]) if isinstance(asked, dict) and asked.get("key") else None
