"""Tables. Each family reads `XBase` -> `XCreate` / `XPublic` -> `X(table=True)`."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from pydantic import field_validator, model_validator
from sqlalchemy import JSON, Column, Index, UniqueConstraint, func, text
from sqlmodel import Field, SQLModel

from storage.crypto import SealedJSON, SealedLine, SealedText
from storage.types import PlainLine, UTCDateTime, one_line, utcnow


def _utc(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


# --- Reviews ---------------------------------------------------------------------------------


class ReviewBase(SQLModel):
    # Names are sealed at rest (storage/crypto.py), as are the child's words below. What staff
    # type here is kept and read as one line with no bidi control or invisible character in it
    # (`one_line`), so it cannot reverse or hide text in a chat or an email.
    first_name: str = Field(max_length=80, sa_type=SealedLine("review.first_name"))
    preferred_name: str | None = Field(
        default=None, max_length=80, sa_type=SealedLine("review.preferred_name")
    )
    date_of_birth: date | None = None
    age: int | None = Field(default=None, ge=3, le=25)
    is_uasc: bool = False
    iro_name: str = Field(max_length=120, sa_type=PlainLine(120))
    iro_email: str = Field(max_length=254)
    review_at: datetime = _utc()
    language_hint: str | None = Field(default=None, max_length=16)
    # The council's case reference, so the IRO and the duty team know who it is about.
    case_reference: str | None = Field(
        default=None, max_length=40, sa_type=SealedLine("review.case_reference")
    )
    # Where the review meeting is, if known ("Oak House, room 2"): the child is told.
    place: str | None = Field(default=None, max_length=120, sa_type=SealedLine("review.place"))

    @field_validator("first_name", "preferred_name", "iro_name", "case_reference", "place")
    @classmethod
    def _one_line(cls, v: str | None) -> str | None:
        return None if v is None else one_line(v)

    # Asked on the easy path (short prompts, pictures, one-tap answers), whatever their age:
    # for children with additional needs.
    easy_read: bool = False


class ReviewCreate(ReviewBase):
    @field_validator("iro_email")
    @classmethod
    def _looks_like_email(cls, v: str) -> str:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
            raise ValueError("iro_email must be an email address, like jo.smith@council.gov.uk")
        return v

    @field_validator("review_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("review_at needs a time zone")
        return v


class Review(ReviewBase, table=True):
    # An IRO's board finds their reviews by email in any case: without this, every board
    # read the whole table.
    __table_args__ = (Index("ix_review_iro_email_lower", func.lower(text("iro_email"))),)
    id: int | None = Field(default=None, primary_key=True)
    # The same child's reviews (every six months) share this: a keyed hash of the council's
    # case reference (bot/reviews.py `child_key`), so they are found together without the
    # reference being readable here or searchable by anyone without the secret key. None when
    # the review has no case reference: such a review is linked to no other.
    child_key: str | None = Field(default=None, max_length=64, index=True)
    invite_code_hash: str = Field(max_length=64, unique=True, index=True)
    invite_expires_at: datetime = _utc()
    content_version: str = Field(default="files", max_length=64)
    submitted_at: datetime | None = _utc(default=None)
    summary_sends: int = 0
    created_at: datetime = _utc(default_factory=utcnow)
    # Each answer as the last summary showed it, so an update can list what changed first.
    sent_answers: dict[str, str] | None = Field(
        default=None, sa_column=Column(SealedJSON("review.sent_answers"))
    )
    # Changed by staff (issue 18; bot/reviews.py). A cancelled review is kept, marked, with the
    # reason staff gave (their words about a child: sealed; the child is never told it).
    cancelled_at: datetime | None = _utc(default=None)
    cancel_reason: str | None = Field(
        default=None, sa_column=Column(SealedText("review.cancel_reason"), nullable=True)
    )
    # When the IRO marked the child's answers read, and who (a staff id): the child is told once.
    read_at: datetime | None = _utc(default=None)
    read_by: int | None = None
    # Each summary sent after the first: when, and what it listed as changed (as the IRO's
    # email said it), for the summary page's history. [{"at": iso time, "changed": [[question,
    # change], ...]}]
    sent_history: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(SealedJSON("review.sent_history"))
    )


class ReviewPublic(ReviewBase):
    id: int
    invite_expires_at: datetime
    submitted_at: datetime | None
    summary_sends: int


# --- Conversations linked to a review ----------------------------------------------------------


class ChannelLinkBase(SQLModel):
    channel_id: str = Field(max_length=64)
    user_id: str = Field(max_length=256)
    conversation_id: str = Field(max_length=512)


class ChannelLink(ChannelLinkBase, table=True):
    __table_args__ = (UniqueConstraint("channel_id", "conversation_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", index=True, ondelete="CASCADE")
    # The serialised ConversationReference, kept for proactive messages (later issues).
    # It carries the child's display name on some channels, so it is sealed.
    conversation_reference: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(SealedJSON("channellink.conversation_reference"))
    )
    linked_at: datetime = _utc(default_factory=utcnow)
    # The first device to link is the child's own. A device that links later with the same
    # code can only add answers: it never sees, changes, restarts or sends what is there
    # (README "A second device"). A new code from the IRO closes every earlier device.
    trusted: bool = True
    revoked_at: datetime | None = _utc(default=None)
    # Why it was closed: "reopened" when the child opened the web door again with the code
    # (that chat took this one's place); otherwise a new code.
    closed_because: str | None = Field(default=None, max_length=16)
    # Set on the child's own device when another links, so it is told on its next turn.
    other_device_at: datetime | None = _utc(default=None)


# --- Answers -------------------------------------------------------------------------------------


class AnswerBase(SQLModel):
    question_id: str = Field(max_length=120)
    # choice | choices | yesno | text | media | skipped
    kind: str = Field(max_length=16)
    value: Any = Field(default=None, sa_column=Column(SealedJSON("answer.value")))
    # The language the child was using when they answered.
    locale: str = Field(default="en", max_length=16)
    # For free text: "everyone" or "iro"; None until the child chooses.
    visibility: str | None = Field(default=None, max_length=16)


class Answer(AnswerBase, table=True):
    __table_args__ = (UniqueConstraint("review_id", "question_id"),)
    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", index=True, ondelete="CASCADE")
    updated_at: datetime = _utc(default_factory=utcnow)


class AnswerPublic(AnswerBase):
    updated_at: datetime


# --- Notices to children: what staff changed, told to every device linked to the review -------


class ChildNotice(SQLModel, table=True):
    """Something to tell a child outside their turns ("your review has moved"), delivered by
    bot/notices.py to every device linked to the review when it goes, in the child's language.
    Kept in the database, so a restart delivers what was pending; tried again with back-off."""

    __table_args__ = (Index("ix_childnotice_due", "state", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", index=True, ondelete="CASCADE")
    # A message id under `messages:` in content/ (notice_moved, notice_cancelled, ...).
    message_id: str = Field(max_length=64)
    # Its placeholders (the new date, the place, the IRO's name): sealed, as the place is.
    params: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(SealedJSON("childnotice.params"))
    )
    # Once per key: "read:<review>" is told once, however often the button is pressed.
    key: str = Field(max_length=120, unique=True)
    # pending | delivered | failed | superseded (a newer change made it untrue before it went)
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _utc(default_factory=utcnow)
    # The instance delivering it holds it until then (a restart of that name releases it).
    locked_until: datetime | None = _utc(default=None)
    lease_owner: str | None = Field(default=None, max_length=200)
    last_error: str | None = Field(default=None, max_length=200)
    devices: int = 0  # how many devices were told
    created_at: datetime = _utc(default_factory=utcnow)
    delivered_at: datetime | None = _utc(default=None)


class ChildNoticeDelivery(SQLModel, table=True):
    """A notice on one device: written ("sending") before it is sent, so that it is never sent
    to the same device twice, even after a crash mid-send; then "sent"."""

    __table_args__ = (UniqueConstraint("notice_id", "link_id"),)
    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="childnotice.id", index=True, ondelete="CASCADE")
    link_id: int = Field(foreign_key="channellink.id", index=True, ondelete="CASCADE")
    state: str = Field(default="sending", max_length=16)  # sending | sent
    at: datetime = _utc(default_factory=utcnow)


# --- Abuse and replay protection -------------------------------------------------------------


class CodeAttempt(SQLModel, table=True):
    """A wrong invite code. Counted per conversation, per channel user and across the whole
    service, in the database, so the bounds hold across restarts and instances."""

    id: int | None = Field(default=None, primary_key=True)
    conversation_key: str = Field(max_length=600, index=True)
    user_key: str | None = Field(default=None, max_length=600, index=True)
    attempted_at: datetime = _utc(default_factory=utcnow, index=True)


class CodeGate(SQLModel, table=True):
    """One row: when a code was last checked in the slow lane (while codes are being guessed
    across the service), and when the duty team was last warned of it."""

    id: int = Field(default=1, primary_key=True)
    slow_lane_at: datetime | None = _utc(default=None)
    warned_at: datetime | None = _utc(default=None)


class ProcessedActivity(SQLModel, table=True):
    """Seen (conversation id, activity id) pairs, so a resent activity is handled once."""

    conversation_id: str = Field(primary_key=True, max_length=512)
    activity_id: str = Field(primary_key=True, max_length=256)
    seen_at: datetime = _utc(default_factory=utcnow, index=True)
    # The replies the turn produced, committed with it, so a resend after a crash can still
    # deliver them; cleared once delivered (they can quote the child).
    replies: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(SealedJSON("processedactivity.replies"))
    )
    # The channel's ids of those replies, to replace a question card once it is answered.
    reply_ids: list[str | None] | None = Field(default=None, sa_column=Column(JSON))
    delivered_at: datetime | None = _utc(default=None)


# --- Bot Framework state (the SDK's Storage contract) --------------------------------------------


class BotStateItem(SQLModel, table=True):
    key: str = Field(primary_key=True, max_length=700)
    # Dialog state holds answers in progress and the child's name.
    data: str = Field(sa_column=Column(SealedText("botstateitem.data"), nullable=False))
    etag: str = Field(max_length=64)
    updated_at: datetime = _utc(default_factory=utcnow)


# --- Safeguarding --------------------------------------------------------------------------------


class SafeguardingAlertBase(SQLModel):
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    channel_id: str = Field(max_length=64)
    conversation_id: str = Field(max_length=512)
    locale: str = Field(default="en", max_length=16)
    question_id: str | None = Field(default=None, max_length=120)
    # How a duty worker finds the chat when no review is linked yet: the channel's ids for the
    # young person (and, on Teams, their tenant and Entra object id).
    user_id: str | None = Field(default=None, max_length=256)
    tenant_id: str | None = Field(default=None, max_length=64)
    aad_object_id: str | None = Field(default=None, max_length=64)
    # "clear": the screen heard a worry (help at once, an urgent alert); "unsure": it may be one
    # (a gentle check, a note to the IRO that is not urgent); "after": what the child said
    # after the help, kept with the alert it follows (`merged_into`).
    tier: str = Field(default="clear", max_length=12)


class SafeguardingAlert(SafeguardingAlertBase, table=True):
    # A channel's resend of the same message raises no second alert.
    __table_args__ = (UniqueConstraint("conversation_id", "activity_id"),)
    id: int | None = Field(default=None, primary_key=True)
    activity_id: str | None = Field(default=None, max_length=256)
    review_id: int | None = Field(default=None, foreign_key="review.id", index=True)
    # The child's words: the responsible adults need them to act.
    message: str = Field(sa_column=Column(SealedText("safeguardingalert.message"), nullable=False))
    # The words in English, by machine, when the chat was in another language and a translation
    # service is set up (sealed like the words themselves).
    translation: str | None = Field(
        default=None, sa_column=Column(SealedText("safeguardingalert.translation"), nullable=True)
    )
    created_at: datetime = _utc(default_factory=utcnow)
    # Repeats in one chat within minutes, and more alerts from chats with no review than the
    # duty team should get in an hour, are held (email "held") and go out together in one
    # email (then "summarised"); every other alert has an email of its own ("own").
    merged_into: int | None = Field(default=None, index=True)
    email: str = Field(default="own", max_length=12)
    # Owned by a person (issue 18): who acknowledged it on the duty board, when, and their
    # note. The note is a worker's words about a child, so it is sealed and purged with the
    # alert; the audit trail records only that it was acknowledged.
    acknowledged_at: datetime | None = _utc(default=None)
    acknowledged_by: int | None = Field(default=None)
    acknowledgement_note: str | None = Field(
        default=None,
        sa_column=Column(SealedText("safeguardingalert.acknowledgement_note"), nullable=True),
    )
    # Its life on the duty board (ALERT_STATES): who owns it, where it is, since when, and how
    # many escalation emails have gone to the duty manager (at most 2). Each change is a row of
    # AlertHistory. Alerts kept with a lead (`merged_into`) carry their lead's state and owner.
    state: str = Field(default="new", max_length=16, index=True)
    owner_id: int | None = Field(default=None)
    state_at: datetime | None = _utc(default=None)
    escalations: int = 0


# new -> acknowledged -> action (recorded) -> closed; a closed alert can be opened again.
ALERT_STATES = ("new", "acknowledged", "action", "closed")


class AlertHistory(SQLModel, table=True):
    """One change in an alert's life: taken, assigned, acknowledged, an action recorded,
    closed, opened again, a note, an escalation email. Appended only (an UPDATE of anything but
    the sealed note, which `keys rotate` re-seals, is refused by a trigger); deleted only with
    its alert. `staff_id` None: MyReview itself (an escalation, more words from the child)."""

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="safeguardingalert.id", index=True, ondelete="CASCADE")
    at: datetime = _utc(default_factory=utcnow)
    staff_id: int | None = None
    # taken | assigned | acknowledged | action | closed | reopened | note | escalated
    action: str = Field(max_length=16)
    # The state and owner after the change.
    state: str = Field(max_length=16)
    owner_id: int | None = None
    # Staff's words, which may quote the child: sealed, and purged with the alert.
    note: str | None = Field(
        default=None, sa_column=Column(SealedText("alerthistory.note"), nullable=True)
    )


# --- Outbox --------------------------------------------------------------------------------------


class OutboxMessageBase(SQLModel):
    kind: str = Field(max_length=32)  # summary | alert
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    # Subjects name the child; bodies quote them. All sealed; bodies are dropped once sent.
    subject: str = Field(max_length=300, sa_type=SealedText("outboxmessage.subject"))
    text_body: str = Field(sa_column=Column(SealedText("outboxmessage.text_body"), nullable=False))
    html_body: str | None = Field(
        default=None, sa_column=Column(SealedText("outboxmessage.html_body"))
    )
    urgent: bool = False


class OutboxMessageCreate(OutboxMessageBase):
    idempotency_key: str


class OutboxMessage(OutboxMessageBase, table=True):
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    review_id: int | None = Field(default=None, foreign_key="review.id", index=True)
    status: str = Field(default="pending", max_length=16)  # pending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime = _utc(default_factory=utcnow)
    # A worker sending it holds it until then; who (the instance's name) and which start of
    # it, so that a restarted instance releases at once what its dead predecessor held.
    locked_until: datetime | None = _utc(default=None)
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_generation: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    message_id: str = Field(max_length=200)
    created_at: datetime = _utc(default_factory=utcnow)
    sent_at: datetime | None = _utc(default=None)


class OutboxLessee(SQLModel, table=True):
    """One row per instance name: how many times an instance of that name has started. Each
    start is a new generation; leases of an older one were left by a process that died."""

    owner: str = Field(primary_key=True, max_length=200)
    generation: int = 0
    started_at: datetime = _utc(default_factory=utcnow)


# --- The web door (bot/directline.py): MyReview's own Direct Line channel ------------------------


class WebConversation(SQLModel, table=True):
    """A chat opened from the web door. The page keeps nothing; this row and its activities
    are forgotten soon after the chat goes quiet."""

    id: str = Field(primary_key=True, max_length=64)
    # Given by the server and carried in the token: a page cannot speak as someone else.
    user_id: str = Field(max_length=64)
    locale: str | None = Field(default=None, max_length=16)
    created_at: datetime = _utc(default_factory=utcnow)
    last_seen_at: datetime = _utc(default_factory=utcnow, index=True)
    # Tokens of an older generation are refused once refreshed (after a short grace).
    token_generation: int = 0
    refreshed_at: datetime | None = _utc(default=None)
    started: bool = False
    # The highest watermark the page has been sent (stream) or has named (polling).
    delivered_upto: int = 0


class WebActivity(SQLModel, table=True):
    """The channel's queue: the child's activities (echoed, as Direct Line does, so the page
    marks them sent) and the bot's replies. `seq` is the watermark."""

    # Watermarks must only grow: SQLite would otherwise reuse the numbers of deleted rows, and
    # a page holding a higher watermark would never see the new ones.
    __table_args__ = (
        UniqueConstraint("conversation_id", "dedupe_key"),
        {"sqlite_autoincrement": True},
    )

    seq: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(max_length=64, index=True)
    activity_id: str = Field(max_length=200)
    # A reply sent again after a crash has the same key, so the page never shows it twice.
    dedupe_key: str = Field(max_length=260)
    from_bot: bool = True
    # It quotes the child and carries the questions about them: sealed like other replies.
    body: dict[str, Any] = Field(sa_column=Column(SealedJSON("webactivity.body"), nullable=False))
    created_at: datetime = _utc(default_factory=utcnow, index=True)
    # A child's activity whose turn has not finished: run again after a crash.
    pending: bool = False


