"""Gunicorn's settings module for `cruddur serve` (`--config python:cruddur.api.gunicorn_conf`),
read by the arbiter once, before it forks the workers.

It imports what every worker needs (Flask, boto3 and botocore's DynamoDB models, psycopg, redis,
PyJWT, the views) so the workers inherit those pages from the arbiter instead of each making its
own copy: forked pages are shared until written, and the API's memory counted as PSS falls by
about the size of one worker's imports per worker. Nothing is connected or created here: each
worker still builds its app, clients and pools after the fork (`cruddur.api.wsgi`), as before.
"""

from __future__ import annotations

import gc
from typing import Any

import cruddur.api.app  # noqa: F401 - imported for its imports, shared by every worker
from cruddur.aws import preload_service_models
from cruddur.config import Settings

preload_service_models(Settings.from_env())


def pre_fork(server: Any, worker: Any) -> None:
    # Objects the arbiter made leave the collector's generations: a worker's collections would
    # otherwise write to (and so copy) every page holding one.
    gc.freeze()
