"""Every query the app makes.

Each method runs in `Database.session()`: committed on its own, or, inside a chat turn's unit of
work, together with everything else the turn wrote. So methods flush, never commit, and never
rely on catching an IntegrityError (that would roll back the whole turn): conflicts are
handled with ON CONFLICT or looked up first.

One module per aggregate; this package hands them over together (`Repositories`).
"""

from __future__ import annotations

from storage.db import Database
from storage.repositories.activities import ActivityLogRepository, Delivered, SeenActivity
from storage.repositories.alerts import AlertRepository
from storage.repositories.answers import AnswerRepository
from storage.repositories.audit import AuditRepository, Verified
from storage.repositories.bot_state import BotStateRepository, EtagMismatch, StoredState
from storage.repositories.children import ChildRepository
from storage.repositories.code_attempts import CodeAttemptRepository
from storage.repositories.imports import ImportRepository
from storage.repositories.links import LinkRepository
from storage.repositories.notices import NoticeRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.privacy import NO_CHILD_DATA, PASSING_THROUGH, PrivacyRepository
from storage.repositories.reviews import ReviewRepository
from storage.repositories.sealed import Resealed, SealedFieldsRepository, sealed_columns
from storage.repositories.staff import LastAdmin, StaffExists, StaffRepository
from storage.repositories.web_door import WebDoorRepository

__all__ = [
    "ActivityLogRepository",
    "AlertRepository",
    "AnswerRepository",
    "AuditRepository",
    "BotStateRepository",
    "ChildRepository",
    "CodeAttemptRepository",
    "Delivered",
    "EtagMismatch",
    "ImportRepository",
    "LastAdmin",
    "LinkRepository",
    "NO_CHILD_DATA",
    "NoticeRepository",
    "OutboxRepository",
    "PASSING_THROUGH",
    "PrivacyRepository",
    "Repositories",
    "Resealed",
    "ReviewRepository",
    "SealedFieldsRepository",
    "SeenActivity",
    "StaffExists",
    "StaffRepository",
    "StoredState",
    "Verified",
    "WebDoorRepository",
    "sealed_columns",
]


class Repositories:
    """The repositories over one database, handed to the bot and the delivery worker."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.audit = AuditRepository(db)
        self.reviews = ReviewRepository(db)
        self.links = LinkRepository(db)
        self.answers = AnswerRepository(db)
        self.code_attempts = CodeAttemptRepository(db)
        self.activities = ActivityLogRepository(db)
        self.bot_state = BotStateRepository(db)
        self.privacy = PrivacyRepository(db)
        self.alerts = AlertRepository(db, audit=self.audit)
        self.outbox = OutboxRepository(db)
        self.sealed = SealedFieldsRepository(db)
        self.web = WebDoorRepository(db)
        self.staff = StaffRepository(db)
        self.children = ChildRepository(db)
        self.imports = ImportRepository(db)
        self.notices = NoticeRepository(db)
