"""Business days, holidays and quiet hours, seen from the user's time zone.

The silence policy counts thresholds in business days and never schedules a
follow-up at night or on a day off. Everything here works on aware datetimes,
converts to the configured IANA zone with :mod:`zoneinfo` and returns UTC.

Conventions:

* A *business day* is Monday to Friday and not listed in ``holidays`` (ISO
  dates, compared with the local date). When ``business_days_only`` is off,
  every day is a business day and holidays are not consulted.
* Quiet hours are ``[start, end)`` in local time and may wrap midnight;
  ``start == end`` means no quiet hours at all.
* "Morning" is :data:`MORNING` local time; it is then moved out of quiet hours
  if they cover it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailfollow.model import PolicySettings, QuietHours

MORNING = time(9, 0)
_WEEKEND = frozenset({5, 6})  # date.weekday(): Saturday, Sunday
# Each scheduling step moves forward by at least a quiet period or a day, so a
# handful is enough; the bound only guards against a pathological config.
_MAX_SCHEDULING_STEPS = 64


def require_aware(when: datetime, *, what: str = "datetime") -> None:
    """Refuse naive datetimes: they would silently mean "some local time"."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {when!r}")


def load_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


@dataclass(frozen=True)
class Calendar:
    """The user's working calendar: zone, days off and quiet hours."""

    zone: ZoneInfo
    business_days_only: bool = True
    holidays: frozenset[str] = frozenset()
    quiet_hours: QuietHours | None = None

    def __post_init__(self) -> None:
        # Hashable, for the day caches below (a frozenset passes through as it is).
        object.__setattr__(self, "holidays", frozenset(self.holidays))

    @classmethod
    def from_settings(cls, settings: PolicySettings) -> Calendar:
        return cls(
            zone=load_zone(settings.timezone),
            business_days_only=settings.business_days_only,
            holidays=settings.holidays,
            quiet_hours=settings.quiet_hours,
        )

    def local(self, when: datetime) -> datetime:
        require_aware(when)
        return when.astimezone(self.zone)

    def is_business_day(self, day: date) -> bool:
        if not self.business_days_only:
            return True
        return _is_business_day(day, self.holidays)

    def business_day_after(self, day: date) -> date:
        """The first business day strictly after ``day``."""
        if not self.business_days_only:
            return day + timedelta(days=1)  # every day is one
        return _business_day_after(day, self.holidays)

    def add_threshold(self, start: datetime, span: timedelta) -> datetime:
        """``start`` plus ``span``, whole days counted as business days when configured.

        Business-day counting keeps the local wall-clock time: Friday 10:00 plus
        one day is Monday 10:00. The part of ``span`` below a day is added as is.
        """
        require_aware(start)
        if span <= timedelta(0):
            return start.astimezone(UTC)
        if not self.business_days_only:
            return (start + span).astimezone(UTC)
        current = self.local(start)
        if span.days:
            # Each step keeps the wall-clock time (and fold), so only the day moves.
            day = _business_days_after(current.date(), span.days, self.holidays)
            current = datetime.combine(day, current.time(), tzinfo=self.zone)
        remainder = span - timedelta(days=span.days)
        return (current + remainder).astimezone(UTC)

    def morning_after(self, day: date) -> datetime:
        """Morning of the first business day after ``day`` (UTC)."""
        next_day = self.business_day_after(day)
        return datetime.combine(next_day, MORNING, tzinfo=self.zone).astimezone(UTC)

    def in_quiet_hours(self, when: datetime) -> bool:
        quiet = self.quiet_hours
        if quiet is None or quiet.start == quiet.end:
            return False
        now = self.local(when).time()
        if quiet.start < quiet.end:
            return quiet.start <= now < quiet.end
        return now >= quiet.start or now < quiet.end

    def end_of_quiet_hours(self, when: datetime) -> datetime:
        """The moment the quiet period containing ``when`` ends (UTC)."""
        quiet = self.quiet_hours
        if quiet is None or not self.in_quiet_hours(when):
            return when.astimezone(UTC)
        local = self.local(when)
        end_day = local.date()
        if quiet.start > quiet.end and local.time() >= quiet.start:
            end_day += timedelta(days=1)  # the period wraps past midnight
        # Around a DST fall-back the end time exists twice; take the first one
        # that is still ahead so scheduling only ever moves forward.
        instant = when.astimezone(UTC)
        for fold in (0, 1):
            end = datetime.combine(end_day, quiet.end, tzinfo=self.zone).replace(fold=fold)
            if end.astimezone(UTC) > instant:
                return end.astimezone(UTC)
        return instant + timedelta(minutes=1)

    def is_schedulable(self, when: datetime) -> bool:
        return not self.in_quiet_hours(when) and self.is_business_day(self.local(when).date())

    def schedule(self, when: datetime) -> datetime:
        """The earliest moment at or after ``when`` that is outside quiet hours
        and, with ``business_days_only``, on a business day (UTC)."""
        require_aware(when)
        current = when.astimezone(UTC)
        for _ in range(_MAX_SCHEDULING_STEPS):
            if self.in_quiet_hours(current):
                current = self.end_of_quiet_hours(current)
            elif not self.is_business_day(self.local(current).date()):
                current = self.morning_after(self.local(current).date())
            else:
                return current
        raise ValueError(f"quiet hours and days off leave no time to schedule after {when}")


# The policy asks the same few hundred days again and again (every conversation's
# threshold and scheduling); the answers depend on nothing else, so they are kept.
_DAY_CACHE_SIZE = 8192


def _is_business_day(day: date, holidays: frozenset[str]) -> bool:
    """Monday to Friday and not listed (with ``business_days_only``)."""
    return day.weekday() not in _WEEKEND and not (holidays and day.isoformat() in holidays)


@functools.lru_cache(maxsize=_DAY_CACHE_SIZE)
def _business_day_after(day: date, holidays: frozenset[str]) -> date:
    candidate = day + timedelta(days=1)
    # At most len(holidays) listed days plus two weekends can be in the way.
    for _ in range(len(holidays) + 15):
        if _is_business_day(candidate, holidays):
            return candidate
        candidate += timedelta(days=1)
    raise ValueError(f"no business day found after {day.isoformat()}")


@functools.lru_cache(maxsize=_DAY_CACHE_SIZE)
def _business_days_after(day: date, count: int, holidays: frozenset[str]) -> date:
    """The business day ``count`` business days after ``day``."""
    for _ in range(count):
        day = _business_day_after(day, holidays)
    return day


@functools.lru_cache(maxsize=_DAY_CACHE_SIZE)
def day_label(day: date) -> str:
    """``day`` as "Mon 2026-06-15" (``strftime("%a %Y-%m-%d")``), for reasons."""
    return day.strftime("%a %Y-%m-%d")
