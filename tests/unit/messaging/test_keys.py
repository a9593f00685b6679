"""Keys, timestamps and cursors: pure code, no engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cruddur.messaging import keys

moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 31), timezones=st.just(UTC)
)


@given(moments, moments)
def test_timestamp_text_order_is_time_order(a: datetime, b: datetime) -> None:
    ta, tb = keys.format_timestamp(a), keys.format_timestamp(b)
    assert len(ta) == len(tb) == keys.TIMESTAMP_LENGTH
    assert (ta < tb) == (a < b)


def test_timestamps_are_utc_with_microseconds_whatever_the_input_zone() -> None:
    moment = datetime(2026, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert keys.format_timestamp(moment) == "2025-12-31T23:30:00.000000+00:00"


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(keys.InvalidKey):
        keys.format_timestamp(datetime(2026, 1, 1))


def test_seed_timestamps_are_normalised() -> None:
    assert (
        keys.normalize_timestamp("2023-04-01T10:00:00+00:00") == "2023-04-01T10:00:00.000000+00:00"
    )
    assert (
        keys.normalize_timestamp("2023-04-01T12:00:00.5+02:00")
        == "2023-04-01T10:00:00.500000+00:00"
    )


def test_sort_keys_keep_the_bare_timestamp_first() -> None:
    ts = "2026-11-28T05:07:14.123456+00:00"
    assert keys.timestamp_of_sk(keys.message_sk(ts, "m")) == ts
    assert keys.timestamp_of_sk(keys.conversation_sk(ts, "g")) == ts
    assert keys.timestamp_of_sk(ts) == ts  # the seed's format


def test_pair_key_is_the_same_from_either_side() -> None:
    assert keys.pair_pk("b", "a") == keys.pair_pk("a", "b") == "PAIR#a#b"


@given(st.text(min_size=1, max_size=150))
def test_cursor_round_trips(sk: str) -> None:
    assert keys.decode_cursor(keys.encode_cursor(sk)) == sk


@pytest.mark.parametrize("cursor", ["", "!!!", "e30", "eyJzayI6MX0", "bm90IGpzb24"])
def test_malformed_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(keys.InvalidKey):
        keys.decode_cursor(cursor)


def test_uuids_are_canonicalised_or_refused() -> None:
    assert (
        keys.parse_uuid("5AE290ED-55D1-47A0-BC6D-FE2BC2700399")
        == "5ae290ed-55d1-47a0-bc6d-fe2bc2700399"
    )
    for bad in ("nonsense", "", "5ae290ed", "' OR 1=1 --"):
        with pytest.raises(keys.InvalidKey):
            keys.parse_uuid(bad)


def test_shown_timestamps_are_utc_whatever_the_seed_wrote() -> None:
    assert keys.shown_timestamp("2023-04-01T12:00:00+02:00") == "2023-04-01T10:00:00.000000+00:00"
    assert keys.shown_timestamp("2023-04-01T10:00:00.5") == "2023-04-01T10:00:00.500000+00:00"
    ours = keys.message_sk("2026-11-28T05:07:14.123456+00:00", "m")
    assert keys.shown_timestamp(ours) == "2026-11-28T05:07:14.123456+00:00"
    assert keys.shown_timestamp("not a time") == "not a time"
