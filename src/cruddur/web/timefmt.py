"""Times as the screens show them: relative ("5m") with the exact time beside it (on hover). The
page's script (static/app.js, `relative`) keeps them current with the same rules."""

from __future__ import annotations

from datetime import UTC, datetime


def parse(timestamp: str) -> datetime | None:
    """A stored timestamp (ours: ISO 8601 with +00:00; the seed's may lack a zone: UTC)."""
    try:
        parsed = datetime.fromisoformat(timestamp)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def relative(timestamp: str, now: datetime) -> str:
    """ "now", "5m", "3h", "2d", then the date ("Nov 3", with the year when it is not this one).
    A time in the future (the seed's tools date messages ahead) reads "now"."""
    moment = parse(timestamp)
    if moment is None:
        return timestamp
    seconds = int((now - moment).total_seconds())
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86_400:
        return f"{seconds // 3600}h"
    if seconds < 7 * 86_400:
        return f"{seconds // 86_400}d"
    local = moment.astimezone(UTC)
    if local.year == now.year:
        return f"{local:%b} {local.day}"
    return f"{local:%b} {local.day}, {local.year}"


def exact(timestamp: str) -> str:
    """The exact time, to the second, in UTC: the hover text."""
    moment = parse(timestamp)
    if moment is None:
        return timestamp
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
