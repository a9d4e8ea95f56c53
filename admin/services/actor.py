"""Who is acting: a logged-in user (console session or API token) or the system itself."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field

from ..enums import ActorKind, UserRole
from ..texts import _t
from .errors import NotFound


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
    #: How the actor came in, the name of the API token it used, and the client's address: what
    #: an audit entry records besides the user (services.audit). The auth layer fills them in.
    kind: ActorKind = ActorKind.SYSTEM
    token_name: str | None = None
    client_address: str | None = None

    @property
    def own_user_id(self) -> int:
        """The id of the user acting on their own account. The system, the command line and the
        setup page are no user: NotFound."""
        if self.user_id is None:
            raise NotFound("user", None, _t("%(name)s is not a user account", name=self.username))
        return self.user_id

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


def cli_actor(name: str = "") -> Actor:
    """The `shardcron` command line acting as an admin: named after the operating-system user who
    ran it (the audit trail's "who"), or `name` when given."""
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no login name (a container's uid without a passwd entry)
            name = "cli"
    return Actor(user_id=None, username=name[:64], role=UserRole.ADMIN, kind=ActorKind.CLI, client_address="local")


def setup_actor(client_address: str | None) -> Actor:
    """Whoever completes the console's one-time setup page (no user exists yet to name)."""
    return Actor(user_id=None, username="setup", role=UserRole.ADMIN, kind=ActorKind.SETUP, client_address=client_address)
