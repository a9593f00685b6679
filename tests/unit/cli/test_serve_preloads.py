"""`cruddur serve` has gunicorn's arbiter import the workers' modules before it forks them (their
pages shared, not copied per worker), without connecting to anything."""

from __future__ import annotations

import importlib

from cruddur.cli.serve import GUNICORN_CONFIG, gunicorn_argv


def test_gunicorn_reads_the_preloading_settings_module():
    argv = gunicorn_argv("127.0.0.1", 4567, 2, 8)

    assert argv[argv.index("--config") + 1] == GUNICORN_CONFIG == "python:cruddur.api.gunicorn_conf"


def test_the_settings_module_imports_offline_and_freezes_before_each_fork(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")  # never called
    conf = importlib.import_module(GUNICORN_CONFIG.removeprefix("python:"))
    frozen = []
    monkeypatch.setattr(conf.gc, "freeze", lambda: frozen.append(True))

    conf.pre_fork(server=None, worker=None)

    assert frozen == [True]
