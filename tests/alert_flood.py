"""A sustained flood of disclosures from throwaway chats (no code entered), with real children
writing worries among them, over simulated hours: the clock is moved with time-machine, and
held alerts are released as the app's background job does, every 20 simulated seconds.

Used by tests/test_alert_bounds.py (no alert waits past the hold limit) and by the benchmark
(the delays' p50, p95 and max).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from bot.app import Parts
from bot.jobs import release_held_alerts
from dialogs.alert_routing import RELEASE_EVERY


@dataclass
class Flood:
    # Per alert id: when it was raised, and when its email (own or a digest) was queued.
    raised: dict[int, datetime] = field(default_factory=dict)
    emailed: dict[int, datetime] = field(default_factory=dict)
    real: set[int] = field(default_factory=set)
    digests: list[list[int]] = field(default_factory=list)

    def delays(self, *, real_only: bool = False) -> list[float]:
        ids = self.real if real_only else self.raised.keys()
        return sorted((self.emailed[i] - self.raised[i]).total_seconds() for i in ids)


async def flood(
    parts: Parts,
    new_chat: Any,
    *,
    hours: float,
    per_hour: int,
    real_every_minutes: int = 37,
) -> Flood:
    """Disclosures from `per_hour` new throwaway chats an hour, and one real child's (also
    before their code) every `real_every_minutes`, for `hours`; returns when each was emailed."""
    repos = parts.repos
    out = Flood()
    start = datetime(2027, 1, 11, 9, 0, tzinfo=UTC)
    step = RELEASE_EVERY
    every = timedelta(hours=1) / per_hour
    steps = int(timedelta(hours=hours) / step)
    next_flood, next_real = start, start + timedelta(minutes=3)
    n = 0
    with time_machine.travel(start, tick=False) as clock:
        for k in range(steps + int(parts.services.alert_max_hold / step) + 2):
            now = start + k * step
            clock.move_to(now)
            if k < steps:
                while next_flood <= now:
                    n += 1
                    await _disclose(new_chat, f"throwaway-{n}", "my stepdad hits me every night")
                    next_flood += every
                if next_real <= now:
                    n += 1
                    await _disclose(new_chat, f"real-child-{n}", "im scared to go home he hurts me")
                    next_real += timedelta(minutes=real_every_minutes)
            await release_held_alerts(parts)
            for alert in await repos.alerts.since(since=start):
                aid = alert.id or 0
                if aid not in out.raised:
                    out.raised[aid] = alert.created_at
                    if alert.user_id and alert.user_id.startswith("real-child"):
                        out.real.add(aid)
                if aid not in out.emailed and alert.email in ("own", "summarised"):
                    out.emailed[aid] = now
        for row in await repos.outbox.list(kind="alerts"):
            out.digests.append([int(x) for x in row.idempotency_key.split(":")[1].split("-")])
    return out


async def _disclose(new_chat: Any, user: str, words: str) -> None:
    chat = new_chat("webchat", user_id=user)
    await chat.start()
    await chat.say(words)
