"""The users pool while its server is down: refused at once, not after the pool's timeout, and
used again once the server answers. The outage is a private cluster of the test's own, stopped and
started (the machine's shared PostgreSQL is never stopped)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from cruddur.local.postgres import PrivatePostgres
from cruddur.local.processes import wait_until
from cruddur.users.db import create_pool, mask_url, pooled
from cruddur.users.errors import UsersUnavailable
from cruddur.users.pg_errors import POOL_TIMEOUT_REASON
from cruddur.users.repository import UserRepository
from fixtures_postgres import initdb_unavailable_reason, reachable_tmp_dir

REQUESTS_WHILE_DOWN = 20


@pytest.fixture
def private_cluster() -> Iterator[PrivatePostgres]:
    reason = initdb_unavailable_reason()
    if reason:
        pytest.skip(f"a private PostgreSQL cannot start here: {reason}")
    folder = reachable_tmp_dir("cruddur-test-pool-outage-")
    cluster = PrivatePostgres(folder / "postgres")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(cluster.socket_dir, ignore_errors=True)


def answers(repo: UserRepository) -> bool:
    try:
        repo.ping()
    except UsersUnavailable:
        return False
    return True


def test_a_down_server_is_refused_without_waiting_then_used_again(
    private_cluster: PrivatePostgres,
) -> None:
    url = private_cluster.url
    # the production timeout: a request that waited for the pool would wait 5 s
    pool = create_pool(url, min_size=1, max_size=2)
    try:
        repo = UserRepository(pool)
        repo.ping()
        assert private_cluster.stop() is True

        # the first request finds the pooled connection dead and the server refusing
        with pytest.raises(UsersUnavailable):
            repo.ping()
        assert pool.server_down
        asked_before = pool.get_stats().get("requests_num", 0)
        refused_before = pool.refused_without_waiting
        for _ in range(REQUESTS_WHILE_DOWN):
            with pytest.raises(UsersUnavailable) as raised:
                repo.ping()
            assert raised.value.reason.startswith("down, refused without waiting: ")
            assert raised.value.url == mask_url(url)
        stats = pool.get_stats()

        private_cluster.start()
        # a deadline, not a measurement: the prober tries every 0.5 s
        recovered = wait_until(lambda: answers(repo), timeout=30)
    finally:
        pool.close()

    # nobody waited: the pool itself was not even asked for a connection while the server was down
    assert stats.get("requests_num", 0) == asked_before
    assert stats.get("requests_waiting", 0) == 0
    assert pool.refused_without_waiting - refused_before >= REQUESTS_WHILE_DOWN
    assert recovered, "the pool did not use the restarted server"
    assert not pool.server_down


def test_a_busy_pool_still_waits_its_timeout_and_is_not_taken_for_down(postgres_url: str) -> None:
    pool = create_pool(postgres_url, min_size=1, max_size=1, timeout=0.3)
    try:
        repo = UserRepository(pool)
        with pooled(pool):  # the only connection, held
            with pytest.raises(UsersUnavailable) as raised:
                repo.ping()
        assert raised.value.reason == POOL_TIMEOUT_REASON
        assert pool.get_stats().get("requests_errors", 0) == 1  # it did wait, as before

        repo.ping()
        repo.ping()
    finally:
        pool.close()
    assert not pool.server_down
    assert pool.refused_without_waiting == 0
