"""The repository contract: both implementations have every method of the Protocol, with
the same parameters; and the tool-kit's describe."""

from __future__ import annotations

import inspect

import pytest

from cruddur.cache.messaging import CachedMessageRepository
from cruddur.messaging.fake import InMemoryMessageRepository
from cruddur.messaging.ports import MessageRepository
from cruddur.messaging.repository import DynamoMessageRepository

# --- both classes implement the Protocol ------------------------------------------------------


def protocol_methods() -> list[str]:
    return sorted(
        name
        for name, member in vars(MessageRepository).items()
        if callable(member) and not name.startswith("_")
    )


def test_the_contract_covers_every_method_of_the_protocol():
    # a method added to the Protocol must be added here, and to the contract below
    assert protocol_methods() == sorted(
        [
            "messages_page",
            "all_messages",
            "newest_message",
            "add_message",
            "conversations_page",
            "member_conversation_rows",
            "seed_format_groups_with",
            "get_group",
            "get_member",
            "list_members",
            "delete_member",
            "get_pair",
            "add_pair",
            "create_group",
            "group_conversation_rows",
            "replace_conversation_row",
            "put_moved_conversation_row",
            "delete_replaced_conversation_row",
            "delete_conversation_row",
            "add_members",
            "remove_member",
            "rename_group",
            "describe",
        ]
    )


@pytest.mark.parametrize(
    "implementation",
    [InMemoryMessageRepository, DynamoMessageRepository, CachedMessageRepository],
)
@pytest.mark.parametrize("name", protocol_methods())
def test_each_implementation_has_every_protocol_method_with_the_same_parameters(
    implementation: type, name: str
):
    expected = inspect.signature(getattr(MessageRepository, name))
    method = getattr(implementation, name, None)
    assert method is not None, f"{implementation.__name__} has no {name}"
    actual = inspect.signature(method)
    assert list(actual.parameters.values()) == list(expected.parameters.values())
    assert actual.return_annotation == expected.return_annotation


# --- tool-kit ---------------------------------------------------------------------------------


def test_describe_reports_an_active_table(store):
    assert store.describe()["TableStatus"] == "ACTIVE"
