"""The users repository against a real PostgreSQL (see tests/fixtures_postgres.py)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import psycopg
import pytest
from argon2 import PasswordHasher
from psycopg_pool import ConnectionPool

from cruddur.users.db import APPLICATION_NAME, database_name
from cruddur.users.errors import (
    DuplicateCognitoUserId,
    DuplicateHandle,
    DuplicateUser,
    InvalidUserInput,
    UserNotFound,
)
from cruddur.users.models import User, demo_user_uuid
from cruddur.users.repository import UserRepository
from fixtures_postgres import TEST_PASSWORD_HASHER


def count_users(pool: ConnectionPool) -> int:
    with pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM users").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def andrew(users: UserRepository) -> User:
    return users.create(
        "andrewbrown",
        "Andrew Brown",
        "andrew@example.com",
        cognito_user_id="sub-andrew",
        uuid=demo_user_uuid("andrewbrown"),
    )


def test_create_returns_the_stored_user(users: UserRepository) -> None:
    user = users.create("bayko", "Andrew Bayko", "bayko@example.com")

    assert uuid.UUID(user.uuid)
    assert (user.handle, user.display_name, user.email) == (
        "bayko",
        "Andrew Bayko",
        "bayko@example.com",
    )
    assert user.cognito_user_id is None
    assert user.created_at.tzinfo is not None
    assert users.find_by_uuid(user.uuid) == user


def test_create_keeps_a_given_uuid(andrew: User) -> None:
    assert andrew.uuid == demo_user_uuid("andrewbrown")


def test_find_by_handle_ignores_case_and_a_leading_at(users: UserRepository, andrew: User) -> None:
    assert users.find_by_handle("andrewbrown") == andrew
    assert users.find_by_handle("AndrewBrown") == andrew
    assert users.find_by_handle("@andrewbrown") == andrew
    assert users.find_by_handle("  @ANDREWBROWN ") == andrew
    assert users.find_by_handle("nobody") is None
    assert users.find_by_handle("") is None
    assert users.find_by_handle("@") is None


def test_find_by_handles_keeps_the_order_asked_and_skips_unknown(users: UserRepository) -> None:
    a = users.create("alice", "Alice", "alice@example.com")
    b = users.create("bob", "Bob", "bob@example.com")

    found = users.find_by_handles(["@BOB", "nobody", "alice", "bob"])

    assert found == [b, a]
    assert users.find_by_handles([]) == []
    assert users.find_by_handles(["", "@"]) == []


def test_find_by_uuid(users: UserRepository, andrew: User) -> None:
    assert users.find_by_uuid(andrew.uuid) == andrew
    assert users.find_by_uuid(andrew.uuid.upper()) == andrew
    assert users.find_by_uuid(str(uuid.uuid4())) is None


@pytest.mark.parametrize("malformed", ["", "not-a-uuid", "1234", "' OR 1=1 --", "g" * 32])
def test_find_by_uuid_answers_none_for_a_malformed_uuid(
    users: UserRepository, andrew: User, malformed: str
) -> None:
    assert users.find_by_uuid(malformed) is None


def test_find_by_cognito_id(users: UserRepository, andrew: User) -> None:
    assert users.find_by_cognito_id("sub-andrew") == andrew
    assert users.find_by_cognito_id("sub-other") is None
    assert users.find_by_cognito_id("") is None


def test_find_by_email_is_case_insensitive(users: UserRepository, andrew: User) -> None:
    assert users.find_by_email("ANDREW@example.com") == [andrew]
    assert users.find_by_email("nobody@example.com") == []


def test_duplicate_handle_is_refused_whatever_the_case_and_nothing_is_written(
    users: UserRepository, user_pool: ConnectionPool, andrew: User
) -> None:
    with pytest.raises(DuplicateHandle) as raised:
        users.create("@AndrewBrown", "Someone Else", "else@example.com", cognito_user_id="sub-else")

    assert "@AndrewBrown" in str(raised.value)
    assert count_users(user_pool) == 1
    assert users.find_by_cognito_id("sub-else") is None


def test_duplicate_cognito_id_and_uuid_are_refused(users: UserRepository, andrew: User) -> None:
    with pytest.raises(DuplicateCognitoUserId):
        users.create("other", "Other", "other@example.com", cognito_user_id="sub-andrew")
    with pytest.raises(DuplicateUser):
        users.create("other", "Other", "other@example.com", uuid=andrew.uuid)
    assert users.find_by_handle("other") is None


def test_concurrent_creates_of_one_handle_make_one_user(
    users: UserRepository, user_pool: ConnectionPool
) -> None:
    def attempt(i: int) -> str:
        try:
            users.create("racer", f"Racer {i}", f"racer{i}@example.com")
            return "created"
        except DuplicateHandle:
            return "duplicate"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(attempt, range(8)))

    assert outcomes.count("created") == 1
    assert count_users(user_pool) == 1


@pytest.mark.parametrize(
    ("handle", "display_name", "email", "code"),
    [
        ("", "Name", "a@example.com", "handle_blank"),
        ("has space", "Name", "a@example.com", "handle_invalid"),
        ("x" * 65, "Name", "a@example.com", "handle_too_long"),
        ("ok", "   ", "a@example.com", "display_name_blank"),
        ("ok", "Name", "not-an-email", "email_invalid"),
    ],
)
def test_create_refuses_invalid_input(
    users: UserRepository, user_pool: ConnectionPool, handle, display_name, email, code
) -> None:
    with pytest.raises(InvalidUserInput) as raised:
        users.create(handle, display_name, email)
    assert raised.value.code == code
    assert count_users(user_pool) == 0


SQL_LOOKING = "robert'); DROP TABLE users; --"


def test_a_sql_looking_handle_stays_data(users: UserRepository, andrew: User) -> None:
    assert users.find_by_handle(SQL_LOOKING) is None
    assert users.find_by_handles([SQL_LOOKING, "andrewbrown"]) == [andrew]
    assert users.find_by_cognito_id(SQL_LOOKING) is None
    assert users.verify_password(SQL_LOOKING, "x") is None
    with pytest.raises(InvalidUserInput):
        users.create(SQL_LOOKING, "Bobby Tables", "bobby@example.com")

    renamed = users.update_display_name(andrew.uuid, SQL_LOOKING)

    assert renamed.display_name == SQL_LOOKING
    assert users.find_by_handle("andrewbrown") == renamed


def test_update_display_name(users: UserRepository, andrew: User) -> None:
    updated = users.update_display_name(andrew.uuid, "  Andrew   B.  ")

    assert updated.display_name == "Andrew B."
    assert updated.uuid == andrew.uuid
    assert users.find_by_uuid(andrew.uuid) == updated
    with pytest.raises(UserNotFound):
        users.update_display_name(str(uuid.uuid4()), "Nobody")
    with pytest.raises(UserNotFound):
        users.update_display_name("not-a-uuid", "Nobody")
    with pytest.raises(InvalidUserInput):
        users.update_display_name(andrew.uuid, "")


def test_set_cognito_user_id(users: UserRepository, andrew: User) -> None:
    bayko = users.create("bayko", "Andrew Bayko", "bayko@example.com")

    users.set_cognito_user_id(bayko.uuid, "sub-bayko")

    assert users.find_by_cognito_id("sub-bayko") == User(
        **{**bayko.__dict__, "cognito_user_id": "sub-bayko"}
    )
    with pytest.raises(DuplicateCognitoUserId):
        users.set_cognito_user_id(bayko.uuid, "sub-andrew")
    assert users.find_by_cognito_id("sub-andrew") == andrew
    with pytest.raises(UserNotFound):
        users.set_cognito_user_id(str(uuid.uuid4()), "sub-x")


def test_password_check(users: UserRepository, andrew: User) -> None:
    users.set_password(andrew.uuid, "correct horse")

    assert users.verify_password("andrewbrown", "correct horse") == andrew
    assert users.verify_password("@ANDREWBROWN", "correct horse") == andrew
    assert users.verify_password("andrewbrown", "wrong horse") is None
    assert users.verify_password("andrewbrown", "") is None
    assert users.verify_password("nobody", "correct horse") is None

    users.set_password(andrew.uuid, "battery staple")
    assert users.verify_password("andrewbrown", "correct horse") is None
    assert users.verify_password("andrewbrown", "battery staple") == andrew


def test_the_password_is_stored_as_an_argon2_hash(
    users: UserRepository, user_pool: ConnectionPool, andrew: User
) -> None:
    users.set_password(andrew.uuid, "correct horse")

    with user_pool.connection() as conn:
        row = conn.execute("SELECT password_hash FROM user_credentials").fetchone()
    assert row is not None
    assert row[0].startswith("$argon2id$")
    assert "correct horse" not in row[0]


def test_a_user_without_password_cannot_sign_in(users: UserRepository, andrew: User) -> None:
    assert users.verify_password("andrewbrown", "") is None
    assert users.verify_password("andrewbrown", "anything") is None


def test_set_password_refuses_unknown_users_and_bad_passwords(
    users: UserRepository, andrew: User
) -> None:
    with pytest.raises(UserNotFound):
        users.set_password(str(uuid.uuid4()), "secret")
    with pytest.raises(InvalidUserInput):
        users.set_password(andrew.uuid, "")
    with pytest.raises(InvalidUserInput):
        users.set_password(andrew.uuid, "x" * 1025)
    assert users.verify_password("andrewbrown", "x" * 5000) is None


class CountingHasher(PasswordHasher):
    """The tests' argon2 parameters, counting every verification: "an unknown handle still pays
    for one" is then a count, not a stopwatch reading (bench/signin_timing.py has the figures)."""

    def __init__(self) -> None:
        super().__init__(
            time_cost=TEST_PASSWORD_HASHER.time_cost,
            memory_cost=TEST_PASSWORD_HASHER.memory_cost,
            parallelism=TEST_PASSWORD_HASHER.parallelism,
        )
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified.append(hash if isinstance(hash, str) else hash.decode())
        return super().verify(hash, password)


