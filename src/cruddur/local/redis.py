"""A private Redis for local runs and tests, run from the machine's `redis-server`.

It listens on 127.0.0.1 only (protected mode on), on its own port (default 6390, beside a machine's
Redis at 6379), keeps its data under one folder (`.data/redis`) with append-only-file persistence,
so what is stored there (idempotency keys, counters) survives a restart, and runs daemonized with
its pid file and log in that folder. Debian's `redis-server` package is installed with apt-get when
the program is missing. Redis runs as whoever starts it, root included.

This module knows Redis as an engine to run, not the cache kept in it (the composition root joins
the two).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cruddur.config import DEFAULT_LOCAL_REDIS_PORT
from cruddur.local.installers import InstallError, Run, Which, apt_install
from cruddur.local.processes import EngineError, port_open, process_alive, read_pid, wait_until

if TYPE_CHECKING:
    from cruddur.config import Settings

HOST = "127.0.0.1"
PROGRAM = "redis-server"
APT_PACKAGES = ["redis-server"]
# Where Debian and others put it when PATH does not say (a root shell's PATH may lack sbin).
SEARCH_DIRS = (Path("/usr/bin"), Path("/usr/sbin"))
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30
PROBE_TIMEOUT_SECONDS = 2
# The kernel may close a dead server's listening socket a moment after the process is gone.
PORT_RELEASE_SECONDS = 5


# --- the program -------------------------------------------------------------------------------


def find_redis_server(
    which: Which = shutil.which, search_dirs: Sequence[Path] = SEARCH_DIRS
) -> Path | None:
    """`redis-server` on PATH, else in /usr/bin or /usr/sbin; None when there is none."""
    on_path = which(PROGRAM)
    if on_path:
        return Path(on_path)
    for folder in search_dirs:
        candidate = folder / PROGRAM
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def ensure_redis_server(
    which: Which = shutil.which,
    run: Run = subprocess.run,
    search_dirs: Sequence[Path] = SEARCH_DIRS,
) -> Path:
    """`find_redis_server`, installing Debian's `redis-server` package with apt-get when missing."""
    found = find_redis_server(which, search_dirs)
    if found is not None:
        return found
    apt_install(APT_PACKAGES, which=which, run=run)
    found = find_redis_server(which, search_dirs)
    if found is None:
        raise InstallError(
            f"{PROGRAM} still missing after installing {' '.join(APT_PACKAGES)} "
            f"(looked on PATH and in {', '.join(str(d) for d in search_dirs)})"
        )
    return found


# --- the server --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrivateRedisStatus:
    running: bool
    pid: int | None
    port: int
    url: str
    data_dir: Path


def _probe(port: int) -> redis.Redis:
    # One try, short timeouts: redis-py's default retries would make a "no" take seconds.
    return redis.Redis(
        host=HOST,
        port=port,
        socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
        socket_timeout=PROBE_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )


