"""Sends: a taken message key draws a new one; a put retried after a lost answer counts once."""

from __future__ import annotations

import pytest

from cruddur.messaging import retries
from cruddur.messaging.errors import ContentionExhausted
from cruddur.messaging.fake import InMemoryMessageRepository
from cruddur.messaging.models import Message, WriteOutcome

from .conftest import ALICE, BOB, service_on

# --- sends: a uuid collision draws a new key ---------------------------------------------------


class MessageKeyTaken(InMemoryMessageRepository):
    """add_message answers CONDITION_FAILED for its first `failures` calls (a uuid collision)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.tried: list[Message] = []

    def add_message(self, message: Message) -> WriteOutcome:
        self.tried.append(message)
        if len(self.tried) <= self.failures:
            return WriteOutcome.CONDITION_FAILED
        return super().add_message(message)


def test_a_taken_message_key_draws_a_new_one_and_overwrites_nothing():
    fake = MessageKeyTaken(failures=0)
    service = service_on(fake)
    group = service.open_conversation(ALICE, "bob", "hi").group_uuid
    fake.failures = 1

    sent = service.send_message(BOB, group, "hey")

    collided, stored = fake.tried
    assert collided.uuid != stored.uuid and collided.sk != stored.sk
    assert sent == stored
    assert [m.text for m in fake.all_messages(group)] == ["hi", "hey"]


def test_a_message_key_taken_on_every_attempt_gives_up_and_stores_nothing():
    fake = MessageKeyTaken(failures=0)
    service = service_on(fake)
    group = service.open_conversation(ALICE, "bob", "hi").group_uuid
    fake.failures = 10_000

    with pytest.raises(ContentionExhausted):
        service.send_message(BOB, group, "hey")

    assert len(fake.tried) == retries.MAX_ATTEMPTS
    assert [m.text for m in fake.all_messages(group)] == ["hi"]


class AnswerLostOnce(InMemoryMessageRepository):
    """The first put is stored but its answer is lost: the retried put finds it stored."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: list[WriteOutcome] = []

    def add_message(self, message: Message) -> WriteOutcome:
        outcome = super().add_message(message)
        if not self.outcomes:
            outcome = super().add_message(message)  # botocore's retry of the same put
        self.outcomes.append(outcome)
        return outcome


def test_a_message_already_stored_by_a_retried_put_is_the_sent_message():
    fake = AnswerLostOnce()
    service = service_on(fake)
    group = service.create_group(ALICE, "Club", ["bob"]).group.uuid

    sent = service.send_message(ALICE, group, "once")

    assert fake.outcomes == [WriteOutcome.ALREADY_STORED]
    assert list(fake.all_messages(group)) == [sent]
