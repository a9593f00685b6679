"""Two `cruddur serve` processes on two ports, one Redis, and the stream worker: concurrent sends
from both members leave no stale list or page on either server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fixtures_api import ApiClient, HttpTransport, serving
from fixtures_streams import poll_until

SENDS_EACH = 15


def test_concurrent_sends_through_two_servers_leave_nothing_stale(
    live_settings, postgres_url, register, tmp_path, worker
):
    register("alice")
    register("bob")
    redis_env = {"REDIS_URL": live_settings.redis_url or ""}
    with (
        serving(live_settings, postgres_url, tmp_path / "a", **redis_env) as server_a,
        serving(live_settings, postgres_url, tmp_path / "b", **redis_env) as server_b,
    ):
        alice_a = ApiClient(HttpTransport(server_a)).as_user("alice")
        bob_b = ApiClient(HttpTransport(server_b)).as_user("bob")
        views = {
            "alice@a": alice_a,
            "alice@b": ApiClient(HttpTransport(server_b)).as_user("alice"),
            "bob@a": ApiClient(HttpTransport(server_a)).as_user("bob"),
            "bob@b": bob_b,
        }
        group = alice_a.send_to_handle("bob", "start").body["message_group_uuid"]
        for view in views.values():  # every server caches both members' list and page
            assert poll_until(lambda v=view: v.conversations().body != [], timeout=20)
            assert view.messages(group).status == 200

        def send(i: int) -> str:
            sender = alice_a if i % 2 else bob_b
            answer = sender.send_to_group(group, f"m{i}")
            assert answer.status == 200, answer.body
            return answer.body["created_at"]

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(send, range(2 * SENDS_EACH)))

        truth = alice_a.all_messages(group)
        assert len(truth) == 2 * SENDS_EACH + 1
        newest = truth[-1]

        def settled() -> bool:
            for view in views.values():
                (row,) = view.conversations().body
                if (row["message"], row["created_at"]) != (newest["message"], newest["created_at"]):
                    return False
                page = view.messages(group).body
                if [m["uuid"] for m in page] != [m["uuid"] for m in truth[-len(page) :]]:
                    return False
            return True

        assert poll_until(settled, timeout=30), "a server kept answering a stale list or page"
        for view in views.values():
            health = view.get("/api/health-check").body
            assert health["cache"]["backend"] == "redis" and health["cache"]["status"] == "ok"