def _runs_redis_server(pid: int) -> bool:
    """Whether `pid`'s command line is redis-server's (which shows `redis-server HOST:PORT`)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    first = cmdline.split(b"\0")[0].split(b" ")[0]
    return os.path.basename(first) == PROGRAM.encode()


class PrivateRedis:
    """Idempotent start/stop/status of one private Redis in `data_dir`: its data (the append-only
    files), `redis.pid` and `redis.log`."""

    def __init__(
        self,
        data_dir: Path,
        port: int = DEFAULT_LOCAL_REDIS_PORT,
        which: Which = shutil.which,
        run: Run = subprocess.run,
        search_dirs: Sequence[Path] = SEARCH_DIRS,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self._which = which
        self._run = run
        self._search_dirs = search_dirs

    @classmethod
    def for_settings(cls, settings: Settings) -> PrivateRedis:
        """The server of local runs: `settings.data_dir/redis` on `settings.redis_port`."""
        return cls(Path(settings.data_dir) / "redis", port=settings.redis_port)

    # --- layout ------------------------------------------------------------------------------------

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "redis.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def argv(self, server: Path) -> list[str]:
        """The command line that starts this server with the program `server`."""
        return [
            str(server),
            "--bind",
            HOST,
            "--protected-mode",
            "yes",
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            # The append-only file is the one persistence: every write is logged (fsync each
            # second) and replayed at start. No RDB snapshots beside it.
            "--appendonly",
            "yes",
            "--save",
            "",
            "--daemonize",
            "yes",
            "--pidfile",
            str(self.pid_file),
            "--logfile",
            str(self.log_file),
        ]

    # --- status ------------------------------------------------------------------------------------

    def _server_pid(self) -> int | None:
        """The pid of the Redis answering PING on our port, or None when none answers (yet: while
        it loads its data, INFO answers but PING and every data command answer LOADING)."""
        try:
            with _probe(self.port) as client:
                client.ping()
                info = client.info("server")
        except (redis.RedisError, OSError):
            return None
        pid = info.get("process_id")
        return pid if isinstance(pid, int) else None

    def status(self) -> PrivateRedisStatus:
        """Running means: the pid file names a live process and that process answers on our port
        (a stale pid file, or another server on the port, is not ours running)."""
        pid = read_pid(self.pid_file)
        running = pid is not None and process_alive(pid) and self._server_pid() == pid
        return PrivateRedisStatus(
            running=running,
            pid=pid if running else None,
            port=self.port,
            url=self.url,
            data_dir=self.data_dir,
        )

    # --- start/stop --------------------------------------------------------------------------------

    def _last_log_line(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""

    def start(self) -> PrivateRedisStatus:
        """Start the server (installing redis-server if needed) and wait until it answers PING; a
        running server is left as it is. Raises EngineError or InstallError with what to do."""
        current = self.status()
        if current.running:
            return current
        server = ensure_redis_server(self._which, self._run, self._search_dirs)
        # A pid file here names a server of ours that died (a crash): its port may linger.
        grace = PORT_RELEASE_SECONDS if read_pid(self.pid_file) is not None else 0
        if not wait_until(lambda: not port_open(self.port, HOST), grace):
            raise EngineError(
                f"port {self.port} is held by another process; stop it or choose another port "
                f"(CRUDDUR_REDIS_PORT, --port)"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        # Left by a crash (a clean shutdown removes it): Redis would overwrite it anyway, but the
        # wait below must not read the dead pid.
        self.pid_file.unlink(missing_ok=True)
        result = self._run(
            self.argv(server),
            cwd=self.data_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            output = (result.stdout or "").strip().splitlines()
            detail = output[-1] if output else f"exit code {result.returncode}"
            raise EngineError(f"{server} failed to start: {detail} (see {self.log_file})")

        def settled() -> bool:
            if self.status().running:
                return True
            pid = read_pid(self.pid_file)
            return pid is not None and not process_alive(pid)  # it started, then died

        wait_until(settled, START_TIMEOUT_SECONDS)
        status = self.status()
        if not status.running:
            last = self._last_log_line()
            raise EngineError(
                f"Redis did not start on port {self.port}"
                + (f": {last}" if last else "")
                + f" (see {self.log_file})"
            )
        return status

    def stop(self) -> bool:
        """Stop the server (SIGTERM: Redis flushes its append-only file and exits) and wait until
        it is gone; True if it was running. A pid file naming a dead process, or one that is not
        redis-server, is removed and nothing is signalled."""
        pid = read_pid(self.pid_file)
        if pid is None or not process_alive(pid):
            self.pid_file.unlink(missing_ok=True)
            return False
        if self._server_pid() != pid and not _runs_redis_server(pid):
            self.pid_file.unlink(missing_ok=True)
            return False
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # it went by itself meanwhile
        if not wait_until(lambda: not process_alive(pid), STOP_TIMEOUT_SECONDS):
            raise EngineError(f"Redis (pid {pid}) did not stop; see {self.log_file}")
        self.pid_file.unlink(missing_ok=True)
        wait_until(lambda: not port_open(self.port, HOST), PORT_RELEASE_SECONDS)
        return True
