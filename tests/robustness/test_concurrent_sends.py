"""N clients x M sends into one named group through `cruddur serve`, the stream worker running as
a process, rate limits off: exactly N x M messages stored, every acknowledged one readable through
the API, and every member's one row at the newest message once the worker catches up."""

from __future__ import annotations

import time
from pathlib import Path

from fixtures_api import ApiClient, HttpTransport, serving

from .conftest import (
    CATCH_UP_DEADLINE,
    SIZES,
    SendLoad,
    assert_members_reach_newest,
    percentile,
    print_figures,
    stored_texts,
    stream_worker_process,
)


def test_n_clients_x_m_sends_are_all_stored_once_and_every_row_ends_at_the_newest(
    settings, postgres_url, register, tmp_path: Path
):
    handles = [f"sender{i}" for i in range(SIZES.clients)]
    members = [register(h) for h in handles]
    with (
        serving(settings, postgres_url, tmp_path / "serve") as url,
        stream_worker_process(settings, tmp_path / "worker"),
    ):
        anonymous = ApiClient(HttpTransport(url))
        clients = [anonymous.as_user(h) for h in handles]
        created = clients[0].create_group("load", handles[1:])
        assert created.status == 200, created
        group = created.body["message_group_uuid"]

        started = time.monotonic()
        load = SendLoad(clients, group, SIZES.sends_per_client).start()
        load.finish()
        elapsed = time.monotonic() - started

        answers = load.snapshot()
        expected = SIZES.clients * SIZES.sends_per_client
        assert [a.status for a in answers] == [200] * expected, [
            a for a in answers if a.status != 200
        ][:5]
        sent = {a.message_uuid for a in answers}
        assert len(sent) == expected

        # exactly N x M stored (the group was created without a first message), each once
        texts = stored_texts(settings, group)
        assert len(texts) == len(set(texts)) == expected
        assert set(texts) == {a.text for a in answers}
        # every acknowledged message readable through the API, by any member, page after page
        readable = clients[-1].all_messages(group, limit=100)
        assert {m["uuid"] for m in readable} == sent

        caught_up = assert_members_reach_newest(
            settings, group, [m.uuid for m in members], CATCH_UP_DEADLINE
        )
        seconds = [a.seconds for a in answers]
        print_figures(
            f"{SIZES.clients} clients x {SIZES.sends_per_client} sends",
            sends_per_second=round(expected / elapsed, 1),
            p50_ms=round(percentile(seconds, 0.5) * 1000),
            p99_ms=round(percentile(seconds, 0.99) * 1000),
            worker_caught_up_after_s=round(caught_up, 2),
        )
