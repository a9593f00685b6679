"""Walking pages through `cruddur serve` while other clients send (the stream worker running, so
conversation rows move while the list is walked).

- Messages (`Link: rel="next"`, `?before=`): a walk from the newest page back sees every
  message that existed before it began exactly once, in order; new messages never shift it.
- Conversations (`?cursor=`): the list is ordered by the last message, so a group that gets a
  message during the walk moves to the top, above the cursor. The walk never shows a group twice
  and never misses a group that did not move; a group that moved during the walk may be missed
  by it (keyset pages on a moving key: it heads the next first page instead). The figures print
  how many."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fixtures_api import ApiClient, HttpTransport, serving
from fixtures_streams import poll_until

from .conftest import CATCH_UP_DEADLINE, SIZES, print_figures, stream_worker_process

PAGE = 7
LIST_PAGE = 3


def walk(first: Any, client: ApiClient) -> list[list[dict[str, Any]]]:
    """Every page from `first` by following `Link: rel="next"`."""
    pages = []
    response = first
    while True:
        assert response.status == 200, response
        pages.append(response.body)
        if response.next_url is None:
            return pages
        response = client.get(response.next_url)


class Chatter:
    """Clients sending round-robin into their groups until stopped; the groups sent to."""

    def __init__(self, senders: list[tuple[ApiClient, str]]) -> None:
        self.senders = senders
        self.stop = threading.Event()
        self.sent: list[str] = []  # group uuids, in order
        self.statuses: set[int] = set()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self.stop.is_set():
            client, group = self.senders[n % len(self.senders)]
            answer = client.send_to_group(group, f"during the walk {n}")
            self.statuses.add(answer.status)
            self.sent.append(group)
            n += 1

    def __enter__(self) -> Chatter:
        self._thread.start()
        assert poll_until(lambda: len(self.sent) >= 3, timeout=60), "no sends"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join(timeout=60)


def test_walking_messages_while_sends_happen_sees_each_earlier_message_once(
    settings, postgres_url, register, tmp_path: Path
):
    register("alice"), register("bob")
    with serving(settings, postgres_url, tmp_path / "serve") as url:
        anonymous = ApiClient(HttpTransport(url))
        alice, bob = anonymous.as_user("alice"), anonymous.as_user("bob")
        group = alice.send_to_handle("bob", "message 0").body["message_group_uuid"]
        for n in range(1, SIZES.pagination_messages):
            assert (alice if n % 2 else bob).send_to_group(group, f"message {n}").status == 200
        before = [m["uuid"] for m in alice.all_messages(group, limit=100)]
        assert len(before) == SIZES.pagination_messages

        with Chatter([(bob, group), (alice, group)]) as chatter:
            pages = walk(alice.messages(group, limit=PAGE), alice)
        assert chatter.statuses == {200}

    walked = [m for page in reversed(pages) for m in page]  # oldest first
    uuids = [m["uuid"] for m in walked]
    assert len(uuids) == len(set(uuids)), "a message was shown twice"
    assert [u for u in uuids if u in set(before)] == before  # each once, in order
    keys = [(m["created_at"], m["uuid"]) for m in walked]
    assert keys == sorted(keys)
    print_figures(
        "messages walked under sends",
        before=len(before),
        sent_during_walk=len(chatter.sent),
        new_ones_in_walk=len(uuids) - len(before),
        pages=len(pages),
    )


def test_walking_conversations_while_rows_move_never_repeats_and_misses_only_moved_groups(
    settings, postgres_url, register, tmp_path: Path
):
    peers = [f"peer{i}" for i in range(SIZES.pagination_groups)]
    register("alice")
    for handle in peers:
        register(handle)
    with (
        serving(settings, postgres_url, tmp_path / "serve") as url,
        stream_worker_process(settings, tmp_path / "worker"),
    ):
        anonymous = ApiClient(HttpTransport(url))
        alice = anonymous.as_user("alice")
        groups: dict[str, tuple[ApiClient, str]] = {}
        for handle in peers:
            peer = anonymous.as_user(handle)
            opened = peer.send_to_handle("alice", f"hello from {handle}")
            assert opened.status == 200, opened
            groups[handle] = (peer, opened.body["message_group_uuid"])
        before = {uuid for _, uuid in groups.values()}
        listed = {
            c["uuid"] for page in walk(alice.conversations(limit=LIST_PAGE), alice) for c in page
        }
        assert listed == before
        # every third group, spread over all pages, gets messages during the walk
        hot = [groups[h] for i, h in enumerate(peers) if i % 3 == 0]

        with Chatter(hot) as chatter:
            pages = walk(alice.conversations(limit=LIST_PAGE), alice)
        assert chatter.statuses == {200}
        moved = set(chatter.sent)

        walked = [c["uuid"] for page in pages for c in page]
        assert len(walked) == len(set(walked)), "a group was shown twice"
        assert before - moved <= set(walked), "a group that did not move was missed"
        missed = moved - set(walked)

        # once the worker has caught up, a fresh walk shows every group once
        def complete() -> bool:
            fresh = [
                c["uuid"] for p in walk(alice.conversations(limit=LIST_PAGE), alice) for c in p
            ]
            return len(fresh) == len(set(fresh)) and set(fresh) == before

        assert poll_until(complete, timeout=CATCH_UP_DEADLINE)

    print_figures(
        "conversations walked while rows move",
        groups=len(before),
        moved_during_walk=len(moved),
        moved_and_missed_by_the_walk=len(missed),
        pages=len(pages),
    )
