"""The composition root: settings -> clients -> repositories -> services.

Every entrypoint (the API, the CLI, the stream worker, the Lambda handlers) builds what it needs
here and nowhere else, so a repository is constructed in one place and the engines' packages never
need to import each other.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from cruddur.aws import dynamodb_client, dynamodb_streams_client
from cruddur.config import Settings
from cruddur.messaging import schema
from cruddur.messaging.keys import Clock, utc_now
from cruddur.messaging.ports import MessageRepository, UserDirectory
from cruddur.messaging.repository import DynamoMessageRepository
from cruddur.messaging.services import MessagingService
from cruddur.streams.checkpoints import CheckpointStore, DeadLetterFile
from cruddur.streams.worker import StreamNotEnabled, StreamWorker, WorkerConfig

if TYPE_CHECKING:
    from cruddur.users.repository import UserRepository

# --- messaging ------------------------------------------------------------------------------------


def message_repository(settings: Settings, client: Any = None) -> DynamoMessageRepository:
    """The messages table of `settings`, through `client` (default: the one client factory's)."""
    return DynamoMessageRepository(client or dynamodb_client(settings), settings.table_name)


def messaging_service(
    messages: MessageRepository,
    users: UserDirectory | None = None,
    clock: Clock = utc_now,
) -> MessagingService:
    """The messaging use cases over `messages` (any MessageRepository) and a user directory."""
    return MessagingService(messages, users, clock=clock)


# --- the stream processor -------------------------------------------------------------------------


def stream_worker(
    settings: Settings,
    config: WorkerConfig | None = None,
    stop: threading.Event | None = None,
) -> StreamWorker:
    """A worker for `settings.table_name` at the configured endpoints (AWS when none is set),
    checkpoints and dead letters under `settings.data_dir/streams/`. The caller takes the lock
    (`worker.checkpoints.acquire()`) when it runs for long. Raises StreamNotEnabled, TableMissing,
    StoreUnavailable."""
    client = dynamodb_client(settings)
    arn = schema.stream_arn(client, settings.table_name)
    if not arn:
        raise StreamNotEnabled(settings.table_name)
    directory = settings.data_dir / "streams"
    return StreamWorker(
        repo=message_repository(settings, client),
        streams_client=dynamodb_streams_client(settings),
        stream_arn=arn,
        checkpoints=CheckpointStore(directory, settings.table_name),
        dead_letters=DeadLetterFile(directory, settings.table_name),
        config=config or WorkerConfig(),
        stop=stop,
    )


# --- users ----------------------------------------------------------------------------------------
# The users store's modules are imported inside these functions: an entrypoint that only handles
# messages (the stream Lambda) never loads the PostgreSQL driver.


def prod_connection_url(settings: Settings) -> str:
    """PROD_CONNECTION_URL; raises UsersNotConfigured when it is unset."""
    from cruddur.users.errors import UsersNotConfigured

    if not settings.prod_connection_url:
        raise UsersNotConfigured("PROD_CONNECTION_URL is not set; --prod needs it")
    return settings.prod_connection_url


def local_connection_url(settings: Settings, *, start: bool = False) -> str:
    """The URL of local runs: CONNECTION_URL when set, else the private cluster's under
    `settings.data_dir/postgres`, started first when `start` is true. Raises UsersUnavailable when
    the private cluster is down and `start` is false, EngineError/InstallError when starting it
    fails."""
    if settings.connection_url:
        return settings.connection_url
    from cruddur.local.postgres import PrivatePostgres
    from cruddur.users.errors import UsersUnavailable
    from cruddur.users.urls import mask_url

    cluster = PrivatePostgres.for_settings(settings)
    if start:
        return cluster.start().url
    status = cluster.status()
    if not status.running:
        raise UsersUnavailable(mask_url(status.url), "the private PostgreSQL is not running")
    return status.url


def connection_url(settings: Settings, *, prod: bool = False, start: bool = False) -> str:
    """The production URL with `prod` (or settings made for the tool-kit's --prod), else the local
    one (see `local_connection_url`)."""
    if prod or settings.prod:
        return prod_connection_url(settings)
    return local_connection_url(settings, start=start)


def user_repository(
    settings: Settings,
    *,
    prod: bool = False,
    start: bool = False,
    min_size: int = 1,
    max_size: int = 10,
) -> UserRepository:
    """The users store on the URL `connection_url` picks, through a pool of `min_size` to
    `max_size` connections (opened now: a server that does not answer raises UsersUnavailable).
    The default size fits the API's concurrent requests; one-at-a-time callers (the tool-kit, the
    post-confirmation Lambda) ask for fewer."""
    from cruddur.users.db import create_pool
    from cruddur.users.repository import UserRepository

    prod = prod or settings.prod
    url = connection_url(settings, prod=prod, start=start)
    return UserRepository(create_pool(url, min_size=min_size, max_size=max_size, prod=prod))
