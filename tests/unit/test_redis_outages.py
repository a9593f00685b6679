"""The one policy for Redis outages (cruddur.redis_outages), driven by a clock of our own: fail
fast through the pause, try again after it, report each outage's start and end once."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis

from cruddur.redis_outages import PAUSE_SECONDS, RedisOutageGuard


@dataclass
class Seen:
    now: float = 100.0
    skipped: int = 0
    started: list[str] = field(default_factory=list)
    ended: int = 0
    calls: int = 0

    def guard(self) -> RedisOutageGuard:
        def skipped() -> None:
            self.skipped += 1

        def ended() -> None:
            self.ended += 1

        return RedisOutageGuard(
            skipped=skipped,
            outage_started=lambda exc: self.started.append(str(exc)),
            outage_ended=ended,
            monotonic=lambda: self.now,
        )

    def failing(self) -> str:
        self.calls += 1
        raise redis.ConnectionError("refused")

    def answering(self) -> str:
        self.calls += 1
        return "answer"


def test_an_outage_is_reported_once_and_skipped_without_a_round_trip_during_the_pause():
    seen = Seen()
    guard = seen.guard()

    assert guard.run(seen.failing, "default") == "default"
    assert guard.run(seen.answering, "default") == "default"  # paused: not tried
    seen.now += PAUSE_SECONDS / 2
    assert guard.run(seen.answering, "default") == "default"

    assert seen.calls == 1
    assert seen.skipped == 3
    assert seen.started == ["refused"]
    assert seen.ended == 0


def test_after_the_pause_a_failure_continues_the_outage_and_a_success_ends_it_once():
    seen = Seen()
    guard = seen.guard()
    guard.run(seen.failing, None)
    seen.now += PAUSE_SECONDS
    guard.run(seen.failing, None)  # still down: the same outage, paused again
    seen.now += PAUSE_SECONDS

    assert guard.run(seen.answering, "default") == "answer"
    assert guard.run(seen.answering, "default") == "answer"

    assert seen.calls == 4
    assert seen.started == ["refused"]
    assert seen.ended == 1


def test_marking_down_from_outside_pauses_and_says_whether_an_outage_starts():
    seen = Seen()
    guard = seen.guard()

    assert guard.mark_down() is True
    assert guard.mark_down() is False
    assert guard.run(seen.answering, "default") == "default"
    assert seen.calls == 0
    seen.now += PAUSE_SECONDS
    assert guard.run(seen.answering, "default") == "answer"
    assert seen.ended == 1


def test_without_failures_nothing_is_skipped_or_reported():
    seen = Seen()
    guard = seen.guard()

    assert [guard.run(seen.answering, None) for _ in range(3)] == ["answer"] * 3
    assert (seen.skipped, seen.started, seen.ended) == (0, [], 0)
