"""Input validation of the messaging use cases: each refusal's code, and nothing stored."""

from __future__ import annotations

import pytest

from cruddur.messaging import services
from cruddur.messaging.errors import InvalidInput, UserNotFound
from cruddur.messaging.models import MAX_MESSAGE_CHARS
from cruddur.messaging.services import MessagingService

from .conftest import ALICE, BOB, EMPTY, codes, row_counts

# --- input validation: pure functions -------------------------------------------------------


@pytest.mark.parametrize(
    "text, code",
    [
        ("", "message_blank"),
        ("   \n\t", "message_blank"),
        (None, "message_blank"),
        (42, "message_blank"),
        ("x" * (MAX_MESSAGE_CHARS + 1), "message_exceed_max_chars"),
    ],
)
def test_bad_messages_are_refused_with_their_code(text, code):
    with pytest.raises(InvalidInput) as refused:
        services.clean_message(text)
    assert codes(refused) == [code]


def test_messages_count_code_points_after_trimming():
    emoji = "\N{GRINNING FACE}" * MAX_MESSAGE_CHARS
    assert services.clean_message(f"  {emoji}  ") == emoji


@pytest.mark.parametrize("value", ["../../etc", "", None, 42, "5ae290ed", "' OR 1=1 --"])
def test_malformed_group_uuids_are_invalid_input(value):
    with pytest.raises(InvalidInput) as refused:
        services.clean_group_uuid(value)
    assert codes(refused) == ["message_group_uuid_invalid"]


def test_group_uuids_are_canonicalised():
    assert (
        services.clean_group_uuid("5AE290ED-55D1-47A0-BC6D-FE2BC2700399")
        == "5ae290ed-55d1-47a0-bc6d-fe2bc2700399"
    )


@pytest.mark.parametrize("cursor", ["%%%", "!!!", "e30", "bm90IGpzb24"])
def test_malformed_cursors_are_invalid_input(cursor):
    with pytest.raises(InvalidInput) as refused:
        services.clean_cursor(cursor)
    assert codes(refused) == ["cursor_invalid"]


@pytest.mark.parametrize("cursor", [None, ""])
def test_no_cursor_means_the_first_page(cursor):
    assert services.clean_cursor(cursor) is None


# --- input validation through the use cases ---------------------------------------------------


def test_a_message_of_the_maximum_length_is_sent_and_one_more_character_is_refused(service, fake):
    group = service.open_conversation(ALICE, "bob", "hi").group_uuid
    longest = "x" * MAX_MESSAGE_CHARS

    sent = service.send_message(ALICE, group, longest)
    with pytest.raises(InvalidInput) as refused:
        service.send_message(ALICE, group, longest + "x")

    assert codes(refused) == ["message_exceed_max_chars"]
    assert sent.text == longest
    assert [m.text for m in fake.all_messages(group)] == ["hi", longest]


def test_sends_are_stored_trimmed(service, fake):
    opened = service.open_conversation(ALICE, "@bob", "  hi  ")
    reply = service.send_message(BOB, opened.group_uuid, "\n hey \t")
    assert (opened.message.text, reply.text) == ("hi", "hey")
    assert [m.text for m in fake.all_messages(opened.group_uuid)] == ["hi", "hey"]


@pytest.mark.parametrize("use_case", ["list_messages", "send_message", "list_members"])
def test_every_group_use_case_refuses_a_malformed_group_uuid(service, use_case):
    call = {
        "list_messages": lambda: service.list_messages(ALICE, "../../etc"),
        "send_message": lambda: service.send_message(ALICE, "../../etc", "hi"),
        "list_members": lambda: service.list_members(ALICE, "../../etc"),
    }[use_case]
    with pytest.raises(InvalidInput) as refused:
        call()
    assert codes(refused) == ["message_group_uuid_invalid"]


def test_a_group_uuid_in_capitals_names_the_same_group(service):
    sent = service.open_conversation(ALICE, "bob", "hi")
    page = service.list_messages(BOB, sent.group_uuid.upper())
    assert [m.uuid for m in page.items] == [sent.message.uuid]


def test_a_malformed_cursor_is_refused_by_both_listings(service):
    group = service.open_conversation(ALICE, "bob", "hi").group_uuid
    with pytest.raises(InvalidInput) as conversations:
        service.list_conversations(ALICE, cursor="%%%")
    with pytest.raises(InvalidInput) as messages:
        service.list_messages(ALICE, group, cursor="%%%")
    assert codes(conversations) == codes(messages) == ["cursor_invalid"]


@pytest.mark.parametrize("handle", ["", "  ", "@", " @ ", None, 42])
def test_a_blank_recipient_handle_is_refused_and_nothing_is_stored(service, fake, handle):
    with pytest.raises(InvalidInput) as refused:
        service.open_conversation(ALICE, handle, "hi")
    assert codes(refused) == ["user_receiver_handle_blank"]
    assert row_counts(fake) == EMPTY


@pytest.mark.parametrize("handle", ["alice", "@alice", "@Alice", " ALICE "])
def test_messaging_yourself_is_refused_and_nothing_is_stored(service, fake, handle):
    with pytest.raises(InvalidInput) as refused:
        service.open_conversation(ALICE, handle, "hi")
    assert codes(refused) == ["cannot_message_self"]
    assert row_counts(fake) == EMPTY


def test_messaging_yourself_by_user_is_refused(service, fake):
    with pytest.raises(InvalidInput) as refused:
        service.open_conversation_with(ALICE, ALICE, "hi")
    assert codes(refused) == ["cannot_message_self"]
    assert row_counts(fake) == EMPTY


def test_an_unknown_handle_is_user_not_found_and_nothing_is_stored(service, fake):
    with pytest.raises(UserNotFound, match="nobody"):
        service.open_conversation(ALICE, "@nobody", "hi")
    assert row_counts(fake) == EMPTY


def test_a_blank_first_message_is_refused_before_the_recipient_is_looked_up(service, fake):
    with pytest.raises(InvalidInput) as refused:
        service.open_conversation(ALICE, "nobody", "   ")
    assert codes(refused) == ["message_blank"]
    assert row_counts(fake) == EMPTY


def test_opening_a_conversation_needs_a_user_directory(fake):
    without = MessagingService(fake)
    with pytest.raises(RuntimeError, match="user directory"):
        without.open_conversation(ALICE, "bob", "hi")
    assert row_counts(fake) == EMPTY
