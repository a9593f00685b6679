"""The web UI's pure parts: relative times, PKCE, the in-process session store, its settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cruddur.config import Settings
from cruddur.web.hosted_ui import pkce_challenge, pkce_pair
from cruddur.web.sessions import InProcessSessionStore
from cruddur.web.timefmt import exact, relative

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timestamp", "shown"),
    [
        ("2026-11-28T11:59:30.000000+00:00", "now"),
        ("2026-11-28T12:05:00.000000+00:00", "now"),  # the seed dates messages ahead
        ("2026-11-28T11:55:00.000000+00:00", "5m"),
        ("2026-11-28T11:55:00.123456+00:00", "4m"),
        ("2026-11-28T09:00:00.000000+00:00", "3h"),
        ("2026-11-26T12:00:00.000000+00:00", "2d"),
        ("2026-11-03T08:00:00.000000+00:00", "Nov 3"),
        ("2025-11-03T08:00:00.000000+00:00", "Nov 3, 2025"),
        ("2026-11-28T11:00:00", "1h"),  # no zone: UTC
        ("yesterday", "yesterday"),
    ],
)
def test_relative_times(timestamp, shown):
    assert relative(timestamp, NOW) == shown


def test_the_exact_time_is_to_the_second_in_utc():
    assert exact("2026-11-28T05:07:14.123456+00:00") == "2026-11-28 05:07:14 UTC"
    assert exact("2026-11-28T06:07:14+01:00") == "2026-11-28 05:07:14 UTC"


def test_pkce_s256_matches_rfc_7636_appendix_b():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    made, challenge = pkce_pair()
    assert 43 <= len(made) <= 128 and pkce_challenge(made) == challenge
    assert pkce_pair()[0] != made


def test_a_login_attempt_is_taken_once():
    store = InProcessSessionStore()
    store.put_login_attempt("attempt", {"state": "s"})

    assert store.take_login_attempt("attempt") == {"state": "s"}
    assert store.take_login_attempt("attempt") is None


def test_the_in_process_store_is_bounded():
    store = InProcessSessionStore(clock=lambda: 1000.0, max_entries=3)
    sessions = [store.create(f"token{i}", 2000) for i in range(5)]

    kept = [s for s in sessions if store.get(s.id) is not None]

    assert kept == sessions[2:]
    with pytest.raises(ValueError):
        store.create("token", 999)  # already expired


def test_the_web_settings_come_from_the_environment():
    settings = Settings.from_env(
        {
            "AWS_COGNITO_HOSTED_UI_DOMAIN": "cruddur.auth.us-east-1.amazoncognito.com",
            "AWS_COGNITO_REDIRECT_URI": "https://cruddur.example/auth/callback",
            "CRUDDUR_SECURE_COOKIES": "yes",
        }
    )

    assert settings.cognito_hosted_ui_domain == "cruddur.auth.us-east-1.amazoncognito.com"
    assert settings.cognito_redirect_uri == "https://cruddur.example/auth/callback"
    assert settings.secure_cookies is True
    assert Settings.from_env({}).secure_cookies is None
    assert Settings.from_env({"CRUDDUR_SECURE_COOKIES": "0"}).secure_cookies is False
    with pytest.raises(ValueError):
        Settings.from_env({"CRUDDUR_SECURE_COOKIES": "maybe"})
