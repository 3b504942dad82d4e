"""The webhook settings refuse values that would break delivery's guarantees."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.settings import CoreSettings


def test_the_defaults_are_the_documented_ones() -> None:
    settings = CoreSettings()
    assert settings.webhook_timeout_seconds == 10
    assert settings.webhook_lease_seconds == 30
    assert settings.webhook_due_soon_seconds == 4 * 3600
    assert settings.webhook_retry_scale == 1
    assert settings.webhook_allow_loopback is False


@pytest.mark.parametrize(
    "env",
    [
        {"INNOCREDIT_WEBHOOK_TIMEOUT_SECONDS": "31"},
        {"INNOCREDIT_WEBHOOK_TIMEOUT_SECONDS": "0"},
        # A lease must outlast a send by 10 s: else a second worker sends the same delivery.
        {"INNOCREDIT_WEBHOOK_LEASE_SECONDS": "19"},
        {"INNOCREDIT_WEBHOOK_TIMEOUT_SECONDS": "25", "INNOCREDIT_WEBHOOK_LEASE_SECONDS": "30"},
        {"INNOCREDIT_WEBHOOK_RETRY_SCALE": "0.00001"},
        {"INNOCREDIT_WEBHOOK_RETRY_SCALE": "2"},
        {"INNOCREDIT_WEBHOOK_CONCURRENCY": "0"},
        {"INNOCREDIT_WEBHOOK_RETENTION_DAYS": "0"},
    ],
)
def test_refused(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        CoreSettings()


def test_a_short_timeout_with_its_lease_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INNOCREDIT_WEBHOOK_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("INNOCREDIT_WEBHOOK_LEASE_SECONDS", "12")
    monkeypatch.setenv("INNOCREDIT_WEBHOOK_RETRY_SCALE", "0.001")
    settings = CoreSettings()
    assert (settings.webhook_lease_seconds, settings.webhook_retry_scale) == (12, 0.001)
