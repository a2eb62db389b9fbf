"""AskDialog: asks one question and waits until the child answers it or uses a control.

It is the only place that waits for the child, so everything that works "at every step" lives
here: help, back, skip, language, pause, start again, talk to someone; stale or repeated card
submits; pictures and voice notes; answers that are too long; and the safeguarding check on
everything typed. An answer to a stored question is committed before anything is said back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.dialogs import Dialog, DialogContext, DialogReason, DialogTurnResult
from botbuilder.schema import ActivityTypes

from dialogs.context import Services, Turn
from dialogs.flow import visible_options
from dialogs.recognize import Choice, match_many, match_one, match_word
from dialogs.render import (
    CARD_CHANNELS,
    CHOICE_INPUT,
    AskView,
    Control,
    answered_card,
    question_activity,
    text_message,
    updated_card_activity,
)
from storage.content import Question
from storage.models import SafeguardingAlertBase

log = logging.getLogger(__name__)
ASK = "ask"
# Controls that make sense from any card, however old; back and skip belong to one question.
GLOBAL_CONTROLS = ("help", "language", "pause", "restart", "talk", "repeat")
STEP_CONTROLS = ("back", "skip")
HELP_MENU = ("repeat", "language", "pause", "restart", "talk")


@dataclass(frozen=True)
class Incoming:
    """A message from the child, reduced to what we branch on."""

    text: str | None
    payload: dict[str, Any] | None
    media: str | None

    @classmethod
    def of(cls, context: TurnContext) -> Incoming:
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
    return [
        Choice(
            o.id, turn.t(f"{base}.{o.id}.label"), tuple(c.synonyms(f"{base}.{o.id}", turn.locale))
        )
        for o in visible_options(question, turn.facts())
    ]


def describe(turn: Turn, question: Question, kind: str, value: Any) -> str:
    """An answer in the child's own language, as they would recognise it."""
    if kind == "skipped":
        return turn.msg("answer_skipped")
    if kind == "media":
        return turn.msg(f"answer_{value}")
    if kind == "text":
        return str(value)
    labels = {ch.id: ch.label for ch in choices_for(turn, question)}
    if question.type == "language":
        labels = {code: loc.meta.name for code, loc in turn.content.locales.items()}
    if kind == "yesno":
        return labels["yes" if value else "no"]
    ids = [value] if kind == "choice" else list(value)
    base = f"questions.{question.id}.options"
    return turn.msg("list_separator").join(
        labels.get(i) or turn.t(f"{base}.{i}.label") for i in ids
    )


def prompt_for(turn: Turn, question: Question, topic: str | None, extra: dict[str, Any]) -> str:
    about = {}
    if topic is not None and question.for_each_chosen:
        about["topic"] = turn.t(f"questions.{question.for_each_chosen}.options.{topic}.about")
    return turn.t(f"questions.{question.id}.prompt", **about, **extra)


