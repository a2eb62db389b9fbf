"""What the app factory builds (bot/app.py `build_parts`), handed to the background jobs
(bot/jobs.py), the CLI and tests."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot.adapter import MyReviewAdapter
from bot.delivery.outbox import OutboxWorker
from bot.directline import DirectLine
from bot.handler import MyReviewBot
from bot.notices import NoticeSender
from bot.settings import Settings
from dialogs.context import Services
from storage.db import Database
from storage.repositories import Repositories


@dataclass
class Parts:
    """What create_app built, for the CLI and for tests."""

    settings: Settings
    db: Database
    repos: Repositories
    services: Services
    adapter: MyReviewAdapter
    bot: MyReviewBot
    worker: OutboxWorker
    web: DirectLine
    notices: NoticeSender


PARTS = web.AppKey("parts", Parts)
