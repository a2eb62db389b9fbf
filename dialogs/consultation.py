"""The whole conversation with a young person, top to bottom.

consultation: welcome -> link (invite code) -> questions -> check (who may hear, the list, send)
Each step's docstring says what it stores and what it asks next. Every wait for the child is an
AskDialog (dialogs/ask.py), which also handles the controls that work at every step.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from dialogs.ask import (
    ASK,
    AskDialog,
    check_label,
    describe,
    meanings_for,
    prompt_for,
    welcome_due,
)
from dialogs.carry_over import (
    CARRY_CONFIRM,
    CHANGE,
    KEEP,
    Carried,
    carried,
    carried_language,
    remember,
)
from dialogs.context import REOPENING_CHANNELS, Services, Turn, screened
from dialogs.display import child_text
from dialogs.engine import Dialogs, Result, StepContext
from dialogs.flow import find, first_unanswered, step_after, steps
from dialogs.ports import ChatTurn, conversation_reference
from dialogs.recognize import Choice, compact_code, match_one, normalize
from dialogs.render import answers_activity
from storage.models import ChannelLink, Review

log = logging.getLogger(__name__)

CONSULTATION = "consultation"
LINK = "link"
QUESTIONS = "questions"
CHECK = "check"
SHARE = "share"
SHARE_EACH = "share_each"
# Sections of the list the child checks, in order, with the message heading each.
SECTIONS = {"about_me": "check_about_me", "meeting": "check_meeting", "talk": "check_talk"}


class Consultation:
    """Builds the dialog set; `run` takes one turn of it."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.dialogs = Dialogs()
        self.dialogs.add_prompt(ASK, AskDialog(services))
        table: dict[str, list[Any]] = {
            CONSULTATION: [self.welcome, self.start_questions, self.start_check, self.send],
            LINK: [self.ask_code, self.check_code],
            QUESTIONS: [self.ask_question, self.next_question],
            CHECK: [
                self.share_new,
                self.show_answers,
                self.check_choice,
                self.change_answer,
                self.check_again,
            ],
            SHARE: [self.ask_share_all, self.save_share_all],
            SHARE_EACH: [self.ask_share_one, self.save_share_one],
        }
        for dialog_id, waterfall in table.items():
            self.dialogs.add_waterfall(dialog_id, waterfall)

    async def run(self, context: ChatTurn) -> None:
        chat = await self.services.chats.load(context)
        dc = self.dialogs.context(context, chat.stack)
        turn = await Turn.load(self.services, context)
        closed = turn.profile.pop("device_closed", False)
        if closed:
            if closed == "reopened":
                await turn.say("web_chat_reopened")
            else:
                await turn.say("device_closed")
            await dc.cancel_all()
            await dc.begin(CONSULTATION)
            return
        if turn.link is not None and turn.link.other_device_at is not None:
            # Said on the child's own device, so they know if it was not them.
            await turn.say("other_device_linked")
            await self.services.repos.links.seen_other_device(link_id=turn.link.id or 0)
        if context.activity.type != "message" and dc.active is not None:
            # The chat was opened again (a reinstall, a reloaded client): show where we are.
            turn = await Turn.load(self.services, context)
            if welcome_due(turn):
                await turn.say("welcome_back")
            await dc.reprompt()
            return
        result = await dc.continue_()
        if result.status == "empty":
            await dc.begin(CONSULTATION)

    async def turn(self, step: StepContext) -> Turn:
        return await Turn.load(self.services, step.context)

    # --- consultation ---------------------------------------------------------------------

    async def welcome(self, step: StepContext) -> Result:
        """Greets a new child and asks for their code; greets one coming back and carries on."""
        turn = await self.turn(step)
        if (step.options or {}).get("restart"):
            await turn.say("restarted")
            return await step.next(None)
        if turn.review is None:
            await turn.say("welcome", "welcome_what", "welcome_rules")
            return await step.begin(LINK)
        if not turn.trusted:
            if (
                turn.review.submitted_at is not None
                or first_unanswered(turn.content, turn.facts()) is None
            ):
                await turn.say("limited_done")
                return await step.end()
            if welcome_due(turn):
                await turn.say("welcome_back")
            return await step.next(None)
        if turn.review.submitted_at is not None:
            if not turn.can_change():
                await turn.say("edit_closed")
                return await step.end()
            return await step.begin(ASK, {"qid": "welcome_back_sent"})
        if welcome_due(turn):
            await turn.say("welcome_back")
        return await step.next(None)

    async def start_questions(self, step: StepContext) -> Result:
        """Asks the first unanswered question, or goes to the check if they chose to change."""
        turn = await self.turn(step)
        choice = step.result.get("value") if isinstance(step.result, dict) else None
        if choice == "no_thanks":
            await turn.say("no_thanks")
            return await step.end()
        if choice == "change":
            step.values["change"] = True  # straight to "which one?", not "ready to send?"
            return await step.next(None)
        return await step.begin(QUESTIONS, {"mode": "flow"})

    async def start_check(self, step: StepContext) -> Result:
        """All questions asked: the check, which ends in send or not yet (on the child's own
        device; any other only says the answers are saved, and ends)."""
        turn = await self.turn(step)
        if not turn.trusted:
            await turn.say("limited_done")
            return await step.end()
        return await step.begin(CHECK, {"change": bool(step.values.get("change"))})

    async def send(self, step: StepContext) -> Result:
        """Stores the send and queues the summary (marked updated after the first); ends."""
        turn = await self.turn(step)
        assert turn.review is not None
        result = step.result.get("value") if isinstance(step.result, dict) else None
        if result == "closed":
            return await step.end()
        if result != "send":
            await turn.say("not_yet")
            return await step.end()
        updated = turn.review.submitted_at is not None
        turn.review = await self.services.repos.reviews.mark_submitted(
            review_id=turn.review.id or 0, at=turn.now()
        )
        # What they shared of how to speak with them, for their next review.
        await remember(turn)
        await self.services.notifier.summary(review_id=turn.review.id or 0, updated=updated)
        await turn.say("sent_updated" if updated else "sent")
        return await step.end()

    # --- link: the invite code -------------------------------------------------------------

    async def ask_code(self, step: StepContext) -> Result:
        """Asks for the invite code (quietly, when asking again after a wrong one)."""
        silent = bool((step.options or {}).get("again"))
        return await step.begin(ASK, {"qid": "invite_code", "silent": silent})

    async def check_code(self, step: StepContext) -> Result:
        """Stores the link for a valid code; counts a wrong one; pauses after too many."""
        turn = await self.turn(step)
        repos, now = self.services.repos, turn.now()
        act = step.context.activity
        conversation_id = act.conversation.id if act.conversation else ""
        user_id = (act.from_property.id if act.from_property else None) or ""
        keys = (f"{act.channel_id}/{conversation_id}", f"{act.channel_id}/{user_id}")
        misses = await self._misses_unless_paused(turn, keys, now)
        if misses is None:
            return await step.replace(LINK, {"again": True})
        code = compact_code(str(step.result.get("value", "")))
        review = await self._review_for(turn, code, keys, misses, now)
        if review is None:
            return await step.replace(LINK, {"again": True})

        await repos.code_attempts.clear(conversation_key=keys[0])
        link = await repos.links.link(
            review_id=review.id or 0,
            channel_id=act.channel_id or "",
            user_id=user_id,
            conversation_id=conversation_id,
            conversation_reference=conversation_reference(act),
            max_devices=self.services.code_devices_allowed,
            reopens=act.channel_id in REOPENING_CHANNELS,
        )
        if link is None:
            # Not a wrong code, so not counted as one: the IRO can give a new code.
            await turn.say("code_too_many_devices")
            return await step.replace(LINK, {"again": True})
        await self._alerts_before_the_code(act.channel_id or "", conversation_id, review)
        turn.profile["review_id"] = review.id
        turn.review = review
        turn.link = link
        await turn.reload_answers()
        welcomed_in = turn.locale
        await self._chat_language(turn, link, review, act.locale)
        if turn.locale != welcomed_in and not turn.answers.keys() - {"language"}:
            # The safety rule first, in the child's own language, before any question.
            await turn.say("welcome", "welcome_rules")
        await self._say_linked(turn, link, review)
        return await step.end(review.id)

    async def _misses_unless_paused(
        self, turn: Turn, keys: tuple[str, str], now: datetime
    ) -> list[datetime] | None:
        """This conversation's recent wrong codes; None (and "paused" said) past a bound.
        Wrong codes are bounded per conversation, per channel user (whatever conversation
        they use) and across the service (whatever users and channels guessers invent)."""
        services, codes = self.services, self.services.repos.code_attempts
        misses = await codes.failures_since(
            conversation_key=keys[0], since=now - services.code_window
        )
        by_user = await codes.user_failures_since(user_key=keys[1], since=now - timedelta(days=1))
        if len(misses) >= services.code_attempts_allowed:
            await turn.say("code_paused", time=turn.time_words(misses[-1] + services.code_window))
            return None
        if len(by_user) >= services.code_attempts_per_user_per_day:
            await turn.say("code_paused", time=turn.time_words(by_user[0] + timedelta(days=1)))
            return None
        return misses

    async def _review_for(
        self, turn: Turn, code: str, keys: tuple[str, str], misses: list[datetime], now: datetime
    ) -> Review | None:
        """The review this code opens; else None, and why said (a wrong code counted).

        The code is checked first, whatever the service-wide rate: a keyed hash looked up by
        equality, so a right code gets in at once and guessers cannot hold it up. Only a
        wrong code is counted, and past the service-wide rate it is refused as before."""
        services = self.services
        review = await services.repos.reviews.by_code_hash(
            invite_code_hash=services.codes.hash(code)
        )
        if review is None:
            await services.repos.code_attempts.record_failure(
                conversation_key=keys[0], user_key=keys[1], at=now
            )
            if len(misses) + 1 >= services.code_attempts_allowed:
                await turn.say("code_paused", time=turn.time_words(now + services.code_window))
            elif not await self._wrong_code_answered(now):
                await turn.say("code_busy")
            else:
                await turn.say("code_wrong")
            return None
        if review.invite_expires_at <= now:
            await turn.say("code_expired")
            return None
        if review.submitted_at is not None:
            await turn.say("code_used_up")
            return None
        return review

    async def _alerts_before_the_code(
        self, channel_id: str, conversation_id: str, review: Review
    ) -> None:
        """A worry written before the code: the IRO hears of it now, with the review."""
        notifier = self.services.notifier
        for alert in await self.services.repos.alerts.link_to_review(
            channel_id=channel_id, conversation_id=conversation_id, review_id=review.id or 0
        ):
            if alert.merged_into is not None:  # repeats are in their group's email
                continue
            if alert.tier == "unsure":
                await notifier.note(alert_id=alert.id or 0, linked_later=True)
            else:
                await notifier.alert(alert_id=alert.id or 0, linked_later=True)

    async def _chat_language(
        self, turn: Turn, link: ChannelLink, review: Review, device: str | None
    ) -> None:
        """The chat goes on in the language chosen; else, on the child's own device, in one
        known already, stored as their answer (not asked again; "Language" still changes it)."""
        chosen = turn.answers.get("language")
        if chosen is not None and chosen.kind == "choice":
            turn.profile["locale"] = chosen.value
            return
        if not link.trusted:
            return
        # The language the child chatted in at their last review comes before the review's
        # hint: it is the child's own choice (dialogs/carry_over.py).
        before = await carried_language(turn)
        known = self._known_language(turn, before or review.language_hint, device)
        if known is None:
            return
        turn.profile["locale"] = known
        turn.answers["language"] = await self.services.repos.answers.save(
            review_id=review.id or 0,
            question_id="language",
            kind="choice",
            value=known,
            locale=known,
        )

    async def _say_linked(self, turn: Turn, link: ChannelLink, review: Review) -> None:
        """That they are in: on another device, how far the answers are (no name, no answers:
        someone holding the code is not always the child); else welcome, or welcome back."""
        if not link.trusted:
            keys = [s.key for s in steps(turn.content, turn.facts())]
            done = sum(1 for k in keys if k in turn.answers)
            counted = turn.content.plural("questions", len(keys), turn.locale)
            await turn.say("linked_other_device", done=done, questions=counted)
            return
        again = turn.answers.keys() - {"language"}
        first = "linked_place" if review.place else "linked"
        await turn.say("linked_again" if again else first)

    @staticmethod
    def _known_language(turn: Turn, hint: str | None, device: str | None) -> str | None:
        """The chat's language when it need not be asked: chosen with "Language" before the
        code, else the review's language, else the device's, if MyReview speaks it."""
        if turn.profile.get("language_chosen"):
            return turn.locale
        for given in (hint, device):
            code = (given or "").split("-")[0].lower()
            if code in turn.content.locales:
                return code
        return None

    async def _wrong_code_answered(self, now: datetime) -> bool:
        """Whether a wrong code (already counted) is answered as wrong. Past the service-wide
        rate of wrong codes, one is, per slow-lane interval; every other is refused as "busy",
        and the duty team is warned once an hour. Below the rate, every one is."""
        services, codes = self.services, self.services.repos.code_attempts
        # Counted already, hence `<=`: the first so many wrong codes in an hour are answered.
        wrong = await codes.count_since(since=now - timedelta(hours=1))
        if wrong <= services.code_guesses_per_hour:
            return True
        if await codes.take_warning(now=now, every=timedelta(hours=1)):
            log.warning("invite codes are being guessed", extra={"wrong_last_hour": wrong})
            await services.notifier.code_guessing(wrong_in_last_hour=wrong, at=now)
        return await codes.take_slow_lane(now=now, every=services.code_slow_lane)

    # --- questions ---------------------------------------------------------------------------

    async def ask_question(self, step: StepContext) -> Result:
        """Asks the question at options["key"] (else the first unanswered); ends when none.
        What the child told us for it at their last review, if anything, is offered back to
        confirm instead (unless they chose to change it: options["fresh"])."""
        turn = await self.turn(step)
        opts: dict[str, Any] = dict(step.options or {})
        facts = turn.facts()
        current = find(turn.content, facts, opts["key"]) if opts.get("key") else None
        if current is None:
            current = first_unanswered(turn.content, facts)
        if current is None:
            return await step.end()
        step.values["key"] = current.key
        first = steps(turn.content, facts)[0].key
        can_back = current.key != first and turn.trusted
        if not opts.get("fresh") and current.key not in turn.answers:
            before = await carried(turn, current)
            if before is not None:
                step.values["carried"] = before.state()
                said = describe(turn, current.question, before.kind, before.value)
                return await step.begin(
                    ASK,
                    {
                        "qid": CARRY_CONFIRM,
                        "key": f"carry.{current.key}",
                        "can_back": can_back,
                        "values": {
                            "last_time": turn.t(
                                f"questions.{current.question.id}.carried", answer=said
                            )
                        },
                    },
                )
        return await step.begin(
            ASK,
            {
                "qid": current.question.id,
                "topic": current.topic,
                "key": current.key,
                "store": True,
                "can_back": can_back,
            },
        )

    async def next_question(self, step: StepContext) -> Result:
        """The answer is stored already: moves on, goes back one, or ends when none are left."""
        turn = await self.turn(step)
        opts: dict[str, Any] = dict(step.options or {})
        key, mode = step.values["key"], opts.get("mode", "flow")
        result = step.result or {}
        before = Carried.from_state(step.values.pop("carried", None))
        if before is not None and result.get("value") == CHANGE:
            return await step.replace(QUESTIONS, {"key": key, "mode": mode, "fresh": True})
        if before is not None and result.get("value") == KEEP:
            await self._keep(turn, key, before)
        facts = turn.facts()
        if result.get("control") == "back":
            if mode == "edit":
                return await step.end()
            order = [s.key for s in steps(turn.content, facts)]
            idx = order.index(key) if key in order else 0
            if idx == 0:
                await turn.say("back_at_start")
                return await step.replace(QUESTIONS, {"key": key, "mode": mode})
            return await step.replace(QUESTIONS, {"key": order[idx - 1], "mode": mode})
        if mode == "edit":
            # A changed answer can open new questions (a new topic): ask those, then finish.
            gap = first_unanswered(turn.content, facts)
            if gap is None:
                return await step.end()
            return await step.replace(QUESTIONS, {"key": gap.key, "mode": mode})
        following = step_after(turn.content, facts, key)
        if following is None:
            return await step.end()
        return await step.replace(QUESTIONS, {"key": following.key, "mode": mode})

    async def _keep(self, turn: Turn, key: str, before: Carried) -> None:
        """Stores what the child told us last time as this review's answer: they said it is
        still right. Their own words keep who they let hear them."""
        review_id = turn.review.id or 0 if turn.review else 0
        answers = self.services.repos.answers
        saved = await answers.save(
            review_id=review_id,
            question_id=key,
            kind=before.kind,
            value=before.value,
            locale=turn.locale,
        )
        turn.answers[saved.question_id] = saved
        if before.visibility is not None:
            await answers.set_visibility(
                review_id=review_id, question_ids=[key], visibility=before.visibility
            )
            saved.visibility = before.visibility

    # --- check your answers ------------------------------------------------------------------

    async def share_new(self, step: StepContext) -> Result:
        """Asks who may hear the child's own words not yet decided: all at once the first
        time, one by one (each shown with its question) after a change."""
        turn = await self.turn(step)
        opts: dict[str, Any] = dict(step.options or {})
        if opts.get("which"):
            return await step.next(None)
        await turn.reload_answers()
        screen = self.services.matcher(turn.content)
        worries = [k for k in self._unshared(turn) if screen.categories(str(turn.answers[k].value))]
        if worries:
            # Never offered for reading out: the IRO and the safeguarding team read it.
            await self.services.repos.answers.set_visibility(
                review_id=turn.review.id or 0 if turn.review else 0,
                question_ids=worries,
                visibility="iro",
            )
            await turn.reload_answers()
            await turn.say("worry_not_read_out")
        if not self._unshared(turn):
            return await step.next(None)
        return await step.begin(SHARE_EACH if opts.get("changed") else SHARE)

    async def show_answers(self, step: StepContext) -> Result:
        """Shows every answer, numbered (after a change, only the changed one), and asks to
        send, change something, or wait."""
        turn = await self.turn(step)
        opts: dict[str, Any] = dict(step.options or {})
        if opts.get("which"):
            return await step.next({"value": "change"})  # the list is just above
        if not turn.can_change():
            await turn.say("edit_closed")
            return await step.end({"value": "closed"})
        await turn.reload_answers()
        rows = self._answer_rows(turn)
        changed = [r for r in rows if r[0] == opts.get("changed")]
        if changed:
            _, prompt, shown = changed[0]
            await turn.say("answer_changed", question=prompt, answer=_shorten(shown))
        else:
            listed = answers_activity(
                turn.msg("check_intro"),
                [
                    (heading, label, _shorten(shown))
                    for heading, (_, label, shown) in zip(
                        self._sections(turn, rows), rows, strict=True
                    )
                ],
                step.context.activity.channel_id or "",
                turn.locale,
                turn.content.direction(turn.locale) == "rtl",
                keys=[key for key, _, _ in rows],
            )
            if screened(step.context).worry:
                # Help for a worry stays last on screen: the list comes with the question.
                return await step.begin(ASK, {"qid": "send_confirm", "before": listed})
            await step.context.send_activity(listed)
            if opts.get("change"):
                # They came back to change something: which one, under the list.
                return await step.next({"value": "change"})
        return await step.begin(ASK, {"qid": "send_confirm"})

    async def check_choice(self, step: StepContext) -> Result:
        """Stores nothing: send or not yet ends the check with that choice; "change" asks
        which number."""
        choice = step.result.get("value")
        if choice != "change":
            return await step.end({"value": choice})
        if step.result.get("key"):
            # An answer tapped in the list: that one, with no "which one?".
            return await step.next({"value": step.result["key"]})
        return await step.begin(ASK, {"qid": "which_answer"})

    async def change_answer(self, step: StepContext) -> Result:
        """Asks again the answer with that number (storing the new one), or asks for a number."""
        turn = await self.turn(step)
        rows = self._answer_rows(turn)
        typed = str(step.result.get("value", ""))
        digits = normalize(typed)
        if digits.isdigit() and 1 <= int(digits) <= len(rows):
            key: str | None = rows[int(digits) - 1][0]
        elif typed in {k for k, _, _ in rows}:
            key = typed  # tapped in the list
        else:
            # "when", "where", "school": the name it has in the list.
            key = match_one(typed, [Choice(k, label) for k, label, _ in rows])
        if key is None:
            await turn.say("which_answer_wrong", max=len(rows))
            return await step.replace(CHECK, {"which": True})
        step.values["changed"] = key
        return await step.begin(QUESTIONS, {"key": step.values["changed"], "mode": "edit"})

    async def check_again(self, step: StepContext) -> Result:
        """After a change, confirms just that answer and asks to send again."""
        return await step.replace(CHECK, {"changed": step.values.get("changed")})

    def _answer_rows(self, turn: Turn) -> list[tuple[str, str, str]]:
        """The answers to check, as (key, short label, answer), numbered as shown: about you,
        then the meeting, then what to talk about. The chat language is not one: it is how we
        talk, changed at any step with "language", and not a view for the review."""
        rows: list[tuple[int, str, str, str]] = []
        for s in steps(turn.content, turn.facts()):
            answer = turn.answers.get(s.key)
            if answer is None or s.question.type == "language":
                continue
            shown = describe(turn, s.question, answer.kind, answer.value, s.key)
            label = check_label(turn, s.question, s.topic)
            order = list(SECTIONS).index(s.question.section or "talk")
            rows.append((order, s.key, label, shown))
        rows.sort(key=lambda r: r[0])  # stable: the flow's order within a section
        return [(key, label, shown) for _, key, label, shown in rows]

    def _sections(self, turn: Turn, rows: list[tuple[str, str, str]]) -> list[str | None]:
        """The heading to show above each of these rows (`_answer_rows`), where a section
        starts."""
        headings: list[str | None] = []
        last = None
        for key, _, _ in rows:
            section = turn.content.question(key.split(".")[0]).section or "talk"
            headings.append(turn.msg(SECTIONS[section]) if section != last else None)
            last = section
        return headings

    # --- who may hear the child's own words -----------------------------------------------------

    def _unshared(self, turn: Turn) -> list[str]:
        """Written answers not yet shared or kept, worth asking about: "no", "nah", "idk"
        typed where no option means them say nothing to read out."""
        keys = {s.key for s in steps(turn.content, turn.facts())}
        practical = {q.id for q in turn.content.questions if q.practical}
        nothing = set().union(*meanings_for(turn).values()) | {
            normalize(w)
            for key in ("choice_yes", "choice_no")
            for w in turn.content.synonyms(key, turn.locale)
        }
        return [
            k
            for k, a in turn.answers.items()
            if k in keys
            and a.kind == "text"
            and not a.visibility
            and k.split(".")[0] not in practical
            and normalize(str(a.value)) not in nothing
        ]

    async def ask_share_all(self, step: StepContext) -> Result:
        """Asks once for all new written answers: everyone, just the IRO, or choose each."""
        turn = await self.turn(step)
        await turn.reload_answers()
        if not self._unshared(turn):
            return await step.end()
        return await step.begin(ASK, {"qid": "share_all"})

    async def save_share_all(self, step: StepContext) -> Result:
        """Stores the choice for all of them, or goes through them one by one."""
        turn = await self.turn(step)
        choice = step.result.get("value")
        if choice == "choose":
            return await step.replace(SHARE_EACH)
        await self.services.repos.answers.set_visibility(
            review_id=turn.review.id or 0 if turn.review else 0,
            question_ids=self._unshared(turn),
            visibility="everyone" if choice == "all_everyone" else "iro",
        )
        return await step.end()

    async def ask_share_one(self, step: StepContext) -> Result:
        """Quotes the next written answer and asks who may hear it; ends when none are left."""
        turn = await self.turn(step)
        await turn.reload_answers()
        pending = self._unshared(turn)
        if not pending:
            return await step.end()
        step.values["key"] = pending[0]
        text = str(turn.answers[pending[0]].value)
        quoted = child_text(text if len(text) <= 300 else text[:297] + "...")
        asked = find(turn.content, turn.facts(), pending[0])
        question = prompt_for(turn, asked.question, asked.topic, {}) if asked else ""
        return await step.begin(
            ASK,
            {
                "qid": "share_one",
                "key": f"share.{pending[0]}",
                "values": {"answer": quoted, "question": question},
            },
        )

    async def save_share_one(self, step: StepContext) -> Result:
        """Stores who may hear this answer; asks about the next."""
        turn = await self.turn(step)
        await self.services.repos.answers.set_visibility(
            review_id=turn.review.id or 0 if turn.review else 0,
            question_ids=[step.values["key"]],
            visibility="everyone" if step.result.get("value") == "everyone" else "iro",
        )
        return await step.replace(SHARE_EACH)


def _shorten(text: str, limit: int = 300) -> str:
    """Long answers are cut in the check list, which only has to be recognisable (and a Teams
    card must stay under 28 KB); the full answer is what is sent."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def all_dialog_ids() -> list[str]:
    return [CONSULTATION, LINK, QUESTIONS, CHECK, SHARE, SHARE_EACH, ASK]


__all__ = ["Consultation", "all_dialog_ids"]
