"""The web UI: server-rendered screens (Jinja2 templates, plain CSS, a small script without a build
step) in the API's Flask app, signed in by a server-side session. `register_web` adds it to an app
built by `cruddur.api.create_app`."""

from __future__ import annotations

import logging

from flask import Flask

from cruddur.config import Settings
from cruddur.web.hosted_ui import hosted_ui_for
from cruddur.web.security import EXTENSION, WebContext, baseline_headers
from cruddur.web.sessions import InProcessSessionStore, RedisSessionStore, SessionStore


def session_store(settings: Settings) -> SessionStore:
    """Redis (every worker and host sees every session) when REDIS_URL is set, with the cache's
    key prefix; else this process's own store (one process only: tests, single-worker dev)."""
    if settings.redis_url:
        return RedisSessionStore(settings.redis_url, prefix=f"cruddur:{settings.table_name}:")
    logging.getLogger(__name__).info(
        "web sessions are kept in this process only (no REDIS_URL): use one worker, or set REDIS_URL"
    )
    return InProcessSessionStore()


def register_web(app: Flask, settings: Settings, sessions: SessionStore | None = None) -> None:
    """The screens' blueprints and their context; `sessions` replaces the store (tests)."""
    from cruddur.web import groups, json_views, pages  # groups: its routes join pages.bp

    del groups

    store = sessions if sessions is not None else session_store(settings)
    app.extensions[EXTENSION] = WebContext(settings, store, hosted_ui_for(settings))
    app.after_request(baseline_headers)
    app.register_blueprint(pages.bp)
    app.register_blueprint(json_views.bp)
