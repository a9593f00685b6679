"""The seeded conversation: a simulated chat between two users, written through the same
create-group code as the API (pair, metadata and membership rows included)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from cruddur.messaging import keys
from cruddur.messaging.errors import InvalidInput
from cruddur.messaging.models import Message, UserRef
from cruddur.messaging.ports import MessageRepository
from cruddur.messaging.services import MessagingService

CONVERSATION = """
Person 1: Morning! Did you get a chance to look at the DynamoDB table design?
Person 2: I did. One table for messages and conversation lists feels strange at first.
Person 1: It does, but every screen becomes a single query on a partition key.
Person 2: So the message list is a query on MSG# plus the group's uuid?
Person 1: Exactly, newest first, and we flip the page so it reads top to bottom.
Person 2: And the conversation list is the GRP# partition of the user, sorted by last reply.
Person 1: Right. The stream processor moves each member's row when a message lands.
Person 2: What happens if two messages arrive in the same microsecond?
Person 1: The sort key carries the message uuid after the timestamp, so both are kept.
Person 2: Nice. And if the same record is delivered twice?
Person 1: Rows only move forward, so the second delivery changes nothing.
Person 2: I like that. What about the year filter the first version had?
Person 1: Gone. A conversation across New Year lists fully now.
Person 2: Good, that one bit me on the first of January.
Person 1: Want to pair on the stream worker this afternoon?
Person 2: Sure, after lunch. I will bring the capacity numbers.
Person 1: Perfect. Let us aim for fewer units per message than the seed.
Person 2: Deal. See you at two.
"""


@dataclass(frozen=True)
class SeedLine:
    speaker: int  # 1 or 2
    text: str


def parse_conversation(text: str) -> list[SeedLine]:
    """Lines starting `Person 1:` / `Person 2:`; blank lines are skipped, anything else refused."""
    lines: list[SeedLine] = []
    for number, raw in enumerate(text.strip().splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        for speaker in (1, 2):
            prefix = f"Person {speaker}:"
            if line.startswith(prefix):
                lines.append(SeedLine(speaker, line[len(prefix) :].strip()))
                break
        else:
            raise InvalidInput(f"line {number} does not start with 'Person 1:' or 'Person 2:'")
    if not lines:
        raise InvalidInput("the conversation has no lines")
    return lines


def _minute_clock(start: datetime) -> Iterator[datetime]:
    moment = start
    while True:
        yield moment
        moment += timedelta(minutes=1)


def seed_conversation(
    repo: MessageRepository,
    person_1: UserRef,
    person_2: UserRef,
    lines: list[SeedLine],
    now: datetime | None = None,
) -> tuple[str, list[Message]]:
    """Write the lines one minute apart, the last one now, through the same use cases as the API.
    The first line opens (or reuses) the pair's direct group. Conversation rows follow the last
    line when the stream processor (or the caller) moves them. Returns (group, messages)."""
    now = now or keys.utc_now()
    ticks = _minute_clock(now - timedelta(minutes=len(lines) - 1))
    timed = MessagingService(repo, clock=lambda: next(ticks))
    speakers = {1: person_1, 2: person_2}
    others = {1: person_2, 2: person_1}
    first = lines[0]
    opened = timed.open_conversation_with(
        speakers[first.speaker], others[first.speaker], first.text
    )
    messages = [opened.message]
    for line in lines[1:]:
        messages.append(timed.send_message(speakers[line.speaker], opened.group_uuid, line.text))
    return opened.group_uuid, messages
