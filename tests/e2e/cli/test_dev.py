"""`cruddur dev`, the README's run command: up to the point where it would serve, and serving (the
environment its API and stream worker get)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from cruddur.local.processes import free_port, port_open, process_alive, terminate, wait_until
from cruddur.local.redis import PrivateRedis
from cruddur.messaging.repository import DynamoMessageRepository
from cruddur.messaging.services import MessagingService
from cruddur.users.models import demo_user_uuid
from fixtures_redis import answers


def run_dev(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cruddur", "dev", "--no-serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def cruddur(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cruddur", *args], env=env, capture_output=True, text=True
    )


def dev_env(dynamodb_local, table_name: str, postgres_url: str, data_dir: Path) -> dict[str, str]:
    """The test's engines (DynamoDB Local, PostgreSQL); Redis left to `cruddur dev` (REDIS_URL
    unset: the private server, under data_dir on a free port)."""
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL_DYNAMODB=dynamodb_local.endpoint_url,
        AWS_ENDPOINT_URL_DYNAMODB_STREAMS=dynamodb_local.endpoint_url,
        DDB_MESSAGE_TABLE=table_name,
        CONNECTION_URL=postgres_url,
        CRUDDUR_DATA_DIR=str(data_dir),
        CRUDDUR_REDIS_PORT=str(free_port()),
    )
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("REDIS_URL", None)
    return env


def test_dev_loads_both_schemas_and_seeds_both_stores(
    dynamodb_local, ddb, table_name, postgres_url, tmp_path
):
    env = dev_env(dynamodb_local, table_name, postgres_url, tmp_path)
    redis_server = PrivateRedis(tmp_path / "redis", port=int(env["CRUDDUR_REDIS_PORT"]))
    try:
        run = run_dev(env)
        started = redis_server.status()
        again = run_dev(env)
        after_again = redis_server.status()
    finally:
        stopped = cruddur(env, "redis", "local", "stop")
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"using the engine already answering at {dynamodb_local.endpoint_url}" in run.stdout

    repo = DynamoMessageRepository(ddb, table_name)
    group = MessagingService(repo).find_direct_group(
        demo_user_uuid("andrewbrown"), demo_user_uuid("bayko")
    )
    assert group is not None
    last = repo.messages_page(group, 20, None).items[-1]
    assert last.text in run.stdout  # the seeded conversation is printed
    (row,) = repo.conversations_page(demo_user_uuid("bayko"), 20, None).items
    assert row.group_uuid == group and row.message == last.text

    assert again.returncode == 0, again.stdout + again.stderr
    assert "already have conversation" in again.stdout  # a second run writes nothing twice

    # REDIS_URL unset: a private Redis under CRUDDUR_DATA_DIR/redis, said where, left running
    # (as PostgreSQL is) for the next run, and stopped by `cruddur redis local stop`.
    assert started.running, run.stdout
    assert f"Redis: {redis_server.url} (private, data in {tmp_path / 'redis'})" in run.stdout
    assert after_again.pid == started.pid  # the second run used the running server
    assert stopped.returncode == 0 and "Redis stopped" in stopped.stdout, stopped.stderr
    assert not redis_server.status().running
    assert not answers(redis_server.url)


def child_pids(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2 :].split()[1]) == parent:
            found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def environ(pid: int) -> dict[str, str]:
    raw = (Path("/proc") / str(pid) / "environ").read_bytes().decode()
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def test_dev_gives_its_api_and_worker_the_private_redis_url(
    dynamodb_local, table_name, postgres_url, tmp_path
):
    """Serving, REDIS_URL unset: the API and the stream worker get the private Redis's URL."""
    env = dev_env(dynamodb_local, table_name, postgres_url, tmp_path)
    redis_server = PrivateRedis(tmp_path / "redis", port=int(env["CRUDDUR_REDIS_PORT"]))
    api_port = free_port()
    out, err = tmp_path / "dev.out", tmp_path / "dev.err"
    children: dict[str, int] = {}
    leftovers: list[int] = []
    try:
        with open(out, "w") as stdout, open(err, "w") as stderr:
            dev = subprocess.Popen(
                [sys.executable, "-m", "cruddur", "dev", "--port", str(api_port)],
                env=env,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )

        def serving() -> bool:
            if dev.poll() is not None:
                return True
            for pid in child_pids(dev.pid):
                line = cmdline(pid)
                if "stream-worker" in line:
                    children["worker"] = pid
                elif " serve " in line or "gunicorn" in line:
                    children["api"] = pid
            # the API listening also means dev is past setting up its SIGTERM handler
            return len(children) == 2 and port_open(api_port)

        try:
            assert wait_until(serving, 180)
            assert dev.poll() is None, out.read_text() + err.read_text()
            environments = {name: environ(pid) for name, pid in children.items()}
            redis_while_serving = redis_server.status()
        finally:
            if dev.poll() is None:
                dev.send_signal(signal.SIGTERM)  # stops what it started, as Ctrl-C does
                try:
                    dev.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    terminate(dev.pid)
            leftovers = [pid for pid in children.values() if process_alive(pid)]
            for pid in leftovers:
                terminate(pid)
    finally:
        redis_server.stop()

    assert redis_while_serving.running
    assert environments["api"]["REDIS_URL"] == redis_server.url
    assert environments["worker"]["REDIS_URL"] == redis_server.url
    assert "REDIS_URL" not in env  # from dev, not inherited
    assert leftovers == []  # dev stopped its API and worker
    # ... and said, as it stopped, what it left running on purpose and how to stop that
    assert (
        "Engines left running (DynamoDB Local, PostgreSQL, Redis): `make clean` stops them."
        in out.read_text()
    )


def test_dev_with_redis_url_starts_no_redis(
    dynamodb_local, table_name, postgres_url, private_redis, tmp_path
):
    data_dir = tmp_path / "data"  # private_redis keeps its own under tmp_path/redis
    env = dict(
        dev_env(dynamodb_local, table_name, postgres_url, data_dir), REDIS_URL=private_redis.url
    )

    run = run_dev(env)

    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Redis: using REDIS_URL at 127.0.0.1:{private_redis.port}" in run.stdout
    assert not (data_dir / "redis").exists()  # unset, the private server would live here
