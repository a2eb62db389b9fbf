"""Chats in progress when MyReview stopped using botbuilder-dialogs carry on where they were.

Their state was written by jsonpickle, the dialog stack top first, each frame a DialogInstance
(the shape read from a development database on 2026-12-07). The first turn after the upgrade
reads it, answers the question that was waiting, and writes the state in MyReview's own form.
"""

from __future__ import annotations

import json
from typing import Any

from tests.consult import answers_of, said, waiting_key


def as_botbuilder_wrote_it(state: dict[str, Any]) -> dict[str, Any]:
    instances = []
    for frame in reversed(state["stack"]):
        if "state" in frame:
            inner = frame["state"]
        else:
            inner = {
                "options": frame["options"],
                "values": frame["values"],
                "instanceId": "854e57f4-f254-11f1-adb4-02fc00000001",
                "stepIndex": frame["step"],
            }
        instances.append(
            {
                "py/object": "botbuilder.dialogs.dialog_instance.DialogInstance",
                "id": frame["dialog"],
                "state": inner,
            }
        )
    return {
        "dialog_state": {
            "py/object": "botbuilder.dialogs.dialog_state.DialogState",
            "_dialog_stack": instances,
        },
        "profile": state["profile"],
    }


async def test_a_chat_mid_consultation_under_the_old_state_carries_on(linked_chat, parts):
    review, chat = await linked_chat("sms")
    await chat.say("English")
    assert await waiting_key(parts, chat) == "name"
    repo = parts.repos.bot_state
    key = f"sms/conversations/{chat.conversation_id}"
    ours = json.loads((await repo.read(keys=[key]))[key].data)
    assert ours["schema"] == 1
    # The database as the version before this one left it.
    await repo.write(key=key, data=json.dumps(as_botbuilder_wrote_it(ours)), expected_etag=None)

    transcript = await chat.say("Sammy")

    assert (await answers_of(parts, review.id))["name"] == ("text", "Sammy")
    assert not said(parts, transcript, "messages.welcome")
    assert await waiting_key(parts, chat) not in (None, "name")
    upgraded = json.loads((await repo.read(keys=[key]))[key].data)
    assert upgraded["schema"] == 1 and upgraded["stack"][0]["dialog"] == "consultation"
