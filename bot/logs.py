"""Structured (JSON) logs. Nothing a child wrote, their name or an invite code is ever logged:
log records carry ids, counts and exception type names only."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            # The type and where it happened, never the message: messages can quote input.
            out["error"] = type(exc).__name__
            out["where"] = [
                f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}"
                for f in traceback.extract_tb(exc.__traceback__)[-6:]
            ]
        return json.dumps(out, ensure_ascii=False, default=str)


class AccessLogger(AbstractAccessLogger):
    """One line a request: method, path, status, size and time. Never the query string (a web
    chat's stream URL carries a token there), the referrer or the user agent."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "bytes": response.body_length,
                "ms": round(time * 1000, 1),
            },
        )


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log would print request paths only; botbuilder and msrest can log
    # whole activities at DEBUG, so they are held at WARNING whatever the app's level.
    noisy_loggers = (
        "msrest",
        "botbuilder",
        "botframework",
        "aiosqlite",
        "sqlalchemy",
        "asyncio",
        "alembic",
    )
    for noisy in noisy_loggers:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Its warnings name attributes a client chose ("q is not a known attribute of ..."): a
    # client's text does not go in our logs.
    logging.getLogger("msrest.serialization").setLevel(logging.ERROR)
