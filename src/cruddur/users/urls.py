"""Connection URLs of the users store: what is safe to print, which database one names."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from cruddur.users.errors import UsersNotConfigured

_PASSWORD_KV = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def mask_url(url: str) -> str:
    """The URL (or key=value conninfo) with any password replaced by `***`: safe to print or log."""
    if "://" not in url:
        return _PASSWORD_KV.sub(r"\1***", url)
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostinfo = netloc.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hostinfo}"
    query = parts.query
    if query:
        pairs = [
            (key, "***" if key.lower() == "password" else value)
            for key, value in parse_qsl(query, keep_blank_values=True)
        ]
        query = urlencode(pairs, safe="/*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def database_name(url: str) -> str:
    """The database a connection URL names (libpq's default, the user name, when it names none)."""
    params = conninfo_to_dict(url)
    name = params.get("dbname") or params.get("user")
    if not name:
        raise UsersNotConfigured(f"the connection URL {mask_url(url)} names no database")
    return str(name)


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database (a conninfo string)."""
    return make_conninfo(url, dbname=name)


def with_password(url: str, password: str) -> str:
    """The same connection with this password (a conninfo string: no URL quoting to get wrong)."""
    return make_conninfo(url, password=password)


def split_password(url: str) -> tuple[str, str | None]:
    """(conninfo without the password, the password or None): for handing a URL to psql, whose
    argv every user of the machine can read in `ps` while its environment stays private."""
    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    conninfo = make_conninfo(**{key: str(value) for key, value in params.items()})
    return conninfo, None if password is None else str(password)
