"""The DDL files in `sql/`, generated from the models at head: never edited by hand.

`python -m shardcron.admin.schema sql` writes them; `--check` (and a test) fails when one is
stale, so a column is written once, in the models (and its revision).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Table

from shardcron.executor.retry_tasks.schema import RETRY_TASK_SCHEMA
from shardcron.core.schema_versions.ddl import create_script
from shardcron.core.schema_versions.spec import VersionedSchema
from shardcron.core.schema_versions.status import head_revision

from ..models import Base
from . import ADMIN_SCHEMA

#: The repository's sql/ folder (the files are not part of the installed package).
REPOSITORY_SQL_DIR = Path(__file__).resolve().parents[2] / "sql"

_ENGINES = {"mysql": "MySQL 8 / MariaDB >= 10.6 (InnoDB, utf8mb4)", "postgresql": "PostgreSQL >= 13 (UTF8)", "sqlite": "SQLite"}


@dataclass(frozen=True)
class SqlFile:
    path: str  # relative to sql/
    schema: VersionedSchema
    dialect: str
    intro: tuple[str, ...]
    upgrade_command: str

    def render(self) -> str:
        head = head_revision(self.schema)
        header = (
            f"shardcron {self.schema.label.replace(' database', '')} schema, {_ENGINES[self.dialect]}, revision {head}.",
            *self.intro,
            "",
            "Generated from the models by `python -m shardcron.admin.schema sql`: do not edit (a test fails",
            "when this file is stale). It creates the schema in an EMPTY database and records its revision.",
            f"To upgrade an existing database, print the DDL for it: `{self.upgrade_command}`.",
            "Instants are UTC epoch milliseconds (BIGINT columns named *_at_ms).",
        )
        return create_script(self.schema, self.dialect, head, header, describe=_describe)


def _describe(table: Table) -> str | None:
    """The first line of the docstring of the model class mapped to `table`, if any."""
    for mapper in Base.registry.mappers:
        if mapper.local_table is table and mapper.class_.__doc__:
            return mapper.class_.__doc__.strip().splitlines()[0]
    return None


_RETRY_INTRO = (
    "Create it in your application's own database (the business database), next to the rows whose",
    "work it tracks, so a task can be enqueued in the same transaction as the business change.",
)

SQL_FILES = (
    SqlFile("mysql/admin.sql", ADMIN_SCHEMA, "mysql", (), "shardcron db upgrade --sql --url ..."),
    SqlFile(
        "sqlite/admin.sql",
        ADMIN_SCHEMA,
        "sqlite",
        ("The embedded default. AUTOINCREMENT keeps ids from ever being reused (a run log's id names a log file).",),
        "shardcron db upgrade --sql --url ...",
    ),
    SqlFile(
        "postgresql/admin.sql",
        ADMIN_SCHEMA,
        "postgresql",
        ("Create the database with ENCODING 'UTF8'; text equality is case-sensitive, as under MySQL's utf8mb4_bin.",),
        "shardcron db upgrade --sql --url ...",
    ),
    SqlFile("mysql/retry_task.sql", RETRY_TASK_SCHEMA, "mysql", _RETRY_INTRO, "shardcron tasks upgrade --sql --url ..."),
    SqlFile("postgresql/retry_task.sql", RETRY_TASK_SCHEMA, "postgresql", _RETRY_INTRO, "shardcron tasks upgrade --sql --url ..."),
    SqlFile("sqlite/retry_task.sql", RETRY_TASK_SCHEMA, "sqlite", _RETRY_INTRO, "shardcron tasks upgrade --sql --url ..."),
)


def stale_files(sql_dir: Path = REPOSITORY_SQL_DIR) -> list[str]:
    """The files whose content differs from what the models give (missing ones included)."""
    return [f.path for f in SQL_FILES if not (sql_dir / f.path).exists() or (sql_dir / f.path).read_text(encoding="utf-8") != f.render()]


def write_files(sql_dir: Path = REPOSITORY_SQL_DIR) -> list[str]:
    """Write every stale file; returns the paths written."""
    written = stale_files(sql_dir)
    for f in SQL_FILES:
        if f.path in written:
            target = sql_dir / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.render(), encoding="utf-8")
    return written
