"""The processor core against DynamoDB Local: coalescing, idempotency, order, concurrency, failures,
GSI lag, crashes between writes, seed-format data, and what it costs."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from cruddur.messaging import keys
from cruddur.messaging.capacity import CapacityMeter
from cruddur.messaging.models import Message
from cruddur.messaging.repository import DynamoMessageRepository
from cruddur.messaging.services import MessagingService
from cruddur.streams.lambda_handler import handler
from cruddur.streams.moves import move_conversation_rows, move_row
from cruddur.streams.processor import apply_records
from fixtures_streams import (
    InjectedCrash,
    append,
    assert_one_row_each,
    assert_rows_at,
    conversation_rows,
    crash_after,
    gsi_lag,
    message_records,
    newest_by_group,
    read_stream,
    snapshot,
)


def burst(repo: DynamoMessageRepository, groups, people, n_groups: int = 10, n_messages: int = 100):
    """`n_groups` groups (direct and 5-member, alternating), then `n_messages` messages spread
    over them by random members; returns every message sent, group creations included."""
    rng = random.Random(5)
    sent: list[Message] = []
    for i in range(n_groups):
        a, b = people[i % len(people)], people[(i + 1 + i // len(people)) % len(people)]
        if i % 2 == 0 and a.uuid != b.uuid:
            group, first = groups.direct(a, b, f"hello {i}")
        else:
            group, first = groups.named(people[i % 3], people[3:7], f"welcome {i}")
        sent.append(first)
    by_uuid = {p.uuid: p for p in people}
    group_ids = list(groups.members)
    for j in range(n_messages):
        group = group_ids[j % len(group_ids)]
        sender = by_uuid[rng.choice(groups.members[group])]
        sent.append(append(repo, group, sender, f"message {j}"))
    return sent


def test_a_batch_of_100_messages_over_10_groups_leaves_each_row_at_its_newest(
    repo, settings, groups, people
):
    sent = burst(repo, groups, people)
    records = read_stream(settings)
    assert len(message_records(records)) == 110

    outcome = apply_records(repo, records)

    assert outcome.failures == []
    assert outcome.groups == 10
    assert_rows_at(repo, newest_by_group(sent), groups.members)


def test_twice_reversed_and_split_across_two_concurrent_runs_give_the_same_table(
    ddb, repo, settings, groups, people
):
    sent = burst(repo, groups, people)
    records = read_stream(settings)
    original = [item for items in conversation_rows(repo).values() for item in items]

    apply_records(repo, records)
    once = snapshot(repo)
    apply_records(repo, records)
    assert snapshot(repo) == once

    restore(repo, original)
    apply_records(repo, list(reversed(records)))
    assert snapshot(repo) == once

    restore(repo, original)
    shuffled = list(records)
    random.Random(7).shuffle(shuffled)
    halves = [shuffled[::2], shuffled[1::2]]
    barrier = threading.Barrier(2)
    failures: list[Any] = []

    def run(half: list[dict[str, Any]]) -> None:
        barrier.wait()
        failures.extend(apply_records(DynamoMessageRepository(ddb, repo.table), half).failures)

    threads = [threading.Thread(target=run, args=(half,)) for half in halves]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert snapshot(repo) == once
    assert_rows_at(repo, newest_by_group(sent), groups.members)


def restore(repo: DynamoMessageRepository, original: list[dict[str, Any]]) -> None:
    """Put the conversation rows back as they were before any processing."""
    for items in conversation_rows(repo).values():
        for item in items:
            repo.client.delete_item(TableName=repo.table, Key={"pk": item["pk"], "sk": item["sk"]})
    for item in original:
        repo.client.put_item(TableName=repo.table, Item=item)


def test_many_processors_on_one_group_at_once_leave_one_row_per_member_at_the_newest(
    ddb, repo, groups, alice, bob, carol
):
    group, _ = groups.named(alice, [bob, carol])
    messages = [append(repo, group, alice, f"m{i}") for i in range(12)]
    errors: list[BaseException] = []

    def move(message: Message) -> None:
        try:
            move_conversation_rows(DynamoMessageRepository(ddb, repo.table), message)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=move, args=(m,)) for m in reversed(messages)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert_rows_at(repo, {group: messages[-1]}, groups.members)


def test_a_poison_record_is_reported_while_the_rest_apply(
    repo, settings, groups, alice, bob, carol
):
    group_a, _ = groups.direct(alice, bob)
    group_b, _ = groups.direct(alice, carol)
    last_a = append(repo, group_a, bob, "to a")
    last_b = append(repo, group_b, carol, "to b")
    records = message_records(read_stream(settings))
    poison = {
        "eventID": "poison",
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x",
        "dynamodb": {
            "Keys": {"pk": {"S": "MSG#not-a-uuid"}, "sk": {"S": "yesterday"}},
            "NewImage": {
                "pk": {"S": "MSG#not-a-uuid"},
                "sk": {"S": "yesterday"},
                "message": {"S": "?"},
            },
            "SequenceNumber": "000000000000000000002",
            "StreamViewType": "NEW_IMAGE",
        },
    }
    no_image = {
        "eventName": "INSERT",
        "dynamodb": {
            "Keys": {
                "pk": {"S": f"MSG#{group_a}"},
                "sk": {"S": "2020-01-01T00:00:00.000000+00:00"},
            },
            "SequenceNumber": "000000000000000000003",
            "StreamViewType": "KEYS_ONLY",
        },
    }
    event = {"Records": [records[0], poison, *records[1:], no_image]}

    answer = handler(event, None, repo=repo)

    assert answer == {
        "batchItemFailures": [
            {"itemIdentifier": "000000000000000000002"},
            {"itemIdentifier": "000000000000000000003"},
        ]
    }
    assert_rows_at(repo, {group_a: last_a, group_b: last_b}, groups.members)


def test_a_group_that_cannot_be_moved_fails_only_its_own_records(
    own_client, repo, settings, groups, alice, bob, carol
):
    group_a, _ = groups.direct(alice, bob)
    group_b, _ = groups.direct(alice, carol)
    append(repo, group_a, bob, "to a")
    last_b = append(repo, group_b, carol, "to b")
    records = message_records(read_stream(settings))
    failing = DynamoMessageRepository(own_client, repo.table)

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if params.get("ExpressionAttributeValues", {}).get(":g", {}).get("S") == group_a:
            raise RuntimeError("injected: this group's reads fail")

    own_client.meta.events.register("before-parameter-build.dynamodb.Query", refuse)
    try:
        outcome = apply_records(failing, records)
    finally:
        own_client.meta.events.unregister("before-parameter-build.dynamodb.Query", refuse)

    group_a_seqs = {
        r["dynamodb"]["SequenceNumber"]
        for r in records
        if r["dynamodb"]["Keys"]["pk"]["S"] == keys.message_pk(group_a)
    }
    assert set(outcome.failed_sequence_numbers) == group_a_seqs
    assert_rows_at(repo, {group_b: last_b}, groups.members)


def test_skips_everything_but_message_inserts(repo, settings, groups, alice, bob):
    group, first = groups.direct(alice, bob)
    records = read_stream(settings)
    others = [r for r in records if r not in message_records(records)]
    assert others, "group creation writes pair, metadata, membership and conversation rows"
    remove = {
        "eventName": "REMOVE",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {
            "Keys": {"pk": {"S": keys.message_pk(group)}, "sk": {"S": first.sk}},
            "SequenceNumber": "9",
        },
    }
    outcome = apply_records(repo, [*others, remove])
    assert outcome.failures == []
    assert outcome.messages == 0


@pytest.mark.parametrize("kind", ["direct", "named"])
def test_a_row_the_gsi_did_not_show_is_still_moved(
    own_client, repo, groups, alice, bob, carol, kind
):
    if kind == "direct":
        group, _ = groups.direct(alice, bob)
    else:
        group, _ = groups.named(alice, [bob, carol])
    message = append(repo, group, alice, "after the index lags")
    lagging = DynamoMessageRepository(own_client, repo.table)

    with gsi_lag(
        own_client, lambda item: item["pk"]["S"] == keys.conversation_pk(bob.uuid)
    ) as hidden:
        move_conversation_rows(lagging, message)

    assert {i["pk"]["S"] for i in hidden} == {keys.conversation_pk(bob.uuid)}, "the lag happened"
    assert_rows_at(repo, {group: message}, groups.members)


@pytest.mark.parametrize("kind", ["direct", "named"])
def test_an_index_that_shows_no_row_at_all_still_moves_every_row(
    own_client, repo, groups, alice, bob, carol, kind
):
    if kind == "direct":
        group, _ = groups.direct(alice, bob)
    else:
        group, _ = groups.named(alice, [bob, carol])
    message = append(repo, group, bob, "nobody in the index yet")
    lagging = DynamoMessageRepository(own_client, repo.table)

    with gsi_lag(own_client, lambda item: True) as hidden:
        move_conversation_rows(lagging, message)

    hidden_owners = {keys.user_uuid_from_conversation_pk(i["pk"]["S"]) for i in hidden}
    assert hidden_owners == set(groups.members[group]), "the index hid every member's row"

    assert_rows_at(repo, {group: message}, groups.members)


def test_an_index_showing_a_row_that_already_moved_changes_nothing(
    own_client, repo, groups, alice, bob
):
    group, _ = groups.direct(alice, bob)
    older = append(repo, group, alice, "older")
    stale = repo.group_conversation_rows(group)  # as the index shows them now
    newest = append(repo, group, bob, "newest")
    move_conversation_rows(repo, newest)

    for row in stale:
        move_row(repo, row, older)

    assert_rows_at(repo, {group: newest}, groups.members)


def test_a_crash_right_after_the_transaction_of_a_named_groups_move_loses_no_row(
    own_client, repo, settings, groups, alice, bob, carol
):
    named, _ = groups.named(alice, [bob, carol])
    newest = {named: append(repo, named, carol, "named")}
    records = message_records(read_stream(settings))
    crashing = DynamoMessageRepository(own_client, repo.table)

    with crash_after(own_client, "TransactWriteItems") as crashed:
        with pytest.raises(InjectedCrash):
            move_conversation_rows(crashing, newest[named])
    assert crashed
    assert_one_row_each(repo)
    for member in groups.members[named]:
        assert conversation_rows(repo)[(member, named)], "no row lost"

    # the same crash in the middle of a batch: reported, and a replay converges
    with crash_after(own_client, "TransactWriteItems", times=2):
        outcome = apply_records(crashing, records, parallel_groups=1)
    assert outcome.failures
    assert_one_row_each(repo)
    assert apply_records(repo, records).failures == []
    assert_rows_at(repo, newest, groups.members)


@pytest.mark.parametrize("after", ["PutItem", "DeleteItem"])
def test_a_crash_between_or_after_the_two_writes_of_a_direct_move_loses_no_row_and_shows_once(
    own_client, repo, settings, groups, alice, bob, after
):
    direct, _ = groups.direct(alice, bob)
    newest = {direct: append(repo, direct, bob, "direct")}
    records = message_records(read_stream(settings))
    crashing = DynamoMessageRepository(own_client, repo.table)

    with crash_after(own_client, after) as crashed:
        outcome = apply_records(crashing, records, parallel_groups=1)
    assert crashed
    assert outcome.failures, "the crash is reported: the batch is retried"
    rows = conversation_rows(repo)
    for member in (alice, bob):
        assert rows[(member.uuid, direct)], "no row lost"
        (listed,) = MessagingService(repo).list_conversations(member).items
        assert listed.group_uuid == direct
    extra = [m for m in (alice, bob) if len(rows[(m.uuid, direct)]) == 2]
    assert len(extra) == (1 if after == "PutItem" else 0)
    for member in extra:  # the list shows the newest of the two, at the message
        (listed,) = MessagingService(repo).list_conversations(member).items
        assert listed.last_message_sk == newest[direct].sk

    assert apply_records(repo, records).failures == []
    assert_rows_at(repo, newest, groups.members)


def test_a_half_done_move_by_another_tool_is_cleaned_up(repo, groups, alice, bob):
    """A non-transactional writer that crashed between put-new and delete-old leaves two rows
    for one group: the next message leaves exactly one, at the newest."""
    group, first = groups.direct(alice, bob)
    row = conversation_rows(repo)[(alice.uuid, group)][0]
    copy = dict(row)
    copy["sk"] = {"S": keys.conversation_sk("2099-01-01T00:00:00.000000+00:00", group)}
    copy["last_message_sk"] = {"S": first.sk + "~copy"}
    repo.client.put_item(TableName=repo.table, Item=copy)
    message = append(repo, group, bob, "after the duplicate")

    move_conversation_rows(repo, message)

    assert_one_row_each(repo)
    rows = conversation_rows(repo)
    assert rows[(bob.uuid, group)][0]["last_message_sk"]["S"] == message.sk


def seed_rows(repo: DynamoMessageRepository, group: str, a, b, timestamps: list[str]) -> None:
    """A conversation as the seed's tools wrote it: bare-timestamp message keys, conversation rows
    without kind or last_message_sk, no GROUP#/PAIR# rows."""
    for owner, other in ((a, b), (b, a)):
        repo.client.put_item(
            TableName=repo.table,
            Item={
                "pk": {"S": keys.conversation_pk(owner.uuid)},
                "sk": {"S": timestamps[0]},
                "message_group_uuid": {"S": group},
                "message": {"S": "seed start"},
                "user_uuid": {"S": other.uuid},
                "user_display_name": {"S": other.display_name},
                "user_handle": {"S": other.handle},
            },
        )
    for i, ts in enumerate(timestamps):
        sender = (a, b)[i % 2]
        repo.client.put_item(
            TableName=repo.table,
            Item={
                "pk": {"S": keys.message_pk(group)},
                "sk": {"S": ts},
                "message_uuid": {"S": keys.new_uuid()},
                "message": {"S": f"seed {i}"},
                "user_uuid": {"S": sender.uuid},
                "user_display_name": {"S": sender.display_name},
                "user_handle": {"S": sender.handle},
            },
        )


