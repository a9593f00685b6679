"""Demo users for local runs: the seed's own two (`andrewbrown`, `bayko`) and a few more, with the
fixed uuids (docs/architecture.md) so the messages store agrees whichever is seeded first."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from cruddur.users.errors import DuplicateCognitoUserId, DuplicateHandle, DuplicateUser
from cruddur.users.models import User, demo_user_uuid
from cruddur.users.repository import UserRepository

DEMO_COGNITO_NAMESPACE_URL = "https://cruddur.com/cognito/"


@dataclass(frozen=True)
class DemoUser:
    handle: str
    display_name: str
    email: str

    @property
    def uuid(self) -> str:
        return demo_user_uuid(self.handle)

    @property
    def cognito_user_id(self) -> str:
        """Shaped like a Cognito `sub` (a uuid) until update-cognito-user-ids links the real one."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, DEMO_COGNITO_NAMESPACE_URL + self.handle))


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("andrewbrown", "Andrew Brown", "andrewbrown@example.com"),
    DemoUser("bayko", "Andrew Bayko", "bayko@example.com"),
    DemoUser("londo", "Londo Mollari", "londo@example.com"),
    DemoUser("gkar", "G'Kar", "gkar@example.com"),
    DemoUser("delenn", "Delenn", "delenn@example.com"),
    DemoUser("sheridan", "John Sheridan", "sheridan@example.com"),
)


@dataclass
class SeedReport:
    created: list[User] = field(default_factory=list)
    existing: list[User] = field(default_factory=list)


def seed_users(
    repo: UserRepository, password: str, demo_users: tuple[DemoUser, ...] = DEMO_USERS
) -> SeedReport:
    """Make sure every demo user exists and signs in with `password`. Idempotent: a user already
    there (by handle) keeps its row, Cognito id included; only its password is set again."""
    report = SeedReport()
    for demo in demo_users:
        user = repo.find_by_handle(demo.handle)
        if user is None:
            try:
                user = repo.create(
                    demo.handle,
                    demo.display_name,
                    demo.email,
                    cognito_user_id=demo.cognito_user_id,
                    uuid=demo.uuid,
                )
                report.created.append(user)
            except (DuplicateHandle, DuplicateUser, DuplicateCognitoUserId):
                # Another seeding run got there between our read and our insert.
                user = repo.find_by_handle(demo.handle) or repo.find_by_uuid(demo.uuid)
                if user is None:
                    raise
                report.existing.append(user)
        else:
            report.existing.append(user)
        repo.set_password(user.uuid, password)
    return report
