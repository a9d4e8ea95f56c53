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
    #: Groups whose script (GLUE) jobs a USER may create and edit: granted by an admin, per group,
    #: on top of the group grant. Ignored for ADMIN.
    script_group_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN

    def can_access_group(self, group_id: int) -> bool:
        return self.is_admin or group_id in self.group_ids

    def can_write_scripts(self, group_id: int) -> bool:
        """Whether this actor may put code on the group's executors (create or change a script job)."""
        return self.is_admin or (group_id in self.group_ids and group_id in self.script_group_ids)

    @property
    def writes_scripts_somewhere(self) -> bool:
        return self.is_admin or bool(self.group_ids & self.script_group_ids)


#: Work the system does on its own behalf (scheduler, importer, demo set-up).
SYSTEM_ACTOR = Actor(user_id=None, username="system", role=UserRole.ADMIN)
