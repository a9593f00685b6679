"""The demo users: fixed uuids, passwords from the settings, idempotent."""

from __future__ import annotations

from cruddur.users.models import demo_user_uuid
from cruddur.users.repository import UserRepository
from cruddur.users.seed import DEMO_USERS, seed_users


def test_seed_creates_the_seed_users_with_fixed_uuids(users: UserRepository) -> None:
    report = seed_users(users, "demo-password")

    assert len(report.created) == len(DEMO_USERS) >= 4
    andrew, bayko = users.find_by_handles(["andrewbrown", "bayko"])
    assert (andrew.display_name, bayko.display_name) == ("Andrew Brown", "Andrew Bayko")
    assert andrew.uuid == demo_user_uuid("andrewbrown")
    assert bayko.uuid == demo_user_uuid("bayko")
    assert andrew.cognito_user_id and andrew.cognito_user_id != bayko.cognito_user_id
    assert users.verify_password("andrewbrown", "demo-password") == andrew
    assert users.verify_password("bayko", "demo-password") == bayko


def test_seed_twice_keeps_the_rows_and_resets_passwords(users: UserRepository) -> None:
    seed_users(users, "first")
    andrew = users.find_by_handle("andrewbrown")
    assert andrew is not None
    users.set_cognito_user_id(andrew.uuid, "real-cognito-sub")

    again = seed_users(users, "second")

    assert again.created == []
    assert {u.handle for u in again.existing} == {d.handle for d in DEMO_USERS}
    assert users.find_by_cognito_id("real-cognito-sub") is not None
    assert users.verify_password("andrewbrown", "first") is None
    assert users.verify_password("andrewbrown", "second") is not None


def test_seed_leaves_a_user_who_signed_up_with_a_demo_handle(users: UserRepository) -> None:
    signed_up = users.create("bayko", "Bayko Himself", "real@example.com", cognito_user_id="sub-b")

    report = seed_users(users, "pw")

    assert signed_up in report.existing
    assert users.find_by_handle("bayko") == signed_up