# --- Staff (issue 18): accounts, their set-up links, sessions, and the audit trail ----------------

STAFF_ROLES = ("iro", "duty", "participation", "admin")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normal_roles(role: str, extra: Any) -> list[str]:
    """The roles held besides the main one: known ones, once each, in STAFF_ROLES' order,
    without the main role. Raises ValueError naming an unknown one."""
    if extra is None:
        extra = []
    if isinstance(extra, str) or not isinstance(extra, list | tuple | set | frozenset):
        raise ValueError("the other roles must be a list of roles")
    wanted = {str(r).strip().lower() for r in extra}
    unknown = sorted(wanted - set(STAFF_ROLES))
    if unknown:
        raise ValueError(f"role must be one of {', '.join(STAFF_ROLES)} (not {unknown[0]})")
    return [r for r in STAFF_ROLES if r in wanted and r != role]


class StaffMemberBase(SQLModel):
    # Kept lower-case: an IRO's reviews are found by the email typed on them, in any case.
    email: str = Field(max_length=254)
    display_name: str = Field(max_length=120, sa_type=PlainLine(120))
    # Their main role: the home page they land on. A person may hold more (`extra_roles`: a
    # team manager on the duty team who is also an admin; an IRO who is also an admin). Each
    # role keeps its own least privilege; ask `holds(...)`, never compare `role`.
    role: str = Field(max_length=16)
    extra_roles: list[str] = Field(
        default_factory=list, sa_type=JSON, sa_column_kwargs={"server_default": "[]"}
    )

    def holds(self, *roles: str) -> bool:
        """Whether this person holds any of `roles` (as their main role or another)."""
        return self.role in roles or any(r in roles for r in self.extra_roles or ())

    @property
    def roles(self) -> list[str]:
        """Every role they hold: the main one first."""
        return [self.role, *(r for r in self.extra_roles or () if r != self.role)]