def test_an_unknown_handle_costs_the_same_argon2_work(
    user_pool: ConnectionPool, users: UserRepository, andrew: User
) -> None:
    users.set_password(andrew.uuid, "correct horse")
    users.create("nopassword", "No Password", "nopw@example.com")
    hasher = CountingHasher()
    counted = UserRepository(user_pool, hasher=hasher)

    assert counted.verify_password("andrewbrown", "wrong") is None
    assert counted.verify_password("nobody", "wrong") is None
    assert counted.verify_password("nopassword", "wrong") is None
    assert counted.verify_password(SQL_LOOKING, "wrong") is None

    # One argon2 verification each, and of a hash made with the same parameters: the answers
    # that reveal nothing cost what the one about a real user costs.
    assert len(hasher.verified) == 4
    params = {stored.rsplit("$", 2)[0] for stored in hasher.verified}
    assert len(params) == 1


def test_ping_reaches_the_server(users: UserRepository, postgres_url: str) -> None:
    pid = users.ping()

    # The answering process, seen from another connection: ours, on our database.
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute(
            "SELECT datname, application_name FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
    assert row == (database_name(postgres_url), APPLICATION_NAME)


@pytest.mark.parametrize("handle", ["bad\x00handle", "' OR 1=1 --", "x" * 500, "@", "a b"])
def test_text_no_handle_can_match_finds_nobody_without_an_error(users, handle):
    users.create("realuser", "Real User", "real@example.com")
    assert users.find_by_handle(handle) is None
    assert users.find_by_handles([handle, "realuser"])[0].handle == "realuser"
    assert users.verify_password(handle, "whatever") is None
    assert users.find_by_cognito_id("sub\x00") is None
    assert users.find_by_email("mail\x00@example.com") == []
