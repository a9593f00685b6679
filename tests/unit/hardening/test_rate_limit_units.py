"""The pure parts of the rate limits: decisions, the client's address, the in-process windows."""

from __future__ import annotations

import pytest

from cruddur.config import Settings
from cruddur.hardening.rate_limits import (
    Decision,
    InProcessRateLimiter,
    Limit,
    client_address,
    decide,
)


def test_decisions_count_down_and_refuse_past_the_limit():
    assert decide(1, 30, 60, 60) == Decision(True, 30, 29, 60)
    assert decide(30, 30, 12, 60) == Decision(True, 30, 0, 12)
    assert decide(31, 30, 12, 60) == Decision(False, 30, 0, 12)


def test_reset_is_at_least_a_second_and_never_past_the_window():
    assert decide(1, 5, 0, 60).reset == 60
    assert decide(1, 5, -1, 60).reset == 60
    assert decide(1, 5, 1, 60).reset == 1


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("10.0.0.9", None, 0, "10.0.0.9"),
        ("10.0.0.9", "6.6.6.6", 0, "10.0.0.9"),  # no proxy trusted: the header is the client's lie
        ("10.0.0.9", "203.0.113.7", 1, "203.0.113.7"),
        ("10.0.0.9", "6.6.6.6, 203.0.113.7", 1, "203.0.113.7"),  # spoofed left part ignored
        ("10.0.0.9", "6.6.6.6, 203.0.113.7, 10.0.0.2", 2, "203.0.113.7"),
        ("10.0.0.9", "203.0.113.7", 2, "10.0.0.9"),  # fewer entries than proxies: ignored
        (None, None, 0, "unknown"),
    ],
)
def test_the_client_address(remote, forwarded, proxies, expected):
    assert client_address(remote, forwarded, proxies) == expected


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_in_process_windows_limit_then_start_over():
    clock = Clock()
    limiter = InProcessRateLimiter(monotonic=clock)
    sends = Limit("sends", 3, 60)
    decisions = [limiter.hit(sends, "u") for _ in range(4)]
    assert [d.allowed for d in decisions if d] == [True, True, True, False]
    assert decisions[-1] is not None and decisions[-1].reset == 60
    assert limiter.hit(sends, "other").allowed  # type: ignore[union-attr]
    clock.now += 61
    assert limiter.hit(sends, "u").allowed  # type: ignore[union-attr]
    assert limiter.stats.snapshot()["limited"] == 1


def test_a_limit_of_zero_is_off_and_a_refund_gives_a_hit_back():
    limiter = InProcessRateLimiter()
    assert limiter.hit(Limit("sends", 0, 60), "u") is None
    one = Limit("new_conversations", 1, 3600)
    assert limiter.hit(one, "u").allowed  # type: ignore[union-attr]
    limiter.refund(one, "u")
    assert limiter.hit(one, "u").allowed  # type: ignore[union-attr]
    assert not limiter.hit(one, "u").allowed  # type: ignore[union-attr]


def test_serve_defaults_and_zero_for_off():
    defaults = Settings.from_env({})
    assert defaults.rate_limit_sends_per_minute == 30
    assert defaults.rate_limit_new_conversations_per_hour == 10
    assert defaults.rate_limit_signin_per_minute == 10
    assert defaults.trusted_proxies == 0
    off = Settings.from_env(
        {
            "RATE_LIMIT_SENDS_PER_MINUTE": "0",
            "RATE_LIMIT_NEW_CONVERSATIONS_PER_HOUR": "0",
            "RATE_LIMIT_SIGNIN_PER_MINUTE": "0",
            "TRUSTED_PROXIES": "2",
        }
    )
    assert off.rate_limit_sends_per_minute == 0
    assert off.rate_limit_signin_per_minute == 0
    assert off.trusted_proxies == 2
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        Settings.from_env({"TRUSTED_PROXIES": "two"})
