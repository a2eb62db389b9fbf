"""Escalation: an urgent alert no one has acknowledged within N working hours is emailed to the
duty manager once, then once more at 2N, never again: not after a restart, not with two app
instances running the job at once. Outside working hours nothing escalates. The email goes
through the outbox to a real SMTP server (aiosmtpd) and holds a link, never the child's words.
Time is the services' clock, moved by the test: nothing here waits for it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import PARTS, create_app
from bot.jobs import escalate_alerts
from bot.settings import Settings, settings_error
from bot.working_hours import WorkingHours
from tests.chat import Chat
from tests.conftest import make_settings
from tests.crashchannel import free_port
from tests.staff import make_staff, signed_in
from tests.test_outbox import SmtpServer

LONDON = ZoneInfo("Europe/London")
MANAGER = "manager@council.example"
WORRY = "my stepdad hurts me Worry-Words"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


def next_friday(at: time) -> datetime:
    """The coming Friday (not today), at `at` in London."""
    today = datetime.now(LONDON).date()
    days = (4 - today.weekday()) % 7 or 7
    return datetime.combine(today + timedelta(days=days), at, LONDON)


async def to_manager(smtp: SmtpServer, count: int) -> list[str]:
    """The escalation emails the duty manager has, once there are `count` (bounded wait for
    the outbox worker: it is woken when one is queued)."""
    for _ in range(100):
        found = [msg for rcpt, msg in smtp.inbox.messages if rcpt == [MANAGER]]
        if len(found) >= count:
            return [str(m["Subject"]) + "\n" + m.get_body(("plain",)).get_content() for m in found]
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} emails to the duty manager")


async def test_an_unacknowledged_alert_is_escalated_at_n_and_2n_working_hours_and_never_again(
    staff_client, connector, smtp, tmp_path
):
    mail = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_starttls": False,
        "duty_manager_email": MANAGER,
    }
    client, parts = await staff_client(**mail)
    # Raised on a Friday at 16:30, half an hour before the council's day ends (09:00-17:00).
    raised = next_friday(time(16, 30))
    clock = {"now": raised.astimezone(UTC)}
    parts.services.clock = lambda: clock["now"]
    conn, url = connector
    chat = Chat(client, conn, url, channel_id="webchat", user_id="no-code-yet")
    await chat.start()
    await chat.say(WORRY)
    # A second child at the same time, whose alert the duty team acknowledges at once.
    other = Chat(client, conn, url, channel_id="webchat", user_id="another")
    await other.start()
    await other.say("my uncle hits me")
    late, seen = sorted(await parts.repos.alerts.since(since=raised), key=lambda a: a.id)
    assert late.created_at == raised
    await make_staff(parts, email="dee@council.example", role="duty", name="Dee Duty")
    csrf = await signed_in(client, "dee@council.example")
    acked = await client.post(
        f"/staff/alerts/{seen.id}/acknowledge", data={"csrf": csrf, "note": ""}
    )
    assert acked.status == 200

    async def at(when: datetime) -> int:
        clock["now"] = when.astimezone(UTC)
        return await escalate_alerts(parts)

    # Two hours pass on the clock, but only half an hour of working time: nothing. Nor at the
    # weekend.
    assert await at(raised + timedelta(hours=2)) == 0
    assert await at(raised + timedelta(days=1, hours=3)) == 0
    assert await at(raised + timedelta(days=2, hours=3)) == 0
    # Monday: 09:00 + the hour and a half left of the two working hours = 10:30.
    monday = raised + timedelta(days=3)
    assert await at(monday.replace(hour=10, minute=29)) == 0
    assert await at(monday.replace(hour=10, minute=31)) == 1
    [first] = await to_manager(smtp, 1)
    assert f"urgent alert {late.id} not acknowledged after 2 working hours" in first
    assert f"/staff/alerts/{late.id}" in first
    assert "Worry-Words" not in first and "stepdad" not in first  # never the child's words
    assert "one more email" in first
    assert await at(monday.replace(hour=10, minute=45)) == 0

    # A restart (the same database, a new process): nothing is sent twice.
    await client.close()
    client, parts = await staff_client(**mail)
    parts.services.clock = lambda: clock["now"]
    assert await at(monday.replace(hour=11)) == 0

    # Two instances at 2N (12:30): one email between them.
    second = create_app(make_settings(tmp_path, instance_name="second", **mail))
    other_parts = second[PARTS]
    other_parts.services.clock = lambda: clock["now"]
    async with TestClient(TestServer(second)):
        clock["now"] = monday.replace(hour=12, minute=31).astimezone(UTC)
        sent = await asyncio.gather(escalate_alerts(parts), escalate_alerts(other_parts))
        assert sorted(sent) == [0, 1]
    [_, again] = await to_manager(smtp, 2)
    assert "still not acknowledged after 4 working hours" in again and "the last" in again

    # Never more, and never for the alert acknowledged in time.
    assert await at(monday + timedelta(days=1, hours=4)) == 0
    assert await at(monday + timedelta(days=8)) == 0
    assert len([r for r, _ in smtp.inbox.messages if r == [MANAGER]]) == 2
    escalated = await parts.repos.alerts.get(alert_id=late.id)
    assert (escalated.escalations, escalated.state) == (2, "new")
    assert (await parts.repos.alerts.get(alert_id=seen.id)).escalations == 0
    history = [h.action for h in await parts.repos.alerts.history(alert_id=late.id)]
    assert history == ["escalated", "escalated"]
    rows = [e for e in await parts.repos.audit.recent(action="alert.escalated")]
    assert sorted(e.details["step"] for e in rows) == [1, 2]
    assert all(e.staff_id is None for e in rows)

    # The page says so, in its history.
    await signed_in(client, "dee@council.example")
    page = await (await client.get(f"/staff/alerts/{late.id}")).text()
    assert "Emailed the duty manager: not acknowledged after 2 working hours" in page
    assert "Emailed the duty manager: not acknowledged after 4 working hours" in page
    board = await (await client.get("/staff")).text()
    assert "Escalated to the duty manager twice" in board


def test_working_hours_count_the_councils_day_in_its_time_zone():
    hours = WorkingHours.parse("09:00-17:00", "mon-fri", LONDON)
    saturday = datetime(2026, 12, 12, 10, 0, tzinfo=LONDON)
    assert hours.after(saturday, 2) == datetime(2026, 12, 14, 11, 0, tzinfo=LONDON)
    friday = datetime(2026, 12, 11, 16, 0, tzinfo=LONDON)
    assert hours.between(friday, hours.after(friday, 3)) == timedelta(hours=3)
    # The clocks go forward on Sunday 29 March 2026: a day's window is still 09:00-17:00.
    every_day = WorkingHours.parse("09:00-17:00", "mon,tue,wed,thu,fri,sat,sun", LONDON)
    saturday = datetime(2026, 3, 28, 16, 0, tzinfo=LONDON)
    assert every_day.after(saturday, 2) == datetime(2026, 3, 29, 10, 0, tzinfo=LONDON)
    assert WorkingHours.parse("08:00-24:00", "sat-mon", LONDON).days == frozenset({5, 6, 0})


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("working_hours", "9-5", "MYREVIEW_WORKING_HOURS: write the working hours as HH:MM"),
        ("working_hours", "17:00-09:00", "MYREVIEW_WORKING_HOURS: the working day must end"),
        ("working_days", "weekdays", "MYREVIEW_WORKING_DAYS: name the working days"),
    ],
)
def test_working_hours_that_cannot_be_read_are_named_at_start(setting, value, says):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, **{setting: value})  # type: ignore[call-arg]
    assert says in settings_error(caught.value)
