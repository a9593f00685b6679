"""The composition root: settings -> clients -> repositories -> services.

Every entrypoint (the API, the CLI, the stream worker, the Lambda handlers) builds what it needs
here and nowhere else, so a repository is constructed in one place and the engines' packages never
need to import each other.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from cruddur.aws import dynamodb_client, dynamodb_streams_client
from cruddur.cache.backend import CacheBackend
from cruddur.cache.messaging import CachedMessageRepository
from cruddur.config import Settings
from cruddur.messaging import schema
from cruddur.messaging.keys import Clock, utc_now
from cruddur.messaging.ports import MessageRepository, UserDirectory
from cruddur.messaging.repository import DynamoMessageRepository
from cruddur.messaging.services import MessagingService
from cruddur.streams.checkpoints import CheckpointStore, DeadLetterFile
from cruddur.streams.moves import RowShown
from cruddur.streams.processor import RowsChanged
from cruddur.streams.worker import StreamNotEnabled, StreamWorker, WorkerConfig

if TYPE_CHECKING:
    from cruddur.cache.users import CachedUserRepository
    from cruddur.hardening.idempotency import IdempotencyStore
    from cruddur.hardening.rate_limits import RateLimiter
    from cruddur.live.bus import EventBus
    from cruddur.users.repository import UserRepository

# --- cache ----------------------------------------------------------------------------------------


def cache_backend(settings: Settings) -> CacheBackend | None:
    """Redis when REDIS_URL is set, else no cache: the API and the stream processor run as several
    processes, and a cache of one process would disagree with the others after a change (the
    in-process back end, `cache.memory.InProcessCache`, is for tests and single-process tools)."""
    if not settings.redis_url:
        return None
    from cruddur.cache.redis_backend import RedisCache  # the redis package only where it is used

    # one Redis may serve several tables (environments): each keeps to its own keys
    return RedisCache(settings.redis_url, prefix=f"cruddur:{settings.table_name}:")


def cached_messages(messages: MessageRepository, cache: CacheBackend) -> CachedMessageRepository:
    return CachedMessageRepository(messages, cache)


def cached_users(users: UserRepository, cache: CacheBackend) -> CachedUserRepository:
    from cruddur.cache.users import CachedUserRepository

    return CachedUserRepository(users, cache)


# --- live delivery --------------------------------------------------------------------------------


def event_bus(settings: Settings) -> EventBus | None:
    """The bus of live events on the REDIS_URL server (keys under the cache's prefix, so
    environments sharing a Redis do not mix); None without REDIS_URL: one process cannot reach
    the event streams other processes hold."""
    if not settings.redis_url:
        return None
    from cruddur.live.bus import RedisEventBus

    return RedisEventBus(settings.redis_url, prefix=f"cruddur:{settings.table_name}:")


def stream_processor_publisher(settings: Settings, bus: EventBus | None = None) -> RowShown | None:
    """The stream processor's listener publishing each member's row that shows a group's newest
    message (None without a bus)."""
    bus = bus if bus is not None else event_bus(settings)
    if bus is None:
        return None
    from cruddur.live.publishing import conversation_publisher

    return conversation_publisher(bus)


# --- messaging ------------------------------------------------------------------------------------


def message_repository(settings: Settings, client: Any = None) -> DynamoMessageRepository:
    """The messages table of `settings`, through `client` (default: the one client factory's)."""
    return DynamoMessageRepository(client or dynamodb_client(settings), settings.table_name)


def messaging_service(
    messages: MessageRepository,
    users: UserDirectory | None = None,
    clock: Clock = utc_now,
    bus: EventBus | None = None,
) -> MessagingService:
    """The messaging use cases over `messages` (any MessageRepository) and a user directory;
    with a `bus`, the rows a group change writes or deletes go live to their owners' open
    lists."""
    if bus is None:
        return MessagingService(messages, users, clock=clock)
    from cruddur.live.publishing import conversation_gone_publisher, conversation_publisher

    return MessagingService(
        messages,
        users,
        clock=clock,
        row_written=conversation_publisher(bus),
        row_deleted=conversation_gone_publisher(bus),
    )


# --- the stream processor -------------------------------------------------------------------------


def stream_processor_repository(
    settings: Settings, client: Any = None
) -> tuple[MessageRepository, RowsChanged | None]:
    """What both runners of the stream processor apply batches with: the messages repository, and
    with a cache (REDIS_URL) the cached one and its listener of every record."""
    repo: MessageRepository = message_repository(settings, client)
    cache = cache_backend(settings)
    if cache is None:
        return repo, None
    cached = cached_messages(repo, cache)
    return cached, cached.rows_changed


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
    repo, rows_changed = stream_processor_repository(settings, client)
    return StreamWorker(
        repo=repo,
        streams_client=dynamodb_streams_client(settings),
        stream_arn=arn,
        checkpoints=CheckpointStore(directory, settings.table_name),
        dead_letters=DeadLetterFile(directory, settings.table_name),
        config=config or WorkerConfig(),
        stop=stop,
        rows_changed=rows_changed,
        row_shown=stream_processor_publisher(settings),
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


def lambda_connection_url(settings: Settings, secretsmanager: Any = None) -> str:
    """The post-confirmation Lambda's database: CONNECTION_URL, with the password read from
    DATABASE_SECRET_ARN when that is set (an RDS-managed JSON secret's "password", or the secret
    as it is). Raises UsersNotConfigured when CONNECTION_URL is unset."""
    import json

    from cruddur.aws import secretsmanager_client
    from cruddur.users.errors import UsersNotConfigured
    from cruddur.users.urls import with_password

    if not settings.connection_url:
        raise UsersNotConfigured("CONNECTION_URL is not set in the Lambda's environment")
    if not settings.database_secret_arn:
        return settings.connection_url
    client = secretsmanager or secretsmanager_client(settings)
    secret = client.get_secret_value(SecretId=settings.database_secret_arn)["SecretString"]
    try:
        parsed = json.loads(secret)
    except ValueError:
        parsed = None
    password = parsed["password"] if isinstance(parsed, dict) and "password" in parsed else secret
    return with_password(settings.connection_url, str(password))


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


# --- cache (local engine) -------------------------------------------------------------------------


def local_redis_url(settings: Settings, *, start: bool = False) -> str:
    """The Redis of local runs: REDIS_URL when set, else the private server's URL (under
    `settings.data_dir/redis`, on `settings.redis_port`), started first when `start` is true.
    Raises EngineError when the private server is not running and `start` is false,
    EngineError/InstallError when starting it fails."""
    if settings.redis_url:
        return settings.redis_url
    from cruddur.local.processes import EngineError
    from cruddur.local.redis import PrivateRedis

    server = PrivateRedis.for_settings(settings)
    if start:
        return server.start().url
    status = server.status()
    if not status.running:
        raise EngineError(
            f"the private Redis ({status.url}, data in {status.data_dir}) is not running; start "
            f"it with `cruddur redis local start` or set REDIS_URL"
        )
    return status.url


# --- hardening: idempotency keys and rate limits --------------------------------------------------


def idempotency_store(settings: Settings) -> IdempotencyStore:
    """Redis (REDIS_URL, with persistence: the keys must survive a restart) shared by every worker
    and host; without REDIS_URL this process's own store (one process only: tests, single-worker
    runs)."""
    from cruddur.hardening.idempotency import InProcessIdempotencyStore, RedisIdempotencyStore

    if not settings.redis_url:
        return InProcessIdempotencyStore()
    return RedisIdempotencyStore(settings.redis_url, prefix=f"cruddur:{settings.table_name}:")


def rate_limiter(settings: Settings) -> RateLimiter:
    """Counters in Redis (REDIS_URL) shared by every worker and host; without it this process's
    own (one process only)."""
    from cruddur.hardening.rate_limits import InProcessRateLimiter, RedisRateLimiter

    if not settings.redis_url:
        return InProcessRateLimiter()
    return RedisRateLimiter(settings.redis_url, prefix=f"cruddur:{settings.table_name}:")
