"""What the commands say about a schema: one line each, naming the command to run when there is one."""

from __future__ import annotations

from ..errors import ShardcronError
from .spec import VersionedSchema
from .status import SchemaState, SchemaStatus
from .upgrade import UpgradeResult


def _revisions(revisions: tuple[str, ...]) -> str:
    return f"{len(revisions)} revision{'s' if len(revisions) != 1 else ''} ({', '.join(revisions)})"


def describe_status(schema: VersionedSchema, status: SchemaStatus, where: str) -> str:
    """`db current`: where the database stands and what to do about it."""
    prefix = f"{schema.label} {where}"
    match status.state:
        case SchemaState.EMPTY:
            return f"{prefix}: no shardcron schema yet (this shardcron's head is {status.head}): run `{schema.init_command}`"
        case SchemaState.UNVERSIONED if status.missing_tables:
            return (
                f"{prefix}: some shardcron tables but no recorded revision, and {', '.join(status.missing_tables)} missing "
                f"(a first create stopped half-way?): run `{schema.upgrade_command}` to complete it"
            )
        case SchemaState.UNVERSIONED:
            return f"{prefix}: the schema of shardcron 0.1.0 (before versioned upgrades), {_revisions(status.pending)} to apply: run `{schema.upgrade_command}`"
        case SchemaState.BEHIND:
            return f"{prefix}: revision {status.revision}, behind this shardcron's head {status.head} by {_revisions(status.pending)}: run `{schema.upgrade_command}`"
        case SchemaState.AHEAD:
            return f"{prefix}: revision {status.revision}, newer than this shardcron (head {status.head}): run the shardcron version that upgraded it"
        case _ if status.missing_tables:
            return f"{prefix}: revision {status.revision} (head), but table {', '.join(status.missing_tables)} is missing: restore the database from a backup"
        case _:
            return f"{prefix}: revision {status.revision} (head), up to date"


def require_current(schema: VersionedSchema, status: SchemaStatus, where: str, error: type[ShardcronError]) -> None:
    """Refuse to run on a schema older or newer than the code, in one line naming the command to run."""
    if status.is_current:
        return
    if status.state is SchemaState.EMPTY:
        raise error(f"{schema.label} {where} has no shardcron schema yet: run `{schema.init_command}` first")
    raise error(describe_status(schema, status, where))


def describe_upgrade(schema: VersionedSchema, result: UpgradeResult, where: str, server: str | None = None) -> list[str]:
    """`db upgrade`, `db init`: what changed, or that nothing did."""
    before, after = result.before, result.after
    created = result.created_tables
    what = f"table {created[0]}" if len(created) == 1 else f"{len(created)} tables"
    if not result.changed:
        return [f"{schema.label} {where} is at revision {after.revision} (head), up to date; nothing changed"]
    if before.state is SchemaState.EMPTY:
        return [f"created {what} in {where} ({server + ', ' if server else ''}revision {after.revision})"]
    if before.revision is not None:
        start = f"revision {before.revision}"
    else:
        start = "a half-made schema" if before.missing_tables else "the schema of shardcron 0.1.0"
    lines = [f"upgraded the {schema.label} {where} from {start} to revision {after.revision} (applied {', '.join(before.pending)})"]
    if created:
        lines.append(f"created {what}: {', '.join(created)}" if len(created) > 1 else f"created {what}")
    return lines
