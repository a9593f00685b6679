"""What the stream processor tells the bus: every member's conversation row that shows a group's
newest message once it is applied, in the shape of the owner's list (GET /api/message_groups)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from cruddur.live.bus import EventBus
from cruddur.live.shapes import conversation_json
from cruddur.messaging.models import Conversation

log = logging.getLogger(__name__)


def conversation_publisher(bus: EventBus) -> Callable[[Conversation], None]:
    """A `row_shown` listener of `apply_records` publishing to the owner's stream. Never raises:
    a row is moved whether or not its event goes out (the owner's list shows it on reload)."""

    def publish(row: Conversation) -> None:
        try:
            bus.publish_conversation(row.owner_uuid, conversation_json(row))
        except Exception:  # noqa: BLE001 - live delivery never fails a move
            log.exception("conversation event of %s not published", row.owner_uuid)

    return publish
