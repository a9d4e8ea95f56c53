"""What a delivery attempt raises when it fails."""

from __future__ import annotations

from shardcron.core.errors import ShardcronError


class AlarmDeliveryError(ShardcronError):
    """A delivery attempt failed. `permanent`: trying again cannot help (no SMTP server
    configured, a malformed address), so the alarm is failed at once."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        self.permanent = permanent
        super().__init__(message)
