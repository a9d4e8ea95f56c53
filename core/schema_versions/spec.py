"""What shardcron knows about one versioned schema; free of Alembic (the executor imports it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData

#: Names for constraints and indexes declared without one, so the DDL and Alembic's autogenerate
#: name them the same way every time (explicit names, as in the baseline, are kept as given).
#: Primary keys stay unnamed: MySQL ignores the name and naming them would change SQLite's DDL.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


@dataclass(frozen=True, eq=False)
class VersionedSchema:
    """One schema upgraded by its own chain of Alembic revisions.

    `baseline_tables` are the tables of the last release before versioned upgrades (0.1.0): a
    database holding them but no version table was created by that release, and the baseline
    revision records it without re-creating anything.
    """

    #: How messages name the database: "admin database", "retry-task database".
    label: str
    #: The folder holding env.py, script.py.mako and versions/.
    script_location: Path
    #: The table recording the revision (not Alembic's default name: the retry-task table lives
    #: in an application's database, which may have an `alembic_version` of its own).
    version_table: str
    #: The models at head: what the revisions must produce, what `sql/` is written from.
    metadata: MetaData
    baseline_tables: tuple[str, ...]
    #: The command group managing it ("shardcron db"); messages name its subcommands.
    command: str
    #: What those subcommands need besides, e.g. " --url ..." (a retry-task database has no default).
    command_args: str = ""

    @property
    def init_command(self) -> str:
        return f"{self.command} init{self.command_args}"

    @property
    def upgrade_command(self) -> str:
        return f"{self.command} upgrade{self.command_args}"

    @property
    def history_command(self) -> str:
        return f"{self.command} history"

    def owns(self, table_name: str) -> bool:
        """True for this schema's own tables and its version table (autogenerate looks at no other)."""
        return table_name == self.version_table or table_name in self.metadata.tables or table_name in self.baseline_tables
