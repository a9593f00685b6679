"""Settings from the environment, read in one place.

Every entrypoint (CLI, API, stream worker, Lambda handlers) builds one `Settings` and passes it down;
nothing else in the package reads `os.environ` for configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_TABLE = "cruddur-messages"
DEFAULT_REGION = "us-east-1"
DEFAULT_LOCAL_DYNAMODB_PORT = 8000
DEFAULT_LOCAL_DYNAMODB_URL = f"http://localhost:{DEFAULT_LOCAL_DYNAMODB_PORT}"
DEFAULT_API_PORT = 4567
# The private Redis of local runs (used when REDIS_URL is unset): beside, not on, a machine's
# own Redis at 6379.
DEFAULT_LOCAL_REDIS_PORT = 6390
DEFAULT_FRONTEND_URL = "http://localhost:3000"
# Local use only: the README names it. Production users sign in through Cognito.
DEFAULT_SEED_PASSWORD = "cruddur-local-password"
# Rate limits of `cruddur serve` and `make dev` (0 turns one off: the tests and benches need volume).
DEFAULT_RATE_LIMIT_SENDS_PER_MINUTE = 30
DEFAULT_RATE_LIMIT_NEW_CONVERSATIONS_PER_HOUR = 10
DEFAULT_RATE_LIMIT_SIGNIN_PER_MINUTE = 10


def project_root() -> Path:
    """The checkout the package runs from (src/cruddur/config.py -> repo root), else the cwd."""
    here = Path(__file__).resolve()
    candidate = here.parents[2]
    if (candidate / "pyproject.toml").exists():
        return candidate
    return Path.cwd()


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _flag(env: Mapping[str, str], name: str) -> bool | None:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1/true/yes/on or 0/false/no/off, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    region: str = DEFAULT_REGION
    table_name: str = DEFAULT_TABLE
    # None means "talk to AWS" (production); a URL means DynamoDB Local or another endpoint.
    dynamodb_endpoint_url: str | None = None
    dynamodb_streams_endpoint_url: str | None = None
    connection_url: str | None = None
    prod_connection_url: str | None = None
    # The post-confirmation Lambda's database password: a Secrets Manager secret (an RDS-managed
    # JSON secret with "password", or the bare password) read at a cold start, so the password
    # is never in the function's configuration. CONNECTION_URL then carries no password.
    database_secret_arn: str | None = None
    cognito_user_pool_id: str | None = None
    cognito_client_id: str | None = None
    # The web UI's Cognito Hosted UI sign-in (authorization code + PKCE): the Hosted UI's base URL
    # (https://<domain>.auth.<region>.amazoncognito.com or a custom domain) and the redirect URI
    # registered on the app client (https://<host>/auth/callback). Unset: the button is not shown.
    cognito_hosted_ui_domain: str | None = None
    cognito_redirect_uri: str | None = None
    # The web session cookie's Secure flag: None = when the request came over HTTPS; set it true
    # behind a TLS-terminating proxy (CRUDDUR_SECURE_COOKIES=1).
    secure_cookies: bool | None = None
    redis_url: str | None = None
    # The port of the private Redis under data_dir/redis (only when redis_url is unset).
    redis_port: int = DEFAULT_LOCAL_REDIS_PORT
    # Rate limits (0: off). Off when Settings are built by hand (tests, tools); `from_env` (what
    # `cruddur serve` and `make dev` read) defaults them to the DEFAULT_RATE_LIMIT_* values.
    rate_limit_sends_per_minute: int = 0
    rate_limit_new_conversations_per_hour: int = 0
    rate_limit_signin_per_minute: int = 0
    # How many proxies sit in front of the API: X-Forwarded-For is read (from the right) only then.
    trusted_proxies: int = 0
    frontend_url: str = DEFAULT_FRONTEND_URL
    seed_password: str = DEFAULT_SEED_PASSWORD
    data_dir: Path = Path(".data")
    billing_mode: str = "PROVISIONED"
    # When true (the tool-kit's --prod), configured local endpoints are ignored: AWS it is.
    prod: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        generic = env.get("AWS_ENDPOINT_URL") or None
        ddb = env.get("AWS_ENDPOINT_URL_DYNAMODB") or generic
        streams = env.get("AWS_ENDPOINT_URL_DYNAMODB_STREAMS") or ddb
        data_dir = Path(env.get("CRUDDUR_DATA_DIR") or project_root() / ".data")
        return cls(
            region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or DEFAULT_REGION,
            table_name=env.get("DDB_MESSAGE_TABLE") or DEFAULT_TABLE,
            dynamodb_endpoint_url=ddb,
            dynamodb_streams_endpoint_url=streams,
            connection_url=env.get("CONNECTION_URL") or None,
            prod_connection_url=env.get("PROD_CONNECTION_URL") or None,
            database_secret_arn=env.get("DATABASE_SECRET_ARN") or None,
            cognito_user_pool_id=env.get("AWS_COGNITO_USER_POOL_ID") or None,
            cognito_client_id=env.get("AWS_COGNITO_USER_POOL_CLIENT_ID") or None,
            cognito_hosted_ui_domain=env.get("AWS_COGNITO_HOSTED_UI_DOMAIN") or None,
            cognito_redirect_uri=env.get("AWS_COGNITO_REDIRECT_URI") or None,
            secure_cookies=_flag(env, "CRUDDUR_SECURE_COOKIES"),
            redis_url=env.get("REDIS_URL") or None,
            redis_port=_int(env, "CRUDDUR_REDIS_PORT", DEFAULT_LOCAL_REDIS_PORT),
            rate_limit_sends_per_minute=_int(
                env, "RATE_LIMIT_SENDS_PER_MINUTE", DEFAULT_RATE_LIMIT_SENDS_PER_MINUTE
            ),
            rate_limit_new_conversations_per_hour=_int(
                env,
                "RATE_LIMIT_NEW_CONVERSATIONS_PER_HOUR",
                DEFAULT_RATE_LIMIT_NEW_CONVERSATIONS_PER_HOUR,
            ),
            rate_limit_signin_per_minute=_int(
                env, "RATE_LIMIT_SIGNIN_PER_MINUTE", DEFAULT_RATE_LIMIT_SIGNIN_PER_MINUTE
            ),
            trusted_proxies=_int(env, "TRUSTED_PROXIES", 0),
            frontend_url=env.get("FRONTEND_URL") or DEFAULT_FRONTEND_URL,
            seed_password=env.get("CRUDDUR_SEED_PASSWORD") or DEFAULT_SEED_PASSWORD,
            data_dir=data_dir,
            billing_mode=(env.get("DDB_BILLING_MODE") or "PROVISIONED").upper(),
        )

    def for_toolkit(self, prod: bool) -> Settings:
        """The tool-kit's view: local by default (the configured endpoint or localhost:8000),
        AWS with --prod whatever endpoint is configured."""
        if prod:
            return replace(
                self,
                prod=True,
                dynamodb_endpoint_url=None,
                dynamodb_streams_endpoint_url=None,
                connection_url=self.prod_connection_url,
            )
        endpoint = self.dynamodb_endpoint_url or DEFAULT_LOCAL_DYNAMODB_URL
        return replace(
            self,
            dynamodb_endpoint_url=endpoint,
            dynamodb_streams_endpoint_url=self.dynamodb_streams_endpoint_url or endpoint,
        )

    @property
    def is_local_dynamodb(self) -> bool:
        return self.dynamodb_endpoint_url is not None

    @property
    def uses_local_identity_provider(self) -> bool:
        return not (self.cognito_user_pool_id and self.cognito_client_id)
