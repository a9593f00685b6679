"""The HTTP contract of changing a named group: POST /api/message_groups/{uuid}/members,
DELETE /api/message_groups/{uuid}/members/@{handle}, PATCH /api/message_groups/{uuid}, and
`kind` + `members_count` on the list's items."""

from __future__ import annotations

import pytest

from cruddur.streams.processor import apply_records
from fixtures_streams import read_stream

GROUP_KEYS = {"message_group_uuid", "kind", "name", "members_count", "created_at"}


@pytest.fixture
def stream(settings, repo):
    def apply() -> None:
        assert apply_records(repo, read_stream(settings)).failures == []

    return apply


@pytest.fixture
def trio(signed_in):
    alice, bob, carol = signed_in("alice"), signed_in("bob"), signed_in("carol")
    created = alice.create_group("Club", ["bob", "carol"], "welcome")
    assert created.status == 200
    return alice, bob, carol, created.body["message_group_uuid"]


def add(client, group: str, handles) -> object:
    return client.post(f"/api/message_groups/{group}/members", {"handles": handles})


def remove(client, group: str, handle: str):
    return client.request("DELETE", f"/api/message_groups/{group}/members/@{handle}")


def rename(client, group: str, name):
    return client.request("PATCH", f"/api/message_groups/{group}", {"name": name})


def test_adding_answers_the_group_and_the_new_members(trio, signed_in):
    alice, bob, _, group = trio
    signed_in("dave")

    response = add(bob, group, ["dave", "@DAVE"])

    assert response.status == 200
    assert set(response.body) == GROUP_KEYS | {"added"}
    assert response.body["members_count"] == 4
    assert [m["handle"] for m in response.body["added"]] == ["dave"]
    assert "dave" in [m["handle"] for m in alice.members(group).body]


def test_unknown_handles_answer_404_listing_them(trio):
    alice, _, _, group = trio
    response = add(alice, group, ["nobody", "zed"])
    assert response.status == 404
    assert response.body == {"errors": ["user_not_found"], "handles": ["nobody", "zed"]}


def test_a_direct_conversation_cannot_grow(signed_in):
    alice, _ = signed_in("alice"), signed_in("bob")
    signed_in("carol")
    group = alice.send_to_handle("bob", "hi").body["message_group_uuid"]

    response = add(alice, group, ["carol"])

    assert (response.status, response.body["errors"]) == (
        422,
        ["direct_conversation_cannot_grow"],
    )
    [item] = alice.conversations().body
    assert item["kind"] == "direct" and "members_count" not in item


def test_non_members_get_404_for_every_change(trio, signed_in):
    _, _, _, group = trio
    eve = signed_in("eve")
    assert add(eve, group, ["eve"]).status == 404
    assert remove(eve, group, "eve").status == 404
    assert rename(eve, group, "Mine").status == 404


def test_wrong_types_are_400(trio):
    alice, _, _, group = trio
    assert add(alice, group, "bob").status == 400
    assert rename(alice, group, 7).status == 400


def test_leaving_answers_the_group_and_the_member_gets_404(trio, stream):
    alice, bob, carol, group = trio

    response = remove(carol, group, "carol")

    assert response.status == 200
    assert set(response.body) == GROUP_KEYS | {"removed"}
    assert (response.body["members_count"], response.body["removed"]) == (2, "carol")
    assert carol.messages(group).status == 404
    assert carol.send_to_group(group, "hello?").status == 404
    assert carol.members(group).status == 404
    assert carol.conversations().body == []
    bob.send_to_group(group, "bye carol")
    stream()
    assert carol.conversations().body == []
    [item] = alice.conversations().body
    assert (item["message"], item["members_count"]) == ("bye carol", 2)


def test_the_last_member_leaving_deletes_the_group(trio, repo, stream):
    alice, bob, carol, group = trio
    bob.send_to_group(group, "sent before everyone left")  # its stream record comes later
    assert remove(alice, group, "carol").status == 200  # the owner removes carol
    assert remove(alice, group, "alice").status == 200  # then leaves: bob owns it

    response = remove(bob, group, "bob")

    assert response.status == 200
    assert (response.body["members_count"], response.body["removed"]) == (0, "bob")
    stream()  # a late move creates no row: nobody is left to have one
    for who in (alice, bob, carol):
        assert who.conversations().body == []
        assert who.messages(group).status == 404
        assert who.send_to_group(group, "anyone?").status == 404
        assert add(who, group, ["carol"]).status == 404
    assert repo.get_group(group) is None
    assert repo.list_members(group) == []
    assert repo.group_conversation_rows(group) == []
    # the messages stay in the table, unreachable (README, "Groups")
    assert len(list(repo.all_messages(group))) == 2


def test_only_the_owner_removes_others(trio):
    alice, bob, _, group = trio
    refused = remove(bob, group, "carol")
    assert (refused.status, refused.body["errors"]) == (403, ["group_owner_only"])
    assert remove(alice, group, "carol").status == 200
    assert remove(alice, group, "carol").status == 404


def test_renaming_shows_in_every_list(trio):
    alice, bob, carol, group = trio

    response = rename(bob, group, "  Book club  ")

    assert response.status == 200
    assert set(response.body) == GROUP_KEYS
    assert response.body["name"] == "Book club"
    for client in (alice, bob, carol):
        [item] = client.conversations().body
        assert (item["display_name"], item["name"], item["kind"]) == (
            "Book club",
            "Book club",
            "group",
        )
        assert item["members_count"] == 3


def test_bad_names_are_422(trio):
    alice, _, _, group = trio
    assert rename(alice, group, " ").body["errors"] == ["group_name_blank"]
    assert rename(alice, group, "x" * 101).body["errors"] == ["group_name_exceed_max_chars"]


def test_a_member_added_later_sees_messages_from_their_joining(trio, signed_in, stream):
    alice, bob, _, group = trio
    dave = signed_in("dave")
    bob.send_to_group(group, "before dave")
    add(alice, group, ["dave"])
    stream()
    assert dave.messages(group).body == []
    [item] = dave.conversations().body
    assert (item["message"], item["members_count"]) == ("", 4)

    bob.send_to_group(group, "hi dave")
    stream()

    assert [m["message"] for m in dave.all_messages(group)] == ["hi dave"]
    assert dave.conversations().body[0]["message"] == "hi dave"


def test_cors_allows_patch_and_delete(api, trio):
    response = api.request(
        "OPTIONS",
        "/api/message_groups",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "PATCH"},
    )
    methods = response.header("Access-Control-Allow-Methods") or ""
    assert "PATCH" in methods and "DELETE" in methods
