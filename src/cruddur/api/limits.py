"""Rate limits as the API applies them: per user for sends and new conversations, per handle and
client address for sign-in (and five times that per address). The counters live in
`cruddur.hardening.rate_limits` (Redis, shared by every worker and host; they fail open).

Headers (the IETF draft "RateLimit header fields for HTTP", three separate fields): every answer
of a limited call carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds
until the window ends) of its tightest limit; a 429 adds `Retry-After` (the same seconds)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Response, current_app, g, request

from cruddur.config import Settings
from cruddur.hardening.idempotency import IdempotencyStore
from cruddur.hardening.rate_limits import (
    Decision,
    Limit,
    RateLimited,
    RateLimiter,
    client_address,
)
from cruddur.users.models import User

EXTENSION = "cruddur.hardening"
SIGNIN_PER_ADDRESS_FACTOR = 5


@dataclass(frozen=True)
class Hardening:
    idempotency: IdempotencyStore
    limiter: RateLimiter
    sends: Limit
    new_conversations: Limit
    signin: Limit
    signin_address: Limit
    trusted_proxies: int = 0


def hardening_for(
    settings: Settings, idempotency: IdempotencyStore, limiter: RateLimiter
) -> Hardening:
    return Hardening(
        idempotency=idempotency,
        limiter=limiter,
        sends=Limit("sends", settings.rate_limit_sends_per_minute, 60),
        new_conversations=Limit(
            "new_conversations", settings.rate_limit_new_conversations_per_hour, 3600
        ),
        signin=Limit("signin", settings.rate_limit_signin_per_minute, 60),
        signin_address=Limit(
            "signin_address", settings.rate_limit_signin_per_minute * SIGNIN_PER_ADDRESS_FACTOR, 60
        ),
        trusted_proxies=settings.trusted_proxies,
    )


def hardening() -> Hardening:
    return current_app.extensions[EXTENSION]


def _shown(decision: Decision) -> None:
    """Keep the tightest decision of this request for its headers."""
    shown: Decision | None = g.get("rate_limit")
    if shown is None or decision.remaining < shown.remaining:
        g.rate_limit = decision


def _enforce(limit: Limit, subject: str) -> None:
    decision = hardening().limiter.hit(limit, subject)
    if decision is None:
        return
    if not decision.allowed:
        raise RateLimited(limit, decision)
    _shown(decision)


def enforce_send(user: User) -> None:
    _enforce(hardening().sends, user.uuid)


@dataclass
class NewConversation:
    """What the block of `counting_new_conversation` reports: whether it created one."""

    created: bool = False


@contextmanager
def counting_new_conversation(
    user: User, already_open: Callable[[], bool] = lambda: False
) -> Iterator[NewConversation]:
    """Count only conversations (and groups) actually created: the hit is taken before the block
    runs (two requests at once cannot both slip under the limit) and given back unless the block
    sets `created`: a first contact refused (unknown handle, blank text), failed (an engine down)
    or that found the pair's conversation open after all costs nothing. Over the limit, a send to
    a conversation that turns out to exist already (`already_open`) is let through uncounted."""
    counted = enforce_new_conversation(user, already_open)
    outcome = NewConversation()
    try:
        yield outcome
    finally:
        if counted and not outcome.created:
            refund_new_conversation(user)


def enforce_new_conversation(user: User, already_open: Callable[[], bool]) -> bool:
    """Count a new conversation of `user`; whether it was counted (`counting_new_conversation`
    gives it back when none was created). Over the limit, `already_open` lets a send through
    uncounted."""
    h = hardening()
    decision = h.limiter.hit(h.new_conversations, user.uuid)
    if decision is None:
        return False
    if not decision.allowed:
        h.limiter.refund(h.new_conversations, user.uuid)
        if already_open():
            return False
        raise RateLimited(h.new_conversations, decision)
    _shown(decision)
    return True


def refund_new_conversation(user: User) -> None:
    """A hit counted as new that created nothing: take it back."""
    h = hardening()
    h.limiter.refund(h.new_conversations, user.uuid)


def request_address() -> str:
    h = hardening()
    return client_address(
        request.remote_addr, request.headers.get("X-Forwarded-For"), h.trusted_proxies
    )


def enforce_sign_in(handle: str) -> None:
    """Before any password is checked: the same for handles that exist and ones that do not."""
    h = hardening()
    address = request_address()
    handle_digest = hashlib.sha256(handle.strip().lower().encode()).hexdigest()[:32]
    _enforce(h.signin_address, address)
    _enforce(h.signin, f"{handle_digest}:{address}")


def rate_limit_headers(decision: Decision, response: Response, limited: bool = False) -> None:
    response.headers["RateLimit-Limit"] = str(decision.limit)
    response.headers["RateLimit-Remaining"] = str(decision.remaining)
    response.headers["RateLimit-Reset"] = str(decision.reset)
    if limited:
        response.headers["Retry-After"] = str(decision.reset)


def add_rate_limit_headers(response: Response) -> Response:
    """after_request: the tightest limit this request was counted against."""
    decision: Decision | None = g.get("rate_limit")
    if decision is not None and "RateLimit-Limit" not in response.headers:
        rate_limit_headers(decision, response)
    return response


def direct_conversation_open(user: User, handle: object) -> Callable[[], bool]:
    """Whether `user` already has the direct conversation with `handle` (asked only when the
    new-conversations limit is reached)."""

    def check() -> bool:
        from cruddur.api.context import api

        if not isinstance(handle, str) or not handle.strip():
            return False
        other = api().users.find_by_handle(handle.strip())
        if other is None:
            return False
        return api().messaging.find_direct_group(user.uuid, other.uuid) is not None

    return check