@pytest.mark.parametrize("lag", [False, True])
def test_seed_format_rows_are_processed_like_ours(own_client, repo, settings, alice, bob, lag):
    group = keys.new_uuid()
    stamps = [
        "2023-03-18T19:17:50.123456+00:00",
        "2023-03-18T19:18:50.123456+00:00",
        "2023-03-18T19:19:50.123456",  # the seed's naive isoformat: read as UTC
    ]
    seed_rows(repo, group, alice, bob, stamps)
    records = message_records(read_stream(settings))
    processor = DynamoMessageRepository(own_client, repo.table)

    hide = (
        (lambda item: item["pk"]["S"] == keys.conversation_pk(bob.uuid))
        if lag
        else (lambda _: False)
    )
    with gsi_lag(own_client, hide):
        outcome = apply_records(processor, list(reversed(records)))

    assert outcome.failures == []
    rows = conversation_rows(repo)
    for owner, other in ((alice, bob), (bob, alice)):
        (row,) = rows[(owner.uuid, group)]
        assert row["message"]["S"] == "seed 2"
        assert row["last_message_sk"]["S"] == stamps[2]
        assert row["sk"]["S"] == keys.conversation_sk("2023-03-18T19:19:50.123456+00:00", group)
        assert row["user_uuid"]["S"] == other.uuid  # a direct row keeps showing the other party
    listed = MessagingService(repo).list_conversations(bob).items
    assert [c.message for c in listed] == ["seed 2"]


