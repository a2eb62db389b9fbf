"""What is known of one turn outside the dialogs' own state, in one typed record (TurnFacts),
kept in the turn's context: when the message arrived, what the safeguarding screen made of it,
the chat's state and the loaded `Turn`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from dialogs.chat_state import ChatState
    from dialogs.context import Turn


@dataclass(frozen=True)
class Screened:
    """The screen's verdict on this turn's message, for the dialogs behind it.

    tier: "clear" (help given, urgent alert), "unsure" (gentle check asked), "after" (said
    after the help, kept with the alert), or None. handled: the screen has answered the
    message itself (the check's answer, a word about the worry), so it answers no question;
    ask: the question waiting may come now."""

    tier: str | None = None
    categories: tuple[str, ...] = ()
    handled: bool = False
    ask: bool = False

    @property
    def worry(self) -> bool:
        """Help or a check is on screen: it stays the last thing there until they reply."""
        return self.tier in ("clear", "unsure")


@dataclass
class TurnFacts:
    """What is known of this turn outside the dialogs' own state, in one typed record: when it
    arrived (set by the pipeline), what the screen made of it (set in front of the dialogs), and
    the chat's state, the loaded `Turn` and its wording values (cached for the turn). It rides
    in the SDK's turn_state under one key, so nothing else reads or writes string keys there."""

    KEY: ClassVar[str] = "myreview.facts"

    received_at: float | None = None
    screened: Screened = field(default_factory=Screened)
    chat: ChatState | None = None
    turn: Turn | None = None
    values: tuple[Any, dict[str, Any]] | None = None

    @classmethod
    def of(cls, context: Any) -> TurnFacts:
        found = context.turn_state.get(cls.KEY)
        if not isinstance(found, TurnFacts):
            found = context.turn_state[cls.KEY] = cls()
        return found