class StaffMemberCreate(StaffMemberBase):
    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        v = v.strip().lower()
        if len(v) > 254 or not EMAIL.fullmatch(v):
            raise ValueError("email must be an email address, like jo.smith@council.gov.uk")
        return v

    @field_validator("display_name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = one_line(v)
        if not v or len(v) > 120:
            raise ValueError("the name must be 1 to 120 characters")
        return v

    @field_validator("role")
    @classmethod
    def _role(cls, v: str) -> str:
        v = v.strip().lower()
        if v not in STAFF_ROLES:
            raise ValueError(f"role must be one of {', '.join(STAFF_ROLES)}")
        return v

    @model_validator(mode="after")
    def _extra_roles(self) -> StaffMemberCreate:
        self.extra_roles = normal_roles(self.role, self.extra_roles)
        return self


class StaffMemberPublic(StaffMemberBase):
    id: int
    active: bool
    created_at: datetime
    set_up: bool


class StaffMember(StaffMemberBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    # argon2id (bot/staff/passwords.py); None until the person has used their set-up link.
    password_hash: str | None = Field(default=None, max_length=200)
    # The TOTP shared secret: with it anyone can make codes, so it is sealed like a child's words.
    totp_secret: str | None = Field(
        default=None, sa_column=Column(SealedText("staffmember.totp_secret"), nullable=True)
    )
    # The last 30-second step a code was accepted for: a code seen once is not taken again.
    totp_last_step: int | None = None
    # Their Microsoft Entra ID object id (`oid`), stored the first time they sign in with
    # Entra and matched first from then on (an email can change; the object id does not).
    entra_oid: str | None = Field(default=None, max_length=64, unique=True, index=True)
    active: bool = True
    created_at: datetime = _utc(default_factory=utcnow)

    def public(self) -> StaffMemberPublic:
        return StaffMemberPublic.model_validate(
            self,
            update={
                "id": self.id or 0,
                "set_up": self.password_hash is not None or self.entra_oid is not None,
            },
        )


class StaffSetupToken(SQLModel, table=True):
    """A one-time link to set a password (and a second factor). Only its hash is kept."""

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staffmember.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = _utc()
    used_at: datetime | None = _utc(default=None)


class StaffSession(SQLModel, table=True):
    """A signed-in browser, held here so a restart or a second instance keeps it. The id is
    the hash of the cookie's value: a copy of the database opens no session."""

    id: str = Field(primary_key=True, max_length=64)
    staff_id: int = Field(foreign_key="staffmember.id", index=True, ondelete="CASCADE")
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _utc(default_factory=utcnow)
    last_seen_at: datetime = _utc(default_factory=utcnow)


class SignInFailure(SQLModel, table=True):
    """A failed sign-in, counted per account, per address and per the pair of them, to slow
    guessing (bot/staff/auth.py). The keys are hashes: no email or address is kept here."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, index=True)
    at: datetime = _utc(default_factory=utcnow, index=True)


class AuditEventBase(SQLModel):
    at: datetime = _utc(default_factory=utcnow)
    staff_id: int | None = None
    action: str = Field(max_length=40)
    # No foreign key: the trail outlives a review's purge (it holds no child's words).
    review_id: int | None = Field(default=None, index=True)
    # Ids, roles, counts: never a child's words or a code.
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class AuditEvent(AuditEventBase, table=True):
    """Append-only: each row carries the hash of the row before it, so a row edited or taken
    out is found by `myreview audit verify`. Ids are given in sequence, so a gap shows too."""

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


# --- A child's Language of Care, kept for their next review (dialogs/carry_over.py) ------------


class LanguageOfCare(SQLModel, table=True):
    """How a child asked us to speak with them (the answers to the questions marked
    `carry_over` in content), from the last review they sent, for their next review: offered
    back to confirm there, not asked again. One row per child (by child key), replaced at each
    send. Only what the child shared; sealed like the answers it copies. Kept
    `language_of_care_days` after the review it came from (not its `retention_days`: the next
    review is about six months later), and deleted with that review when a young person asks
    for their data to be deleted."""

    child_key: str = Field(primary_key=True, max_length=64)
    # The review it came from. No foreign key: it outlives that review's deletion by retention.
    review_id: int = Field(index=True)
    review_at: datetime = _utc(index=True)
    # Who it is about, as that review named them: offered only to a review naming the same
    # child, so a case reference typed wrong cannot hand one child's words to another.
    first_name: str = Field(max_length=80, sa_type=SealedLine("languageofcare.first_name"))
    date_of_birth: date | None = None
    # Question id -> {"kind", "value", "visibility"}, as the answers were stored.
    answers: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(SealedJSON("languageofcare.answers"))
    )
    saved_at: datetime = _utc(default_factory=utcnow)


# --- Reviews imported from the council's case system (bot/staff/imports.py) -------------------


class ReviewImport(SQLModel, table=True):
    """A CSV file being imported, between its upload and its confirmation: kept sealed (it
    names children), for its uploader only, and deleted when the import is confirmed or
    cancelled, or an hour after upload (housekeeping)."""

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staffmember.id", index=True, ondelete="CASCADE")
    file_name: str = Field(
        default="", sa_column=Column(SealedText("reviewimport.file_name"), nullable=False)
    )
    text: str = Field(sa_column=Column(SealedText("reviewimport.text"), nullable=False))
    # Which column of the file is which field, once chosen (field name -> column number,
    # from 0): the file's headers need not be unique.
    mapping: dict[str, int] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = _utc(default_factory=utcnow, index=True)
