"""What the stream processor and the group changes tell the bus: every member's conversation row
that shows a group's newest message once it is applied, and every row a group's creation, a new
member, a removal or a rename writes, in the shape of the owner's list (GET /api/message_groups)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from cruddur.live.bus import EventBus
from cruddur.live.shapes import conversation_json
from cruddur.messaging.models import Conversation

log = logging.getLogger(__name__)


def conversation_publisher(bus: EventBus) -> Callable[[Conversation], None]:
    """A `row_shown` listener of `apply_records` (and `MessagingService.row_written`) publishing
    to the owner's stream. Never raises: a row is written whether or not its event goes out (the
    owner's list shows it on reload)."""

    def publish(row: Conversation) -> None:
        try:
            bus.publish_conversation(row.owner_uuid, conversation_json(row))
        except Exception:  # noqa: BLE001 - live delivery never fails a move
            log.exception("conversation event of %s not published", row.owner_uuid)

    return publish


def conversation_gone_publisher(bus: EventBus) -> Callable[[Conversation], None]:
    """A `row_deleted` listener of `MessagingService`: the owner's list drops the group (they
    left it or were removed). Never raises."""

    def publish(row: Conversation) -> None:
        try:
            bus.publish_conversation_gone(row.owner_uuid, row.group_uuid)
        except Exception:  # noqa: BLE001 - live delivery never fails a removal
            log.exception("conversation_gone event of %s not published", row.owner_uuid)

    return publish
