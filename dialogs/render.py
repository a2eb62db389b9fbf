"""How a question looks on each channel. Every button carries an id payload, never its label.

msteams: Adaptive Cards 1.5 (Input.ChoiceSet; multi-select where needed).
webchat, directline, emulator, web (the web door): suggested actions for one choice; an Adaptive
Card for several.
anything else: a numbered list. Typing an answer works everywhere.

Card text is Markdown, and so is message text on Teams and Web Chat (both lay plain text out
as one paragraph: a help list would run together), with a blank line between lines. A child's
own words arrive made safe and marked (dialogs/display.py: `child_text`); every TextBlock and
every Teams or Web Chat message goes through `card_text`, which escapes their Markdown; text
for any other channel goes through `plain_text`.

Suggested actions are imBack: the button sends its label as if typed, and the same recognizer
that reads typing maps it to an option id. (messageBack would carry the id, but Web Chat
clients differ in what they post for it: the Agents Playground posts two activities, one of
them to another conversation.) Branching is still on ids, never on the label itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dialogs.display import card_text, plain_text
from dialogs.recognize import Choice

# Activities are plain JSON, as the Bot Framework protocol writes them (camelCase): the
# channel's adapter (bot/) turns them into its SDK's objects.
Activity = dict[str, Any]
ADAPTIVE = "application/vnd.microsoft.card.adaptive"

CHOICE_INPUT = "choice"
CARD_CHANNELS = {"msteams"}
SUGGESTION_CHANNELS = {"webchat", "directline", "emulator", "web"}
CARD_VERSION = "1.5"
# The payload of an answer tapped in the check list: the key of the answer to change.
CHANGE = "change"


@dataclass(frozen=True)
class Control:
    id: str
    label: str


@dataclass(frozen=True)
class AskView:
    """Everything needed to draw one question."""

    key: str
    nonce: int
    type: str  # single | multi | yesno | text | language
    prompt: str
    options: tuple[Choice, ...]
    controls: tuple[Control, ...]
    submit_label: str
    rtl: bool
    hint: str | None = None  # shown under a question that wants typing
    # One-tap answers to a question that wants typing (the name on the review).
    suggestions: tuple[str, ...] = ()

    @property
    def is_choice(self) -> bool:
        return self.type != "text"

    def payload(self, **extra: Any) -> dict[str, Any]:
        return {"q": self.key, "n": self.nonce, **extra}


RLI, PDI = "\u2067", "\u2069"


def isolate_rtl(text: str) -> str:
    """Mark each line right-to-left, so Arabic with a Latin name or a number in it reads in
    order in clients that lay every message out left-to-right (Web Chat does)."""
    return "\n".join(f"{RLI}{line}{PDI}" if line.strip() else line for line in text.split("\n"))


def text_message(
    text: str, *, rtl: bool = False, channel: str | None = None, locale: str | None = None
) -> Activity:
    # The child's words in it were neutralised when inserted: the only bidi controls left are
    # the content's and this isolation.
    markdown = channel in CARD_CHANNELS or channel in SUGGESTION_CHANNELS
    # Teams and Web Chat lay plain text out as one paragraph (the Playground showed the help
    # list, Childline and 999, run together) and drop a single line break in Markdown. So:
    # Markdown, a blank line between lines, the child's words escaped.
    text = re.sub(r"\n+", "\n\n", card_text(text)) if markdown else plain_text(text)
    activity: Activity = {
        "type": "message",
        "text": isolate_rtl(text) if rtl else text,
        "inputHint": "acceptingInput",
        "textFormat": "markdown" if markdown else "plain",
    }
    if locale is not None:
        activity["locale"] = locale
    return activity


def answers_activity(
    intro: str,
    rows: list[tuple[str | None, str, str]],
    channel_id: str,
    locale: str,
    rtl: bool,
    keys: list[str] | None = None,
) -> Activity:
    """The numbered "check your answers" list, in sections (a heading where one starts): a
    card where cards render, each answer tapped to change it (`keys`, in order), else plain
    text."""
    # From the question to its answer, the way the line reads.
    arrow = "←" if rtl else "→"
    # Web Chat draws cards in the page's direction (see question_activity): right to left, the
    # list is text.
    card = channel_id in CARD_CHANNELS or (channel_id in SUGGESTION_CHANNELS and not rtl)
    if card:
        body: list[dict[str, Any]] = [_text_block(intro)]
        for n, (heading, question, answer) in enumerate(rows, 1):
            if heading:
                body.append(_text_block(heading, weight="Bolder", size="Medium", spacing="Large"))
            # Bold, so that "21. " is not taken as a Markdown list and its number hidden.
            row = [
                _text_block(f"**{n}.** {question}", spacing="Small"),
                _text_block(f"{arrow} {answer}", spacing="None"),
            ]
            if keys is None:
                body += row
                continue
            # The whole answer is a button: tapped, it is asked again to change.
            body.append(
                {
                    "type": "Container",
                    "items": row,
                    "selectAction": {"type": "Action.Submit", "data": {CHANGE: keys[n - 1]}},
                }
            )
        activity = card_message(
            adaptive_card(
                {
                    "type": "AdaptiveCard",
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "version": CARD_VERSION,
                    "rtl": rtl,
                    "body": body,
                }
            )
        )
    else:
        lines = [intro]
        for n, (heading, q, a) in enumerate(rows, 1):
            lines.append((f"{heading}\n" if heading else "") + f"{n}. {q}\n{arrow} {a}")
        activity = text_message("\n\n".join(lines), rtl=rtl, channel=channel_id)
    activity["locale"] = locale
    return activity


def numbers_shown(view: AskView, channel_id: str) -> bool:
    """Whether the question as sent on this channel shows its options numbered (so that a
    reprompt may say "type its number"); Teams' cards and Web Chat's buttons show none."""
    if channel_id in CARD_CHANNELS:
        return False
    if channel_id in SUGGESTION_CHANNELS:
        return view.type == "multi" or (view.is_choice and _too_wide(view))
    return True


def question_activity(view: AskView, channel_id: str, locale: str) -> Activity:
    if channel_id in CARD_CHANNELS:
        # One choice is one tap: a button per option. Several keep ticks and an OK.
        activity = card_message(_card(view, one_tap=view.type != "multi"))
    elif channel_id in SUGGESTION_CHANNELS:
        if view.type == "multi" and view.rtl:
            # Web Chat lays every card out in the page's direction, whatever the card says
            # (its renderer sets each container's `rtl` from the page): an Arabic card in an
            # English page reads left to right. Text can be isolated right to left: the options
            # listed and numbered, picked by typing their numbers ("١، ٣").
            activity = text_message(
                _numbered(view, with_controls=False), rtl=True, channel=channel_id
            )
            activity["suggestedActions"] = {"actions": _controls_actions(view)}
        elif view.type == "multi":
            # Numbered, so that typing "1, 3" works where a card submit does not arrive; Back,
            # Skip and Help on the card beside OK (Web Chat may show no buttons under a card).
            activity = card_message(_card(view, numbered=True))
        elif view.is_choice and _too_wide(view):
            # Web Chat lays suggested actions out in one sideways row: long options would be
            # scrolled out of sight. So every option is listed, numbered, and the buttons are
            # the numbers (typing a number or a label works the same).
            activity = text_message(
                _numbered(view, with_controls=False), rtl=view.rtl, channel=channel_id
            )
            numbers = [_choice_action(view, c, str(n)) for n, c in enumerate(view.options, 1)]
            activity["suggestedActions"] = {"actions": numbers + _controls_actions(view)}
        else:
            prompt = (
                view.prompt if view.is_choice or not view.hint else f"{view.prompt}\n{view.hint}"
            )
            activity = text_message(prompt, rtl=view.rtl, channel=channel_id)
            buttons = [_choice_action(view, c) for c in view.options]
            buttons += [{"type": "imBack", "title": s, "value": s} for s in view.suggestions]
            activity["suggestedActions"] = {"actions": buttons + _controls_actions(view)}
    else:
        activity = text_message(_numbered(view), rtl=view.rtl)
    activity["locale"] = locale
    return activity


def adaptive_card(card: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": ADAPTIVE, "content": card}


def card_message(attachment: dict[str, Any]) -> Activity:
    return {"type": "message", "attachmentLayout": "list", "attachments": [attachment]}


def answered_card(prompt: str, answer_line: str, rtl: bool) -> dict[str, Any]:
    """What a question card turns into once answered: no inputs left to tap twice."""
    return adaptive_card(
        {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": CARD_VERSION,
            "rtl": rtl,
            "body": [_text_block(prompt), _text_block(answer_line, weight="Bolder")],
        }
    )


def _text_block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": card_text(text), "wrap": True, **style}


def updated_card_activity(reply_to_id: str, card: dict[str, Any]) -> Activity:
    return {"type": "message", "id": reply_to_id, "attachments": [card]}


def _card(
    view: AskView, *, with_controls: bool = True, numbered: bool = False, one_tap: bool = False
) -> dict[str, Any]:
    body: list[dict[str, Any]] = [_text_block(view.prompt)]
    if view.hint and not view.is_choice:
        body.append(_text_block(view.hint, isSubtle=True, size="Small"))
    actions: list[dict[str, Any]] = []
    body += [
        {
            "type": "ActionSet",
            "actions": [{"type": "Action.Submit", "title": s, "data": view.payload(say=s)}],
        }
        for s in view.suggestions
    ]
    if view.options and (one_tap or not view.is_choice):
        # A set per option stacks them one under another, each full width, however many.
        # (A typing question's options are one-tap answers beside the typing.)
        body += [
            {
                "type": "ActionSet",
                "spacing": "Small",
                "actions": [
                    {
                        "type": "Action.Submit",
                        "title": c.label,
                        "data": view.payload(**{CHOICE_INPUT: c.id}),
                    }
                ],
            }
            for c in view.options
        ]
    elif view.is_choice:
        body.append(
            {
                "type": "Input.ChoiceSet",
                "id": CHOICE_INPUT,
                "style": "expanded",
                "isMultiSelect": view.type == "multi",
                "wrap": True,
                "choices": [
                    {"title": _number(i, c.label) if numbered else c.label, "value": c.id}
                    for i, c in enumerate(view.options, 1)
                ],
            }
        )
        actions.append(
            {
                "type": "Action.Submit",
                "title": view.submit_label,
                "style": "positive",
                "data": view.payload(),
            }
        )
    if with_controls:
        actions += [
            {"type": "Action.Submit", "title": c.label, "data": view.payload(ctl=c.id)}
            for c in view.controls
        ]
    return adaptive_card(
        {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": CARD_VERSION,
            "rtl": view.rtl,
            "body": body,
            "actions": actions,
        }
    )


def _number(n: int, label: str) -> str:
    # A no-break space after "1." so Web Chat's Markdown does not make each title a one-item
    # list: it dropped the number, and every option showed "1.".
    return f"{n}.\u00a0{label}"


def _choice_action(view: AskView, choice: Choice, title: str | None = None) -> dict[str, Any]:
    """A button that carries its question and option (messageBack): a tap is never read as
    typing, however quickly it follows the question, and an old one is known as old."""
    shown = title or choice.label
    return _message_back(shown, view.payload(opt=choice.id))


def _controls_actions(view: AskView) -> list[dict[str, Any]]:
    return [_message_back(c.label, view.payload(ctl=c.id)) for c in view.controls]


def _message_back(shown: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "messageBack",
        "title": shown,
        "value": value,
        "text": shown,
        "displayText": shown,
    }


# Options that fit a row of suggested actions in a narrow Web Chat window: no more than three,
# and short (about what "Send · Change something · Not yet" takes).
WIDE_OPTIONS = 3
WIDE_CHARACTERS = 32


def _too_wide(view: AskView) -> bool:
    labels = [c.label for c in view.options]
    return len(labels) > WIDE_OPTIONS or sum(len(label) for label in labels) > WIDE_CHARACTERS


def _numbered(view: AskView, *, with_controls: bool = True) -> str:
    lines = [view.prompt]
    if view.is_choice:
        # Sent as plain text, so "1." is not made a Markdown list (cards: see _number).
        lines += [f"{i}. {c.label}" for i, c in enumerate(view.options, 1)]
    else:
        # A typing question's one-tap answers: typed as shown; a number would be words.
        lines += [f"• {c.label}" for c in view.options]
    if view.controls and with_controls:
        lines.append("(" + " · ".join(c.label for c in view.controls) + ")")
    return "\n".join(lines)
