"""Users as the PostgreSQL store keeps them (the seed's `users` table)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from cruddur.messaging.models import UserRef

DEMO_USER_NAMESPACE_URL = "https://cruddur.com/users/"


def demo_user_uuid(handle: str) -> str:
    """A demo user's fixed uuid (docs/architecture.md): both stores agree whichever is seeded first."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, DEMO_USER_NAMESPACE_URL + handle))


@dataclass(frozen=True)
class User(UserRef):
    """A user of the store; being a `UserRef`, it goes straight into the messaging services."""

    email: str
    cognito_user_id: str | None
    created_at: datetime

    def ref(self) -> UserRef:
        """The part messaging stores beside each message."""
        return UserRef(uuid=self.uuid, handle=self.handle, display_name=self.display_name)
