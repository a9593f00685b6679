"""Finding PostgreSQL's server programs (initdb, pg_ctl) on this machine, installing Debian's
`postgresql` package with apt-get when there are none."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cruddur.local.installers import InstallError, Run, Which, apt_install

DEBIAN_LIB_ROOT = Path("/usr/lib/postgresql")
APT_PACKAGES = ["postgresql"]


@dataclass(frozen=True)
class PostgresBinaries:
    initdb: Path
    pg_ctl: Path

    @property
    def bin_dir(self) -> Path:
        return self.initdb.parent


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name)) or (0,)


def find_binaries(
    which: Which = shutil.which,
    lib_root: Path = DEBIAN_LIB_ROOT,
    prefer_version: str | None = None,
) -> PostgresBinaries | None:
    """initdb and pg_ctl of one installation: `prefer_version`'s Debian folder when it exists (an
    existing cluster needs its own major version), then PATH, then the highest version under
    /usr/lib/postgresql/<version>/bin (Debian does not put them on PATH)."""
    if prefer_version:
        bin_dir = lib_root / prefer_version / "bin"
        if (bin_dir / "initdb").is_file() and (bin_dir / "pg_ctl").is_file():
            return PostgresBinaries(bin_dir / "initdb", bin_dir / "pg_ctl")
    on_path = which("initdb")
    if on_path:
        initdb = Path(on_path)
        sibling = initdb.resolve().parent / "pg_ctl"
        pg_ctl = sibling if sibling.is_file() else (Path(p) if (p := which("pg_ctl")) else None)
        if pg_ctl is not None:
            return PostgresBinaries(initdb, pg_ctl)
    if lib_root.is_dir():
        versions = sorted(
            (d for d in lib_root.iterdir() if (d / "bin" / "initdb").is_file()),
            key=_version_key,
        )
        for version_dir in reversed(versions):
            if (version_dir / "bin" / "pg_ctl").is_file():
                return PostgresBinaries(
                    version_dir / "bin" / "initdb", version_dir / "bin" / "pg_ctl"
                )
    return None


def ensure_binaries(
    which: Which = shutil.which,
    run: Run = subprocess.run,
    lib_root: Path = DEBIAN_LIB_ROOT,
    prefer_version: str | None = None,
) -> PostgresBinaries:
    """`find_binaries`, installing Debian's `postgresql` package with apt-get when none is found."""
    found = find_binaries(which, lib_root, prefer_version)
    if found:
        return found
    apt_install(APT_PACKAGES, which=which, run=run)
    found = find_binaries(which, lib_root, prefer_version)
    if found is None:
        raise InstallError(
            f"initdb/pg_ctl still missing after installing {' '.join(APT_PACKAGES)} "
            f"(looked on PATH and in {lib_root}/<version>/bin)"
        )
    return found
