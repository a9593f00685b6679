"""The one place that builds boto3 clients.

Endpoints come only from `Settings` (botocore's own reading of AWS_ENDPOINT_URL* is switched off with
`ignore_configured_endpoint_urls`), so `--prod` really means AWS and a configured `AWS_ENDPOINT_URL`
never sends Cognito calls to DynamoDB Local.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from cruddur.config import Settings

# Bounded, jittered retries for throttling and transient errors; the repository adds its own bounded
# loop for transaction conflicts and conditional races.
RETRY_MAX_ATTEMPTS = 5  # the first call included
# A timed-out call is retried like any transient error, so an engine that accepts connections but
# never answers (paused, overloaded) holds a caller RETRY_MAX_ATTEMPTS times this long before the
# API answers 503: 15 s, not the 50 s of a 10 s read timeout. DynamoDB answers in milliseconds.
CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 3
MAX_POOL_CONNECTIONS = 50


def _client_config() -> Config:
    return Config(
        retries={"mode": "standard", "total_max_attempts": RETRY_MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        max_pool_connections=MAX_POOL_CONNECTIONS,
        ignore_configured_endpoint_urls=True,
    )


def _local_credentials(endpoint_url: str | None) -> dict[str, str]:
    """DynamoDB Local accepts any credentials; give it some when the environment has none so a
    fresh machine needs no AWS set-up. Real endpoints use the normal credential chain."""
    if endpoint_url is None:
        return {}
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return {}
    return {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


# One loader of botocore's data files (service models, endpoints) per process: every session has a
# loader of its own by default, and each client's session parsed the models again, about 10 MB a
# client (the API holds several, the stream worker two). Sessions stay one per client, so each
# still reads the environment's credentials and profile when it is made.
_loader: botocore.loaders.Loader | None = None
_loader_lock = threading.Lock()


def _shared_loader() -> botocore.loaders.Loader:
    global _loader
    with _loader_lock:
        if _loader is None:
            _loader = botocore.loaders.create_loader()
        return _loader


def _session() -> boto3.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    return boto3.session.Session(botocore_session=core)


def preload_service_models(settings: Settings) -> None:
    """Parse the models of the clients a served API makes, so a process that forks workers after
    this (gunicorn's arbiter, `cruddur.api.gunicorn_conf`) shares them with all of them. Makes no
    call."""
    dynamodb_client(settings)
    dynamodb_streams_client(settings)


def _client(service: str, settings: Settings, endpoint_url: str | None) -> Any:
    return _session().client(
        service,
        region_name=settings.region,
        endpoint_url=endpoint_url,
        config=_client_config(),
        **_local_credentials(endpoint_url),
    )


def dynamodb_client(settings: Settings) -> Any:
    return _client("dynamodb", settings, settings.dynamodb_endpoint_url)


def dynamodb_streams_client(settings: Settings) -> Any:
    return _client("dynamodbstreams", settings, settings.dynamodb_streams_endpoint_url)


def cognito_idp_client(settings: Settings) -> Any:
    """Always AWS: no local endpoint, whatever AWS_ENDPOINT_URL says."""
    return _session().client("cognito-idp", region_name=settings.region, config=_client_config())


# --- deploying (always AWS: `cruddur deploy`, the post-confirmation trigger's secret) -----------


def cloudformation_client(settings: Settings) -> Any:
    return _client("cloudformation", settings, None)


def s3_client(settings: Settings) -> Any:
    return _client("s3", settings, None)


def secretsmanager_client(settings: Settings) -> Any:
    return _client("secretsmanager", settings, None)


def has_credentials() -> bool:
    """Whether botocore's credential chain finds any (environment, profile, SSO, instance role),
    asked before a command that needs AWS so a missing set is one clear line, not a traceback."""
    return boto3.session.Session().get_credentials() is not None
