"""core.calendar: business days counted once per day and kept, with the same answers.

The policy asks the calendar the same days again and again; the answers are
remembered per (day, holidays). These tests compare them with counting day by
day, as the calendar first did, across zones, holidays and DST changes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from mailfollow.core.calendar import Calendar, day_label, load_zone

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
MANY = settings(max_examples=300, deadline=None)

holiday_sets = st.frozensets(
    st.dates(date(2026, 1, 1), date(2027, 3, 1)).map(date.isoformat), max_size=10
)
moments = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2026, 12, 31),
    timezones=st.just(UTC),
)


def next_business_day_counting(calendar: Calendar, day: date) -> date:
    """The first business day after ``day``, found by looking at each day in turn."""
    candidate = day + timedelta(days=1)
    while not calendar.is_business_day(candidate):
        candidate += timedelta(days=1)
    return candidate


def add_threshold_counting(calendar: Calendar, start: datetime, span: timedelta) -> datetime:
    """add_threshold as first written: one business day at a time."""
    if span <= timedelta(0):
        return start.astimezone(UTC)
    if not calendar.business_days_only:
        return (start + span).astimezone(UTC)
    current = calendar.local(start)
    for _ in range(span.days):
        next_day = next_business_day_counting(calendar, current.date())
        current = datetime.combine(next_day, current.time(), tzinfo=calendar.zone)
    return (current + (span - timedelta(days=span.days))).astimezone(UTC)


@MANY
@given(
    start=moments,
    days=st.integers(0, 30),
    hours=st.integers(0, 23),
    holidays=holiday_sets,
    zone=st.sampled_from(ZONES),
    business=st.booleans(),
)
def test_a_threshold_lands_where_counting_day_by_day_lands(
    start: datetime,
    days: int,
    hours: int,
    holidays: frozenset[str],
    zone: str,
    business: bool,
) -> None:
    calendar = Calendar(zone=load_zone(zone), business_days_only=business, holidays=holidays)
    span = timedelta(days=days, hours=hours)
    assert calendar.add_threshold(start, span) == add_threshold_counting(calendar, start, span)


@MANY
@given(day=st.dates(date(2026, 1, 1), date(2026, 12, 31)), holidays=holiday_sets)
def test_the_next_business_day_is_the_first_one_found_counting(
    day: date, holidays: frozenset[str]
) -> None:
    calendar = Calendar(zone=load_zone("UTC"), holidays=holidays)
    assert calendar.business_day_after(day) == next_business_day_counting(calendar, day)


def test_holidays_given_as_a_set_are_taken_as_they_are() -> None:
    calendar = Calendar(zone=load_zone("UTC"), holidays={"2026-12-28"})  # type: ignore[arg-type]
    assert calendar.holidays == frozenset({"2026-12-28"})
    # Friday 25th -> Monday 28th is a holiday -> Tuesday 29th
    assert calendar.business_day_after(date(2026, 12, 25)) == date(2026, 12, 29)


def test_every_day_is_a_business_day_when_only_business_days_is_off() -> None:
    calendar = Calendar(
        zone=load_zone("UTC"), business_days_only=False, holidays=frozenset({"2026-03-16"})
    )
    assert calendar.business_day_after(date(2026, 3, 14)) == date(2026, 3, 15)  # a Sunday
    assert calendar.business_day_after(date(2026, 3, 15)) == date(2026, 3, 16)  # a "holiday"


def test_a_long_run_of_holidays_is_skipped_whole() -> None:
    blocked = frozenset((date(2026, 3, 2) + timedelta(days=n)).isoformat() for n in range(40))
    calendar = Calendar(zone=load_zone("UTC"), holidays=blocked)
    assert calendar.business_day_after(date(2026, 3, 1)) == date(2026, 4, 13)  # a Monday
    start = datetime(2026, 2, 27, 12, 0, tzinfo=UTC)  # a Friday
    assert calendar.add_threshold(start, timedelta(days=2)) == datetime(
        2026, 4, 14, 12, 0, tzinfo=UTC
    )


@given(day=st.dates(date(1, 1, 1), date(9999, 12, 31)))
def test_a_day_label_reads_as_strftime_writes_it(day: date) -> None:
    assert day_label(day) == day.strftime("%a %Y-%m-%d")


def test_a_morning_after_a_long_weekend_skips_the_holiday() -> None:
    calendar = Calendar(zone=load_zone("Europe/Berlin"), holidays=frozenset({"2026-04-06"}))
    assert calendar.morning_after(date(2026, 4, 3)) == datetime.combine(
        date(2026, 4, 7), time(9, 0), tzinfo=load_zone("Europe/Berlin")
    ).astimezone(UTC)