class AskDialog(Dialog):
    """Options: qid, topic, key, store, can_back, silent, intro, values. Ends with
    {"kind", "value"} for an answer or {"control": "back" | "skip"}."""

    def __init__(self, services: Services) -> None:
        super().__init__(ASK)
        self.services = services

    async def begin_dialog(self, dc: DialogContext, options: object = None) -> DialogTurnResult:
        turn = await Turn.load(self.services, dc.context)
        state = dc.active_dialog.state
        state.update(dict(options or {}))  # type: ignore[call-overload]
        state.setdefault("key", state["qid"])
        turn.profile["asks"] = turn.profile.get("asks", 0) + 1
        state["n"] = turn.profile["asks"]
        if not state.get("silent"):
            await self._ask(turn, state, intro=state.get("intro", True))
        return Dialog.end_of_turn

    async def continue_dialog(self, dc: DialogContext) -> DialogTurnResult:
        if dc.context.activity.type != ActivityTypes.message:
            return Dialog.end_of_turn
        turn = await Turn.load(self.services, dc.context)
        state = dc.active_dialog.state
        question = turn.content.question(state["qid"])
        inc = Incoming.of(dc.context)
        was_paused = bool(turn.profile.pop("paused", False))
        if was_paused:
            await turn.say("welcome_back")
            if not inc.payload:
                # They were told "just say hi": what they type now greets, it does not answer.
                flagged = turn.services.matcher(turn.content).categories(inc.typed or "")
                await self._safeguard(turn, flagged, inc.typed, state)
                await self._ask(turn, state, intro=False)
                return Dialog.end_of_turn

        p = inc.payload or {}
        ctl = p.get("ctl") if p.get("ctl") in (*GLOBAL_CONTROLS, *STEP_CONTROLS) else None
        stale = "q" in p and (p.get("q") != state["key"] or p.get("n") != state["n"])
        if stale and ctl not in GLOBAL_CONTROLS:
            await turn.say("stale_card")
            return Dialog.end_of_turn

        choices = choices_for(turn, question) if question.type != "text" else []
        answer: tuple[str, Any] | None = None
        if ctl is None:
            answer = self._from_payload(question, p, choices) if p else None
            if answer is None and inc.text and question.type != "text":
                answer = self._from_text(question, inc.text, choices)
            if answer is None and inc.text:
                ctl = self._typed_control(turn, inc.text)
        flagged = []
        if inc.typed and ctl is None:
            flagged = turn.services.matcher(turn.content).categories(inc.typed)

        if ctl is not None:
            return await self._control(dc, turn, state, question, ctl)

        if answer is None and question.type == "text":
            if inc.text is not None and len(inc.text) > question.max_length:
                await self._safeguard(turn, flagged, inc.typed, state)
                await turn.say("too_long", max=question.max_length)
                return Dialog.end_of_turn
            if inc.text is not None:
                answer = ("text", inc.text)
            elif inc.media and state.get("store"):
                answer = ("media", inc.media)

        if answer is None:
            await self._safeguard(turn, flagged, inc.typed, state)
            if inc.media:
                await self._note_media(turn, state, inc.media)
            elif not flagged and not was_paused:
                sorry = {"multi": "not_understood_multi", "yesno": "not_understood_yesno"}
                await turn.say(
                    sorry.get(question.type, "not_understood")
                    if question.type != "text"
                    else "empty_text"
                )
            await self._ask(turn, state, intro=False)
            return Dialog.end_of_turn

        kind, value = answer
        if state.get("store") or question.type == "language":
            await self._store(turn, state, kind, value)
        if question.type == "language":
            await self._switch_language(turn, value)
        await self._safeguard(turn, flagged, inc.typed, state)
        if kind == "media":
            await turn.say(f"media_{value}")
        await self._mark_card_answered(turn, state, question, kind, value)
        return await dc.end_dialog({"kind": kind, "value": value})

    async def resume_dialog(
        self, dc: DialogContext, reason: DialogReason, result: object = None
    ) -> DialogTurnResult:
        """Back from a nested ask (change language, or confirm start again)."""
        turn = await Turn.load(self.services, dc.context)
        state = dc.active_dialog.state
        pending = state.pop("pending", None)
        if pending == "restart" and isinstance(result, dict):
            if result.get("value") is True:
                if turn.review is not None:
                    await turn.services.repos.answers.clear(review_id=turn.review.id or 0)
                    turn.answers = {}
                await dc.cancel_all_dialogs()
                return await dc.begin_dialog("consultation", {"restart": True})
            await turn.say("restart_cancelled")
        state["n"] = turn.profile["asks"] = turn.profile.get("asks", 0) + 1
        await self._ask(turn, state, intro=False)
        return Dialog.end_of_turn

    async def reprompt_dialog(self, context: TurnContext, instance: Any) -> None:
        turn = await Turn.load(self.services, context)
        await self._ask(turn, instance.state, intro=False)

    # --- parts ----------------------------------------------------------------------------

    async def _ask(self, turn: Turn, state: dict[str, Any], *, intro: bool) -> None:
        question = turn.content.question(state["qid"])
        if intro and turn.content.has(f"questions.{question.id}.intro", "en"):
            await turn.context.send_activity(
                text_message(turn.t(f"questions.{question.id}.intro"), turn)
            )
        controls = []
        if state.get("can_back"):
            controls.append("back")
        if not question.essential:
            controls.append("skip")
        controls += [*question.controls, "help"]
        view = AskView(
            key=state["key"],
            nonce=state["n"],
            type=question.type,
            prompt=prompt_for(turn, question, state.get("topic"), state.get("values", {})),
            options=tuple(choices_for(turn, question)) if question.type != "text" else (),
            controls=tuple(Control(c, turn.t(f"controls.{c}.label")) for c in controls),
            submit_label=turn.t("controls.submit.label"),
            rtl=turn.content.direction(turn.locale) == "rtl",
            hint=turn.msg("type_hint") if question.type == "text" else None,
        )
        sent = await turn.context.send_activity(
            question_activity(view, turn.context.activity.channel_id or "", turn.locale)
        )
        if sent is not None and sent.id:
            state["card"] = sent.id  # to replace it with the answer, tapped or typed

    def _from_payload(
        self, question: Question, payload: dict[str, Any], choices: list[Choice]
    ) -> tuple[str, Any] | None:
        ids = {c.id for c in choices}
        raw = payload.get("opt", payload.get(CHOICE_INPUT))
        if raw is None or question.type == "text":
            return None
        picked = [x for x in str(raw).split(",") if x]
        if not picked or any(x not in ids for x in picked):
            return None
        return self._typed_answer(question, picked)

    def _from_text(
        self, question: Question, text: str, choices: list[Choice]
    ) -> tuple[str, Any] | None:
        if question.type == "multi":
            many = match_many(text, choices)
            return self._typed_answer(question, many) if many else None
        one = match_one(text, choices)
        return self._typed_answer(question, [one]) if one else None

    @staticmethod
    def _typed_answer(question: Question, ids: list[str]) -> tuple[str, Any] | None:
        if question.type == "multi":
            return ("choices", ids)
        if len(ids) != 1:
            return None
        if question.type == "yesno":
            return ("yesno", ids[0] == "yes")
        return ("choice", ids[0])

    def _typed_control(self, turn: Turn, text: str) -> str | None:
        for ctl in (*STEP_CONTROLS, *GLOBAL_CONTROLS):
            if ctl != "repeat" and match_word(
                text, turn.content.synonyms(f"controls.{ctl}", turn.locale)
            ):
                return ctl
        return None

    async def _control(
        self, dc: DialogContext, turn: Turn, state: dict[str, Any], question: Question, ctl: str
    ) -> DialogTurnResult:
        if ctl == "back":
            if state.get("can_back"):
                return await dc.end_dialog({"control": "back"})
            await turn.say("back_at_start")
        elif ctl == "skip":
            if not question.essential:
                if state.get("store"):
                    await self._store(turn, state, "skipped", None)
                await turn.say("skipped")
                return await dc.end_dialog({"control": "skip"})
            await turn.say("cannot_skip")
        elif ctl == "help":
            await self._help(turn, state, question)
            return Dialog.end_of_turn
        elif ctl == "talk":
            await turn.say("talk_to_someone" if turn.review else "talk_to_someone_unlinked")
        elif ctl == "pause":
            turn.profile["paused"] = True
            await turn.say("paused" if turn.review else "paused_unlinked")
            return Dialog.end_of_turn
        elif ctl == "language" and state["qid"] != "language" and not state.get("nested"):
            state["pending"] = "language"
            return await dc.begin_dialog(
                ASK, {"qid": "language", "nested": True, "store": bool(turn.review)}
            )
        elif ctl == "restart" and not state.get("nested"):
            if turn.review is None:
                await dc.cancel_all_dialogs()
                return await dc.begin_dialog("consultation", {"restart": True})
            state["pending"] = "restart"
            return await dc.begin_dialog(
                ASK, {"qid": "restart_confirm", "key": "restart_confirm", "nested": True}
            )
        await self._ask(turn, state, intro=False)
        return Dialog.end_of_turn

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
            controls=tuple(Control(c, turn.t(f"controls.{c}.label")) for c in HELP_MENU),
            submit_label=turn.t("controls.submit.label"),
            rtl=turn.content.direction(turn.locale) == "rtl",
        )
        await turn.context.send_activity(
            question_activity(view, turn.context.activity.channel_id or "", turn.locale)
        )

    async def _store(self, turn: Turn, state: dict[str, Any], kind: str, value: Any) -> None:
        if turn.review is None:
            return
        saved = await turn.services.repos.answers.save(
            review_id=turn.review.id or 0,
            question_id=state["key"],
            kind=kind,
            value=value,
            locale=turn.locale,
        )
        turn.answers[saved.question_id] = saved

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
        if changed:
            await turn.say("language_changed")

    async def _safeguard(
        self, turn: Turn, categories: list[str], text: str | None, state: dict[str, Any]
    ) -> None:
        """Help at once, honestly say who will be told, and alert them; then carry on."""
        if not categories or text is None:
            return
        act = turn.context.activity
        alert = await turn.services.repos.alerts.create(
            data=SafeguardingAlertBase(
                categories=categories,
                channel_id=act.channel_id or "",
                conversation_id=act.conversation.id if act.conversation else "",
                locale=turn.locale,
                question_id=state.get("key"),
            ),
            review_id=turn.review.id if turn.review else None,
            message=text,
        )
        await turn.services.notifier.alert(alert_id=alert.id or 0)
        await turn.say(
            "safeguarding_thanks",
            "safeguarding_help",
            "safeguarding_tell_iro" if turn.review else "safeguarding_tell_duty",
            "carry_on",
        )

    async def _mark_card_answered(
        self, turn: Turn, state: dict[str, Any], question: Question, kind: str, value: Any
    ) -> None:
        """Replace a submitted card with its answer, so it cannot be submitted again."""
        act = turn.context.activity
        card_id = act.reply_to_id if act.value and act.reply_to_id else state.get("card")
        if act.channel_id not in CARD_CHANNELS or not card_id:
            return
        prompt = prompt_for(turn, question, state.get("topic"), state.get("values", {}))
        line = turn.t("controls.answered.label", answer=describe(turn, question, kind, value))
        card = answered_card(prompt, line, turn.content.direction(turn.locale) == "rtl")
        try:
            await turn.context.update_activity(updated_card_activity(card_id, card))
        except Exception as exc:  # an old card we cannot update is only cosmetic
            log.info("card not updated", extra={"error": type(exc).__name__})
