"""SQL of the users store, one .sql file per query under users/sql/<group>/<name>.sql, loaded by name.

The seed's `db.template('users', 'short')` idea: queries are files a reviewer reads as SQL, never
strings built in Python; values always travel as parameters.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_NAME = re.compile(r"^[a-z0-9_]+$")


@cache
def template(group: str, name: str) -> str:
    """The text of users/sql/{group}/{name}.sql. Raises KeyError for an unknown query (names are
    checked, so no path outside the sql folder can be read)."""
    if not (_NAME.match(group) and _NAME.match(name)):
        raise KeyError(f"invalid query name {group}/{name}")
    resource = resources.files("cruddur.users").joinpath("sql", group, f"{name}.sql")
    if not resource.is_file():
        raise KeyError(f"no query {group}/{name}")
    return resource.read_text(encoding="utf-8")
