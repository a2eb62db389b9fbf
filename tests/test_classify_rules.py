"""One classify stage (issue 17): every decision about a message is one ordered rule table
(dialogs/ask.py RULES). Before the move, today's classify was copied here as it was, and the
table must give the same verdict for every question, language and age band, with every kind of
input a child or a channel can send: labels, other words, numbers, shrugs, controls, taps on
this card and on old ones, pictures, long text, while paused, typed too soon, after a worry."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dialogs.ask import (
    CHOICE_INPUT,
    GLOBAL_CONTROLS,
    RECOGNISED_CHARS,
    SOMETHING_ELSE,
    STEP_CONTROLS,
    Incoming,
    Verdict,
    _by_meaning,
    _from_payload,
    _from_text,
    _is_a_label,
    _no_control,
    choices_for,
    classify,
    meanings_for,
)
from dialogs.recognize import Choice, match_parts, normalize
from storage.content import Content, Question
from tests.test_answer_forms import all_questions, content, label_forms, screen, turn_for  # noqa: F401

# Every language at 13+, and English on the easy path too: the bands change labels, not rules.
CHATS = (("en", 15), ("en", 9), ("ar", 15), ("sq", 15))
FORMS_EACH = 40


def classify_before(
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
) -> Verdict:
    """The same question, state and input always give the same verdict; nothing is stored."""
    p = inc.payload or {}
    if inc.text is not None and len(inc.text) > RECOGNISED_CHARS:
        typed_control = _no_control
    if paused and not inc.payload:
        # They were told "just say hi": what they type now greets, it does not answer.
        return Verdict("greet")
    ctl = p.get("ctl") if p.get("ctl") in (*GLOBAL_CONTROLS, *STEP_CONTROLS) else None
    stale = "q" in p and (p.get("q") != state["key"] or p.get("n") != state["n"])
    if stale and ctl not in GLOBAL_CONTROLS:
        return Verdict("stale")
    if ctl is not None:
        return Verdict("control", control=ctl)
    if burst and inc.text is not None and not _is_a_label(inc.text, choices):
        # A label of the new question is a button tapped on it (Web Chat sends the label as
        # text), so only other text counts as typed before the question could be read.
        typed = typed_control(inc.text)
        return Verdict("control", control=typed) if typed else Verdict("burst", text=inc.text)
    if question.type == "multi" and "q" in p and not p.get(CHOICE_INPUT) and not p.get("opt"):
        return Verdict("none_ticked")  # OK on the card with nothing ticked
    answer = _from_payload(question, p, choices) if p else None
    if answer is None and question.type == "text" and p.get("say") in suggestions:
        answer = ("text", str(p["say"]))  # a one-tap answer offered with it (the review's name)
    short = inc.text is not None and len(inc.text) <= RECOGNISED_CHARS
    if answer is None and inc.text and short and question.type == "text" and choices:
        # A one-tap answer to a typing question, tapped on Web Chat (its label comes as text)
        # or typed just so. Anything else typed is the child's own words.
        said = normalize(inc.text)
        exact = [c.id for c in choices if said and said in c.words()]
        answer = ("choice", exact[0]) if len(exact) == 1 else None
    if answer is None and inc.text and short and question.type == "multi":
        found, rest = match_parts(inc.text, choices, negations)
        if found and not (len(rest) == 1 and typed_control(rest[0])):
            ids = {c.id for c in choices}
            if rest and SOMETHING_ELSE in ids and SOMETHING_ELSE not in found:
                found = [c.id for c in choices if c.id in {*found, SOMETHING_ELSE}]
            return Verdict("answer", answer=("choices", found), rest=", ".join(rest) or None)
    if answer is None and inc.text and short and meanings:
        # "whatever", "idk", "nah" (the whole message): what it means, not what it says;
        # before labels inside a sentence, or "not sure" would be "sure", a yes.
        answer = _by_meaning(question, inc.text, choices, meanings, stored=bool(state.get("store")))
    if answer is None and inc.text and short and question.type != "text":
        answer = _from_text(question, inc.text, choices, negations)
    if answer is None and inc.text:
        typed = typed_control(inc.text)
        if typed is not None:
            return Verdict("control", control=typed)
    if answer is None and question.type == "text":
        if inc.text is not None and len(inc.text) > question.max_length:
            return Verdict("too_long")
        if inc.text is not None:
            answer = ("text", inc.text)
        elif inc.media and state.get("store"):
            answer = ("media", inc.media)
    if answer is not None and disclosed and answer[0] == "text" and not question.takes_disclosures:
        # A worry typed at the name or code question is not a name or a wrong code: the
        # alert keeps it, and the question is asked again after the help.
        return Verdict("unclear")
    if answer is not None:
        return Verdict("answer", answer=answer)
    if inc.media:
        return Verdict("media", media=inc.media)
    return Verdict("unclear")


SHRUGS = ("idk", "whatever", "nah", "not sure", "dont mind", "nothing", "no one", "لا", "jo")
OTHER_TEXT = (
    "my dog and my nan",
    "after skool n weekends",
    "not read out",
    "Mimi",
    "x" * (RECOGNISED_CHARS + 5),
    "",
    "1, 3",
    "2",
    "99",
    "help me",
)


def payloads(question: Question, choices: list[Choice], state: Mapping[str, Any]) -> list[Any]:
    ids = [c.id for c in choices]
    this = {"q": state["key"], "n": state["n"]}
    old = {"q": state["key"], "n": state["n"] - 1}
    found: list[Any] = [None, {}]
    for ctl in (*GLOBAL_CONTROLS, *STEP_CONTROLS, "nonsense"):
        found += [{**this, "ctl": ctl}, {**old, "ctl": ctl}]
    for picked in [*ids[:3], ",".join(ids[:2]), "not-an-option", ""]:
        found += [{**this, "opt": picked}, {**old, "opt": picked}, {**this, CHOICE_INPUT: picked}]
    found += [{**this}, {"say": "Sam"}, {"say": "someone else"}, {**this, "opt": SOMETHING_ELSE}]
    return found


def cases(content: Content, screen: Any) -> Any:  # noqa: F811
    for question in all_questions(content):
        for locale, age in CHATS:
            turn = turn_for(content, screen, locale, age, question.id)
            choices = choices_for(turn, question)
            state = {"key": question.id, "qid": question.id, "n": 3, "store": True}
            forms = itertools.islice(label_forms(turn, question), FORMS_EACH)
            texts = list(dict.fromkeys([*forms, *SHRUGS, *OTHER_TEXT]))
            controls = {normalize(turn.t(f"controls.{c}.label")): c for c in GLOBAL_CONTROLS}

            def typed_control(text: str, controls: dict[str, str] = controls) -> str | None:
                return controls.get(normalize(text))

            meanings = meanings_for(turn)
            negations = frozenset(normalize(w) for w in content.synonyms("negations", locale))
            inputs = [Incoming(t or None, None, None) for t in texts]
            inputs += [Incoming(None, p, None) for p in payloads(question, choices, state)]
            inputs += [Incoming(None, None, "picture"), Incoming("look", None, "voice")]
            inputs += [Incoming(choices[0].label, {"opt": choices[0].id}, None)] if choices else []
            for inc, (paused, burst, disclosed) in itertools.product(
                inputs,
                [
                    (False, False, False),
                    (True, False, False),
                    (False, True, False),
                    (False, False, True),
                ],
            ):
                yield (
                    question,
                    state,
                    inc,
                    choices,
                    typed_control,
                    {
                        "paused": paused,
                        "burst": burst,
                        "disclosed": disclosed,
                        "suggestions": ("Sam",) if question.type == "text" else (),
                        "meanings": meanings,
                        "negations": negations,
                    },
                )


def test_the_rule_table_gives_todays_verdict_for_every_input(content, screen):  # noqa: F811
    checked = 0
    for question, state, inc, choices, typed_control, flags in cases(content, screen):
        before = classify_before(question, state, inc, choices, typed_control, **flags)
        after = classify(question, state, inc, choices, typed_control, **flags)
        assert after == before, (question.id, inc, flags["paused"], flags["burst"])
        checked += 1
    assert checked > 5_000
