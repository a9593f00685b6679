"""Sign-in timing: how long `UserRepository.verify_password` takes for a known handle with a wrong
password, an unknown handle and a user without a password.

    .venv/bin/python bench/signin_timing.py [--runs N] [--url POSTGRESQL_URL]

All three should cost about the same (one argon2 verification each, the default PasswordHasher),
so timing does not tell which handles exist. The tests check that the verification runs; only
this script measures it, because a wall-clock comparison fails on a busy machine.

PostgreSQL on loopback only: the machine's own at 127.0.0.1:5432 (or `--url`, which must name
127.0.0.1, ::1 or localhost), in a throwaway database dropped at the end; a round trip over a
real network would blur the figures. Prints figures; asserts nothing. Bounded: `--runs` (default
20, at most 200) sign-ins of each kind, a few seconds with the default hasher.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable

from psycopg.conninfo import conninfo_to_dict

from cruddur.users.db import (
    apply_migrations,
    create_database,
    create_pool,
    drop_database,
    with_database,
)
from cruddur.users.errors import UsersError
from cruddur.users.repository import UserRepository
from cruddur.users.urls import mask_url

MACHINE_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
MAX_RUNS = 200


def loopback(url: str) -> bool:
    host = str(conninfo_to_dict(url).get("host") or "")
    # No host (or a socket folder) means a unix socket: on this machine by definition.
    return not host or host.startswith("/") or host in LOOPBACK_HOSTS


def timings_ms(action: Callable[[], object], runs: int) -> list[float]:
    figures = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        figures.append((time.perf_counter() - started) * 1000)
    return figures


def describe(name: str, figures: list[float]) -> str:
    ordered = sorted(figures)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (
        f"{name:<28} median {statistics.median(figures):7.1f} ms   "
        f"min {ordered[0]:7.1f} ms   p90 {p90:7.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help=f"sign-ins per kind (1-{MAX_RUNS})")
    parser.add_argument("--url", default=MACHINE_SERVER_URL, help="a server on this machine")
    args = parser.parse_args()
    runs = max(1, min(args.runs, MAX_RUNS))
    if not loopback(args.url):
        print(
            f"refusing {mask_url(args.url)}: the bench measures on this machine only",
            file=sys.stderr,
        )
        return 2

    url = with_database(args.url, f"cruddur_bench_{uuid.uuid4().hex[:10]}")
    try:
        create_database(url)
    except UsersError as exc:
        print(f"no PostgreSQL to measure on: {exc}", file=sys.stderr)
        return 1
    try:
        apply_migrations(url)
        pool = create_pool(url, min_size=1, max_size=1)
        try:
            users = UserRepository(pool)  # the production hasher: its cost is what we measure
            known = users.create("benchuser", "Bench User", "bench@example.com")
            users.set_password(known.uuid, "correct horse")
            users.create("nopassword", "No Password", "nopw@example.com")
            # One of each first: the first query of a connection and argon2's first run are slower.
            for handle in ("benchuser", "nobody", "nopassword"):
                users.verify_password(handle, "wrong")
            print(f"verify_password, {runs} runs each, PostgreSQL on loopback")
            for name, handle in (
                ("known handle, wrong password", "benchuser"),
                ("unknown handle", "nobody"),
                ("user without a password", "nopassword"),
            ):
                figures = timings_ms(lambda h=handle: users.verify_password(h, "wrong"), runs)
                print(describe(name, figures))
        finally:
            pool.close()
    finally:
        drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
