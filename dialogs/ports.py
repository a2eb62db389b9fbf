"""What the conversation needs of a channel, in its own terms: the activity that arrived (with
the Bot Framework protocol's field names) and a way to send and update activities, which the
dialogs write as plain JSON (dialogs/render.py). No SDK is imported here or anywhere in
dialogs/: bot/ hands in its turn context (bot/held.py HeldContext), which has these members,
and turns the JSON into its SDK's objects. A move to another SDK changes bot/ only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol


class Account(Protocol):
    id: str | None
    aad_object_id: str | None


class Conversation(Protocol):
    id: str
    tenant_id: str | None


class Arrived(Protocol):
    """The activity a channel sent, as far as the dialogs read it."""

    type: str | None
    id: str | None
    text: str | None
    value: Any
    attachments: list[Any] | None
    locale: str | None
    timestamp: datetime | None
    channel_id: str | None
    service_url: str | None
    conversation: Conversation | None
    from_property: Account | None
    recipient: Account | None
    members_added: list[Any] | None
    reply_to_id: str | None
    channel_data: Any


class ChatTurn(Protocol):
    """One turn of one chat."""

    @property
    def activity(self) -> Arrived: ...

    @property
    def turn_state(self) -> dict[str, Any]: ...

    async def send_activity(self, activity: dict[str, Any]) -> Any: ...

    async def update_activity(self, activity: dict[str, Any]) -> Any: ...


def conversation_reference(activity: Arrived) -> dict[str, Any]:
    """What a later proactive message needs (ids and the service URL), without display names:
    the channel's name for the child is not ours to keep."""
    reference: dict[str, Any] = {
        "activityId": activity.id,
        "user": {"id": activity.from_property.id} if activity.from_property else None,
        "bot": {"id": activity.recipient.id} if activity.recipient else None,
        "conversation": {"id": activity.conversation.id} if activity.conversation else None,
        "channelId": activity.channel_id,
        "locale": activity.locale,
        "serviceUrl": activity.service_url,
    }
    return {k: v for k, v in reference.items() if v is not None}