def test_a_named_group_row_shows_the_last_sender(repo, settings, groups, alice, bob, carol):
    group, _ = groups.named(alice, [bob, carol])
    append(repo, group, bob, "from bob")
    last = append(repo, group, carol, "from carol")
    apply_records(repo, read_stream(settings))
    for member in groups.members[group]:
        (row,) = conversation_rows(repo)[(member, group)]
        assert row["user_uuid"]["S"] == carol.uuid
        assert row["message"]["S"] == last.text


def price_of_batch(own_client, repo: DynamoMessageRepository, records) -> float:
    meter = CapacityMeter().attach(own_client)
    try:
        outcome = apply_records(DynamoMessageRepository(own_client, repo.table), records)
    finally:
        meter.detach(own_client)
    assert outcome.failures == []
    return meter.total


def test_a_batch_costs_one_index_query_and_one_move_per_member(
    own_client, repo, settings, groups, alice, bob, carol
):
    direct, _ = groups.direct(alice, bob)
    for i in range(20):
        append(repo, direct, (alice, bob)[i % 2], f"{i}")
    records = read_stream(settings)
    # GSI query 0.5 + two moves in two writes (put 1+1, conditional delete 1+1): 8.5, whatever
    # the count (the seed's way: 4 per row for each message)
    assert price_of_batch(own_client, repo, records) == 8.5
    # the same batch again: every row is current, only the index query is paid
    assert price_of_batch(own_client, repo, records) == 0.5

    named, _ = groups.named(alice, [bob, carol])
    append(repo, named, carol, "hi")
    fresh = [r for r in read_stream(settings) if r not in records]
    # + the metadata read (1) that checks the index showed every member; a named group's rows
    # move in one transaction each (delete 2+1, put 2+1)
    assert price_of_batch(own_client, repo, fresh) == 0.5 + 1 + 3 * 6
