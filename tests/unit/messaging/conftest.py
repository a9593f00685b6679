"""Shared by the messaging use-case tests (test_services_*.py), which run on the in-memory
repository (no engine): the users, a ticking clock, the service and its fake, and row counts.
The fake and DynamoDB agree by tests/integration/messaging/test_repository_contract_*.py; what
needs the real engine (concurrency, the seed's raw items, moves) is in tests/integration."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from cruddur.messaging.errors import InvalidInput
from cruddur.messaging.fake import InMemoryMessageRepository, StaticUserDirectory
from cruddur.messaging.models import UserRef
from cruddur.messaging.services import MessagingService

START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def user(handle: str) -> UserRef:
    return UserRef(
        uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://cruddur.test/{handle}")),
        handle=handle,
        display_name=handle.title(),
    )


ALICE, BOB, CAROL = user("alice"), user("bob"), user("carol")


def ticking_clock(start: datetime = START, step: timedelta = timedelta(seconds=1)):
    """A clock that moves `step` forward on every reading: each send gets its own second."""
    counter = itertools.count()
    return lambda: start + step * next(counter)


def no_sleep(_: float) -> None:
    """Backoff skipped: the retries are tested, not their timing."""


def service_on(
    fake: InMemoryMessageRepository,
    *people: UserRef,
    clock: Callable[[], datetime] | None = None,
) -> MessagingService:
    return MessagingService(
        fake,
        StaticUserDirectory(people or (ALICE, BOB, CAROL)),
        clock=clock or ticking_clock(),
        sleep=no_sleep,
    )


@pytest.fixture
def fake() -> InMemoryMessageRepository:
    return InMemoryMessageRepository()


@pytest.fixture
def service(fake: InMemoryMessageRepository) -> MessagingService:
    return service_on(fake)


def row_counts(fake: InMemoryMessageRepository) -> dict[str, int]:
    """How many rows of each type the repository holds."""
    return {
        "pairs": len(fake.pairs),
        "groups": len(fake.groups),
        "members": sum(len(rows) for rows in fake.members.values()),
        "messages": sum(len(rows) for rows in fake.messages.values()),
        "conversations": sum(len(rows) for rows in fake.conversations.values()),
    }


EMPTY = {"pairs": 0, "groups": 0, "members": 0, "messages": 0, "conversations": 0}


def codes(excinfo: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return excinfo.value.codes
