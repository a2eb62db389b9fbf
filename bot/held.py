"""Replies held back until the turn has committed (step 6 of the pipeline in bot/handler.py).

A reply sent before the answer it confirms is safely stored can tell a child "got it" for
something a crash then loses. The dialogs write to a HeldContext; the pipeline delivers what
it holds only after the commit, and keeps a copy with the commit so that a channel's resend
after a crash can still deliver it.
"""

from __future__ import annotations

import logging
from copy import deepcopy
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ActivityTypes, ResourceResponse

from dialogs.context import held_id

log = logging.getLogger(__name__)
# Not replies to the child: they answer the HTTP request itself, or are diagnostics.
_PASS_THROUGH = {ActivityTypes.invoke_response, ActivityTypes.trace}


class HeldContext(TurnContext):
    """A TurnContext whose sends and card updates wait in `held` until `deliver`."""

    def __init__(self, context: TurnContext) -> None:
        super().__init__(context)
        # The adapter keeps the turn's connector client and identity in turn_state.
        self._turn_state = context.turn_state
        self.original = context
        self.held: list[tuple[str, Activity]] = []

    async def send_activity(
        self, activity_or_text: Activity | dict[str, Any] | str, *args: Any, **kw: Any
    ) -> ResourceResponse | None:
        # The dialogs write activities as plain JSON (dialogs/render.py).
        if isinstance(activity_or_text, dict):
            activity_or_text = as_activity(activity_or_text)
        return await super().send_activity(activity_or_text, *args, **kw)

    async def send_activities(self, activities: list[Activity]) -> list[ResourceResponse]:
        responses = []
        for activity in activities:
            if activity.type in _PASS_THROUGH:
                responses += await self.original.send_activities([activity])
                continue
            if not activity.type:
                activity.type = ActivityTypes.message
            index = sum(1 for op, _ in self.held if op == "send")
            self.held.append(("send", deepcopy(activity)))
            responses.append(ResourceResponse(id=held_id(self.activity.id or "", index)))
        return responses

    async def update_activity(self, activity: Activity | dict[str, Any]) -> ResourceResponse:
        if isinstance(activity, dict):
            activity = as_activity(activity)
        self.held.append(("update", deepcopy(activity)))
        return ResourceResponse(id=activity.id)

    def stored(self, upto: int | None = None) -> list[dict[str, Any]]:
        """The held replies as JSON, to commit with the turn."""
        return [{"op": op, "activity": act.serialize()} for op, act in self.held[:upto]]


def as_activity(body: dict[str, Any]) -> Activity:
    """The SDK's Activity for an activity written as JSON. Free-form fields (a card's data, a
    button's value) go in as they are: msrest would copy them item by item, or mangle them."""
    plain = dict(body)
    free_form = {key: plain.pop(key) for key in ("value", "channelData") if key in plain}
    activity = Activity().deserialize(plain)
    if "value" in free_form:
        activity.value = free_form["value"]
    if "channelData" in free_form:
        activity.channel_data = free_form["channelData"]
    return activity


def from_stored(stored: list[dict[str, Any]]) -> list[tuple[str, Activity]]:
    return [(item["op"], Activity().deserialize(item["activity"])) for item in stored]


async def deliver(context: TurnContext, ops: list[tuple[str, Activity]]) -> list[str | None]:
    """Sends the replies in order; returns the channel's id of each message sent."""
    ids: list[str | None] = []
    for op, activity in ops:
        if op == "send":
            (response,) = await context.send_activities([activity])
            ids.append(response.id if response is not None else None)
            continue
        try:
            await context.update_activity(activity)
        except Exception as exc:  # replacing an old card is cosmetic; the answer is stored
            log.info("card not updated", extra={"error": type(exc).__name__})
    return ids
