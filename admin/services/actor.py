"""Who is acting: a logged-in user (console session or API token) or the system itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..enums import UserRole


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    role: UserRole
    #: Groups a USER may see and act on; ignored for ADMIN (who may act on every group).
    group_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN

    def can_access_group(self, group_id: int) -> bool:
        return self.is_admin or group_id in self.group_ids


#: Work the system does on its own behalf (scheduler, importer, demo set-up).
SYSTEM_ACTOR = Actor(user_id=None, username="system", role=UserRole.ADMIN)
