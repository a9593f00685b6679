"""The cached messages repository over the fake and the in-process back end: what is cached, what
each write drops, and that a fill racing a change never puts older data back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cruddur.cache.memory import InProcessCache
from cruddur.cache.messaging import CachedMessageRepository
from cruddur.messaging.fake import InMemoryMessageRepository, StaticUserDirectory
from cruddur.messaging.models import Conversation, Member, UserRef
from cruddur.messaging.services import MessagingService
from cruddur.streams.moves import move_conversation_rows

ALICE = UserRef("00000000-0000-4000-8000-00000000000a", "alice", "Alice")
BOB = UserRef("00000000-0000-4000-8000-00000000000b", "bob", "Bob")
CAROL = UserRef("00000000-0000-4000-8000-00000000000c", "carol", "Carol")


class CountingRepository(InMemoryMessageRepository):
    """The fake, counting the reads a cache should spare it."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.reads[name] = self.reads.get(name, 0) + 1

    def get_member(self, group_uuid: str, user_uuid: str) -> Member | None:
        self._count("get_member")
        return super().get_member(group_uuid, user_uuid)

    def messages_page(self, group_uuid, limit, cursor, consistent=False):
        self._count("messages_page")
        return super().messages_page(group_uuid, limit, cursor, consistent)

    def conversations_page(self, owner_uuid, limit, cursor, consistent=False):
        self._count("conversations_page")
        return super().conversations_page(owner_uuid, limit, cursor, consistent)


def ticking(start: datetime):
    moments = iter(start + timedelta(seconds=i) for i in range(10_000))
    return lambda: next(moments)


@pytest.fixture
def inner() -> CountingRepository:
    return CountingRepository()


@pytest.fixture
def cache() -> InProcessCache:
    return InProcessCache()


@pytest.fixture
def cached(inner, cache) -> CachedMessageRepository:
    return CachedMessageRepository(inner, cache)


@pytest.fixture
def service(cached) -> MessagingService:
    directory = StaticUserDirectory([ALICE, BOB, CAROL])
    return MessagingService(cached, directory, clock=ticking(datetime(2026, 5, 1, tzinfo=UTC)))


def test_a_repeated_read_is_answered_from_the_cache(service, inner, cache):
    group = service.open_conversation_with(ALICE, BOB, "hi").group_uuid
    inner.reads.clear()

    for _ in range(3):
        service.list_messages(ALICE, group)
        service.list_conversations(ALICE)

    assert inner.reads == {"get_member": 1, "messages_page": 1, "conversations_page": 1}
    assert cache.stats.hits == 6 and cache.stats.misses == 3


def test_a_warm_send_reads_nothing(service, inner):
    group = service.open_conversation_with(ALICE, BOB, "hi").group_uuid
    service.send_message(ALICE, group, "warming up")
    inner.reads.clear()

    service.send_message(ALICE, group, "warm")

    assert inner.reads == {}


def test_the_sender_sees_their_message_at_once(service):
    group = service.open_conversation_with(ALICE, BOB, "hi").group_uuid
    assert [m.text for m in service.list_messages(ALICE, group).items] == ["hi"]  # cached now

    service.send_message(ALICE, group, "and again")

    assert [m.text for m in service.list_messages(ALICE, group).items] == ["hi", "and again"]


def test_a_moved_row_shows_in_the_owners_list(service, cached):
    group = service.open_conversation_with(ALICE, BOB, "hi").group_uuid
    assert service.list_conversations(BOB).items[0].message == "hi"  # cached now

    reply = service.send_message(ALICE, group, "news")
    move_conversation_rows(cached, reply)

    assert service.list_conversations(BOB).items[0].message == "news"


def test_a_row_written_by_another_tool_shows_after_its_stream_record(service, cached, inner):
    service.open_conversation_with(ALICE, BOB, "hi")
    assert len(service.list_conversations(ALICE).items) == 1  # cached now
    seed_row = Conversation(
        owner_uuid=ALICE.uuid,
        group_uuid="6f1d2c9e-0000-4000-8000-000000000001",
        user_uuid=CAROL.uuid,
        handle="carol",
        display_name="Carol",
        message="from the seed's script",
        last_reply_at="2026-05-02T00:00:00.000000+00:00",
        sk="2026-05-02T00:00:00.000000+00:00",
        kind_recorded=False,
    )
    inner.put_conversation_row(seed_row)
    assert len(service.list_conversations(ALICE).items) == 1  # the cache does not know yet

    cached.rows_changed([stream_record("INSERT", f"GRP#{ALICE.uuid}", seed_row.sk)])

    assert [c.message for c in service.list_conversations(ALICE).items] == [
        "from the seed's script",
        "hi",
    ]


def test_our_own_row_seen_again_on_the_stream_keeps_the_cached_page(service, cached, inner):
    group = service.open_conversation_with(ALICE, BOB, "hi").group_uuid
    page = service.list_messages(ALICE, group)
    inner.reads.clear()

    cached.rows_changed([stream_record("INSERT", f"MSG#{group}", page.items[0].sk)])
    service.list_messages(ALICE, group)

    assert "messages_page" not in inner.reads


def test_a_removed_member_is_refused_at_once(service, cached):
    group = service.open_conversation_with(ALICE, BOB, "hi").group_uuid
    service.send_message(BOB, group, "cached membership")

    cached.delete_member(group, BOB.uuid)

    with pytest.raises(Exception, match=group):
        service.send_message(BOB, group, "still here?")


def test_a_membership_fill_racing_the_removal_does_not_put_member_back(inner, cache):
    """The read sees the member, the removal and its hook land before the fill: the fill is
    refused, so the next check asks the table."""
    service = MessagingService(CachedMessageRepository(inner, cache))
    group = service.open_conversation_with(ALICE, BOB, "hi").group_uuid
    racing = CachedMessageRepository(RemovedDuringRead(inner, group, BOB.uuid, cache), cache)

    assert racing.get_member(group, BOB.uuid) is not None  # what the slow reader saw
    assert cache.stats.stale_fills_refused == 1
    assert CachedMessageRepository(inner, cache).get_member(group, BOB.uuid) is None


class RemovedDuringRead:
    """An inner repository whose membership read is overtaken by a removal and its hook."""

    def __init__(self, inner, group_uuid: str, user_uuid: str, cache) -> None:
        self.inner, self.group, self.user, self.cache = inner, group_uuid, user_uuid, cache

    def get_member(self, group_uuid: str, user_uuid: str) -> Member | None:
        member = self.inner.get_member(group_uuid, user_uuid)
        CachedMessageRepository(self.inner, self.cache).delete_member(self.group, self.user)
        return member


def stream_record(event: str, pk: str, sk: str) -> dict:
    return {"eventName": event, "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": sk}}}}
