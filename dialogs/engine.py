"""The conversation's own dialog engine: a stack of waterfalls and prompts whose state is plain
JSON, kept in the chat's state (dialogs/chat_state.py). It does what the consultation needs of
botbuilder-dialogs' `DialogSet`/`WaterfallDialog`, with the same semantics, and nothing else:

- a waterfall is a list of steps; each step runs once, then either waits (a prompt it began is
  waiting for the child), moves to the next step (`next`), or ends with a result that goes to
  the step after the one that began it;
- a prompt (the AskDialog, dialogs/ask.py) asks, waits for the child's messages, and ends with
  the answer; it can begin a prompt of its own (language, start again) and resume after it;
- `replace` ends the active dialog without resuming its parent, then begins another;
- `cancel_all` empties the stack.

A frame is {"dialog": id, "options", "values", "step"} for a waterfall, {"dialog": id,
"state"} for a prompt; the stack is kept bottom first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from dialogs.ports import ChatTurn


@dataclass(frozen=True)
class Result:
    """What a turn of dialogs came to: waiting for the child, complete (the bottom dialog
    ended, with its result), or empty (nothing was running)."""

    status: Literal["waiting", "complete", "empty"]
    value: Any = None


END_OF_TURN = Result("waiting")


class Prompt(Protocol):
    """A dialog that waits for the child (dialogs/ask.py AskDialog)."""

    async def begin(self, dc: DialogContext, options: dict[str, Any] | None) -> Result: ...

    async def continue_(self, dc: DialogContext) -> Result: ...

    async def resume(self, dc: DialogContext, result: Any) -> Result: ...

    async def reprompt(self, dc: DialogContext) -> None: ...


Step = Callable[["StepContext"], Awaitable[Result]]


class Dialogs:
    """The dialogs by id: waterfalls (lists of steps) and prompts."""

    def __init__(self) -> None:
        self.waterfalls: dict[str, list[Step]] = {}
        self.prompts: dict[str, Prompt] = {}

    def add_waterfall(self, dialog_id: str, steps: list[Step]) -> None:
        self.waterfalls[dialog_id] = steps

    def add_prompt(self, dialog_id: str, prompt: Prompt) -> None:
        self.prompts[dialog_id] = prompt

    def context(self, context: ChatTurn, stack: list[dict[str, Any]]) -> DialogContext:
        return DialogContext(self, context, stack)


class DialogContext:
    """One turn's view of the chat's dialog stack (a list it changes in place)."""

    def __init__(self, dialogs: Dialogs, context: ChatTurn, stack: list[dict[str, Any]]):
        self.dialogs = dialogs
        self.context = context
        self.stack = stack

    @property
    def active(self) -> dict[str, Any] | None:
        return self.stack[-1] if self.stack else None

    @property
    def state(self) -> dict[str, Any]:
        """The active prompt's own state."""
        frame = self.active
        assert frame is not None and "state" in frame, "no prompt is active"
        state: dict[str, Any] = frame["state"]
        return state

    async def begin(self, dialog_id: str, options: dict[str, Any] | None = None) -> Result:
        if dialog_id in self.dialogs.waterfalls:
            frame: dict[str, Any] = {
                "dialog": dialog_id,
                "options": options,
                "values": {},
                "step": -1,
            }
            self.stack.append(frame)
            return await self._run_step(frame, 0, None)
        prompt = self.dialogs.prompts[dialog_id]
        self.stack.append({"dialog": dialog_id, "state": {}})
        return await prompt.begin(self, options)

    async def continue_(self) -> Result:
        """The child's message goes to the dialog waiting for it."""
        frame = self.active
        if frame is None:
            return Result("empty")
        prompt = self.dialogs.prompts.get(frame["dialog"])
        if prompt is not None:
            return await prompt.continue_(self)
        # A waterfall never waits on its own; were it left on top, the message moves it on.
        return await self._run_step(frame, frame["step"] + 1, None)

    async def end(self, result: Any = None) -> Result:
        """Ends the active dialog; its parent carries on with the result."""
        if self.stack:
            self.stack.pop()
        parent = self.active
        if parent is None:
            return Result("complete", result)
        prompt = self.dialogs.prompts.get(parent["dialog"])
        if prompt is not None:
            return await prompt.resume(self, result)
        return await self._run_step(parent, parent["step"] + 1, result)

    async def replace(self, dialog_id: str, options: dict[str, Any] | None = None) -> Result:
        """Ends the active dialog without resuming its parent, and begins another in its place."""
        if self.stack:
            self.stack.pop()
        return await self.begin(dialog_id, options)

    async def cancel_all(self) -> None:
        self.stack.clear()

    async def reprompt(self) -> None:
        """Shows the question waiting again (a chat opened again)."""
        frame = self.active
        prompt = self.dialogs.prompts.get(frame["dialog"]) if frame else None
        if prompt is not None:
            await prompt.reprompt(self)

    async def _run_step(self, frame: dict[str, Any], index: int, result: Any) -> Result:
        steps = self.dialogs.waterfalls[frame["dialog"]]
        if index >= len(steps):
            return await self.end(result)
        frame["step"] = index
        return await steps[index](StepContext(self, frame, result))


class StepContext:
    """One step of a waterfall: its options and values, and the result of the step before (or
    of the dialog it began)."""

    def __init__(self, dc: DialogContext, frame: dict[str, Any], result: Any) -> None:
        self.dc = dc
        self.frame = frame
        self.result = result

    @property
    def context(self) -> ChatTurn:
        return self.dc.context

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.frame.get("options") or {})

    @property
    def values(self) -> dict[str, Any]:
        values: dict[str, Any] = self.frame["values"]
        return values

    async def next(self, result: Any = None) -> Result:
        return await self.dc._run_step(self.frame, self.frame["step"] + 1, result)

    async def begin(self, dialog_id: str, options: dict[str, Any] | None = None) -> Result:
        return await self.dc.begin(dialog_id, options)

    async def replace(self, dialog_id: str, options: dict[str, Any] | None = None) -> Result:
        return await self.dc.replace(dialog_id, options)

    async def end(self, result: Any = None) -> Result:
        return await self.dc.end(result)
