"""The retry schedule (pure): delays, jitter bounds, Retry-After, the 72-hour clamp."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from services.loans.webhooks.schedule import (
    DELAYS,
    LIFETIME,
    MAX_ATTEMPTS,
    give_up_at,
    next_attempt,
    retry_after,
)

T0 = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)


def test_ten_attempts_the_last_71_hours_35_minutes_after_the_first() -> None:
    assert MAX_ATTEMPTS == 10
    assert sum(DELAYS, timedelta(0)) == timedelta(hours=71, minutes=35, seconds=5)
    assert sum(DELAYS, timedelta(0)) < LIFETIME


def test_each_delay_jittered_within_ten_percent_seeded() -> None:
    rng = random.Random(7)
    deadline = give_up_at(T0)
    for attempt, delay in enumerate(DELAYS, start=1):
        for _ in range(50):
            at = next_attempt(attempt, T0, deadline + LIFETIME, rng=rng)
            assert at is not None
            assert delay * 0.9 <= at - T0 <= delay * 1.1
    a = next_attempt(3, T0, deadline, rng=random.Random(1))
    assert a == next_attempt(3, T0, deadline, rng=random.Random(1))
    assert a != next_attempt(3, T0, deadline, rng=random.Random(2))


def test_following_the_schedule_dies_at_the_tenth_attempt_within_72_hours() -> None:
    rng = random.Random(3)
    deadline, now, attempts = give_up_at(T0), T0, 1
    while (later := next_attempt(attempts, now, deadline, rng=rng)) is not None:
        now, attempts = later, attempts + 1
    assert attempts <= MAX_ATTEMPTS
    assert now <= deadline


def test_the_deadline_clamps_and_a_failure_at_it_is_the_last() -> None:
    deadline = T0 + timedelta(minutes=1)
    assert next_attempt(4, T0, deadline, rng=random.Random(0)) == deadline
    assert next_attempt(4, deadline, deadline) is None
    assert next_attempt(MAX_ATTEMPTS, T0, give_up_at(T0)) is None


def test_the_scale_shortens_delays_and_lifetime() -> None:
    assert give_up_at(T0, scale=0.001) == T0 + timedelta(seconds=259.2)
    at = next_attempt(2, T0, give_up_at(T0, scale=0.001), scale=0.001, rng=random.Random(0))
    assert at is not None
    assert timedelta(seconds=0.27) <= at - T0 <= timedelta(seconds=0.33)


def test_retry_after_seconds_and_http_date_only_lengthen() -> None:
    assert retry_after("120", T0) == timedelta(seconds=120)
    assert retry_after(" 2 ", T0) == timedelta(seconds=2)
    assert retry_after("Thu, 03 Dec 2026 05:10:00 GMT", T0) == timedelta(minutes=10)
    for garbage in (None, "", "soon", "-5", "1.5", "Thu, 03 Dec 2026 04:00:00 GMT", "3 Dec"):
        assert retry_after(garbage, T0) is None, garbage
    deadline = give_up_at(T0)
    # Longer than the 5 s of attempt 1: honoured; shorter than the 5 min of attempt 2: not.
    assert next_attempt(1, T0, deadline, after=timedelta(seconds=60)) == T0 + timedelta(minutes=1)
    at = next_attempt(2, T0, deadline, after=timedelta(seconds=1), rng=random.Random(0))
    assert at is not None
    assert at - T0 >= timedelta(minutes=4.5)
    # Never past the give-up time, whatever the receiver asks; never scaled.
    assert next_attempt(1, T0, deadline, after=timedelta(days=9)) == deadline
    scaled = next_attempt(1, T0, deadline, scale=0.001, after=timedelta(seconds=2))
    assert scaled == T0 + timedelta(seconds=2)
