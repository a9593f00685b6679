"""The two Lambda zips, built the same way (the `cruddur` modules a handler imports, no caches,
fixed timestamps: the same source gives the same bytes and an unchanged code hash):

* the stream processor's (`cruddur lambda package`): pure Python, with `redis` copied from the
  virtualenv (the Lambda Python runtime brings boto3 only);
* the Cognito post-confirmation trigger's: with the users store's SQL, plus its PostgreSQL driver
  and password hashing as wheels built for Lambda's platform (manylinux2014 x86_64, CPython 3.11),
  whatever machine packages it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from cruddur.deployment.errors import PackagingFailed

STREAM_PROCESSOR_HANDLER = "cruddur.streams.lambda_handler.handler"
STREAM_PROCESSOR_ZIP_NAME = "cruddur-stream-processor.zip"
# What the handler imports; boto3/botocore come with the Lambda Python runtime.
STREAM_PROCESSOR_MODULES = (
    "__init__.py",
    "config.py",
    "aws.py",
    "bootstrap.py",
    "messaging",
    "streams",
    "cache/__init__.py",
    "cache/backend.py",
    "cache/codec.py",
    "cache/messaging.py",
    "cache/redis_backend.py",
    "redis_outages.py",
    # live delivery: the moved rows published to the event bus (REDIS_URL)
    "live/__init__.py",
    "live/bus.py",
    "live/publishing.py",
    "live/shapes.py",
)
# Not in the Lambda Python runtime, and pure Python: shipped inside the zip (the cache of REDIS_URL).
STREAM_PROCESSOR_VENDORED = ("redis",)

POST_CONFIRMATION_HANDLER = "cruddur.users.cognito.post_confirmation_handler"
POST_CONFIRMATION_ZIP_NAME = "cruddur-post-confirmation.zip"
# The handler imports the users store, and builds it through the composition root (bootstrap),
# which imports the messages side too; boto3 comes with the Lambda runtime.
POST_CONFIRMATION_MODULES = (
    "__init__.py",
    "config.py",
    "aws.py",
    "bootstrap.py",
    "messaging",
    "streams",
    "cache/__init__.py",
    "cache/backend.py",
    "cache/codec.py",
    "cache/messaging.py",
    "users",
)
# Distributions with compiled parts: downloaded as wheels for Lambda, in the versions this
# virtualenv runs (the tested ones). Their own dependencies come with them.
POST_CONFIRMATION_DISTRIBUTIONS = ("psycopg", "psycopg-binary", "psycopg-pool", "argon2-cffi")
LAMBDA_PLATFORM = "manylinux2014_x86_64"
LAMBDA_PYTHON = "3.11"
# Source files and the data files the package reads (`importlib.resources`: the .sql queries and
# migrations); nothing compiled locally.
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def pinned_requirements(
    distributions: Iterable[str] = POST_CONFIRMATION_DISTRIBUTIONS,
) -> list[str]:
    pins = []
    for name in distributions:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError as exc:
            raise PackagingFailed(f"{name} is not installed in this virtualenv") from exc
    return pins


WHEELS_COMPLETE = ".complete"


def wheel_dir(cache_dir: Path, requirements: list[str]) -> Path:
    """Where the wheels of these pins are kept: one directory per set of versions."""
    digest = hashlib.sha256(
        "\n".join([LAMBDA_PLATFORM, LAMBDA_PYTHON, *sorted(requirements)]).encode()
    ).hexdigest()[:16]
    return cache_dir / digest


def download_wheels(requirements: list[str], cache_dir: Path) -> list[Path]:
    """The wheels for Lambda's platform, from `cache_dir/<hash of the pins>/` when an earlier run
    fetched them (so repackaging the same versions needs no network), else from the package index
    through pip."""
    target = wheel_dir(cache_dir, requirements)
    done = target / WHEELS_COMPLETE
    if not done.exists():
        target.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--dest", str(target), "--only-binary=:all:", "--platform", LAMBDA_PLATFORM,
            "--python-version", LAMBDA_PYTHON, "--implementation", "cp",
            "--abi", f"cp{LAMBDA_PYTHON.replace('.', '')}", *requirements,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
            reason = errors[-1] if errors else f"pip exited with {result.returncode}"
            raise PackagingFailed(f"downloading the Lambda wheels failed: {reason}")
        done.touch()
    return sorted(target.glob("*.whl"))


def _files_under(path: Path, root: Path, under: str) -> list[tuple[Path, str]]:
    """(file, its name in the zip) for `path` (a file or a folder), named relative to `root`."""
    found = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [
        (p, (Path(under) / p.relative_to(root)).as_posix())
        for p in found
        if "__pycache__" not in p.parts and p.suffix not in _SKIPPED_SUFFIXES
    ]


def _module_files(package: Path, names: Iterable[str]) -> list[tuple[Path, str]]:
    return [entry for name in names for entry in _files_under(package / name, package, "cruddur")]


def _write_zip(output: Path, entries: dict[str, bytes]) -> Path:
    """Write `entries` (name in the zip -> bytes) in name order with fixed timestamps, atomically."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name])
    tmp.replace(output)
    return output


def build_stream_processor_zip(output: Path, source: Path | None = None) -> Path:
    """Write the stream processor's zip to `output`: its modules and the vendored packages."""
    package = source or Path(__file__).resolve().parents[1]
    files = _module_files(package, STREAM_PROCESSOR_MODULES)
    for vendored in STREAM_PROCESSOR_VENDORED:
        spec = importlib.util.find_spec(vendored)
        if spec is None or not spec.submodule_search_locations:
            raise PackagingFailed(f"the package {vendored} is not installed")
        location = Path(next(iter(spec.submodule_search_locations)))
        files.extend(_files_under(location, location, vendored))
    return _write_zip(output, {name: path.read_bytes() for path, name in files})


def build_post_confirmation_zip(
    output: Path, wheel_cache: Path, source: Path | None = None
) -> Path:
    """Write the trigger's zip: the modules, then every wheel unpacked at the zip's root (Lambda
    puts the zip's root on sys.path). Fixed timestamps: the same inputs give the same bytes."""
    package = source or Path(__file__).resolve().parents[1]
    entries: dict[str, bytes] = {
        name: path.read_bytes() for path, name in _module_files(package, POST_CONFIRMATION_MODULES)
    }
    for wheel in download_wheels(pinned_requirements(), wheel_cache):
        with zipfile.ZipFile(wheel) as unpacked:
            for info in unpacked.infolist():
                if not info.is_dir():
                    entries.setdefault(info.filename, unpacked.read(info))
    return _write_zip(output, entries)
