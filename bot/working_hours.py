"""The council's working hours, for counting them: an alert no one has acknowledged after N
working hours is escalated (bot/jobs.py). Hours and days are read in the council's time zone
(MYREVIEW_TIMEZONE); a day's window is turned into UTC before any arithmetic, so a change of
the clocks in spring or autumn counts what a wall clock shows. Bank holidays are not known:
they count as working days."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")
# A search for the end of a span gives up after this many days (only reached if no day has
# working time, which `parse` refuses).
MAX_DAYS = 3700


def parse_hours(text: str) -> tuple[time, time | None]:
    """ "09:00-17:00" -> (09:00, 17:00); an end of "24:00" is midnight (None)."""
    found = HOURS.fullmatch(text.strip())
    if not found:
        raise ValueError("write the working hours as HH:MM-HH:MM, like 09:00-17:00")
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h2 == 24 and m2:
        raise ValueError("the working day ends at 24:00 at the latest")
    start = time(h1, m1)
    end = None if h2 == 24 else time(h2, m2)
    if end is not None and end <= start:
        raise ValueError("the working day must end after it starts (like 09:00-17:00)")
    return start, end


def parse_days(text: str) -> frozenset[int]:
    """ "mon,tue,wed,thu,fri" or "mon-fri" -> the weekdays (Monday 0)."""
    wrong = ValueError("name the working days like mon,tue,wed,thu,fri (or mon-fri)")
    text = text.strip().lower()
    span = re.fullmatch(r"([a-z]+)\s*-\s*([a-z]+)", text)
    if span:
        a, b = (name[:3] for name in span.groups())
        if a not in DAYS or b not in DAYS:
            raise wrong
        first, last = DAYS.index(a), DAYS.index(b)
        return frozenset(
            range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        )
    names = [p[:3] for p in re.split(r"[,\s]+", text) if p]
    if not names or any(n not in DAYS for n in names):
        raise wrong
    return frozenset(DAYS.index(n) for n in names)


@dataclass(frozen=True)
class WorkingHours:
    start: time
    end: time | None  # None: midnight
    days: frozenset[int]
    tz: ZoneInfo

    @classmethod
    def parse(cls, hours: str, days: str, tz: ZoneInfo) -> WorkingHours:
        start, end = parse_hours(hours)
        return cls(start=start, end=end, days=parse_days(days), tz=tz)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's working time, in UTC, or None on a day off."""
        if day.weekday() not in self.days:
            return None
        opens = datetime.combine(day, self.start, self.tz)
        closes = (
            datetime.combine(day + timedelta(days=1), time(0), self.tz)
            if self.end is None
            else datetime.combine(day, self.end, self.tz)
        )
        return opens.astimezone(UTC), closes.astimezone(UTC)

    def after(self, at: datetime, hours: float) -> datetime:
        """The moment `hours` of working time after `at` (at the end of that much work)."""
        left = timedelta(hours=hours)
        day = at.astimezone(self.tz).date()
        for _ in range(MAX_DAYS):
            window = self.window(day)
            if window is not None:
                opens, closes = window
                start = max(opens, at.astimezone(UTC))
                if start < closes:
                    if left <= closes - start:
                        return start + left
                    left -= closes - start
            day += timedelta(days=1)
        raise ValueError("no working time in the working days")

    def between(self, since: datetime, until: datetime) -> timedelta:
        """Working time from `since` to `until`."""
        total = timedelta()
        day = since.astimezone(self.tz).date()
        last = until.astimezone(self.tz).date()
        while day <= last:
            window = self.window(day)
            if window is not None:
                start = max(window[0], since.astimezone(UTC))
                end = min(window[1], until.astimezone(UTC))
                if end > start:
                    total += end - start
            day += timedelta(days=1)
        return total
