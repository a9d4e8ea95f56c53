"""The CREATE script of a schema at head (the files in `sql/`), rendered from its models.

It ends by creating the version table and recording the head revision, as Alembic would, so a
database created from the script is one shardcron sees as current. Tests keep the script, the
models and the revisions equal on SQLite, MySQL/MariaDB and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, insert
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql import ClauseElement

from .spec import VersionedSchema

DIALECTS: dict[str, Callable[[], Dialect]] = {"mysql": mysql.dialect, "postgresql": postgresql.dialect, "sqlite": sqlite.dialect}


def version_table(name: str) -> Table:
    """The table Alembic records the revision in (its own definition, with the name we give it)."""
    return Table(
        name,
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name=f"{name}_pkc"),
    )


def _statement(element: ClauseElement, dialect: Dialect) -> str:
    text = str(element.compile(dialect=dialect, compile_kwargs={"literal_binds": True})).strip()
    lines = [line.replace("\t", "  ").rstrip() for line in text.splitlines()]
    return "\n".join(lines) + ";"


def create_script(
    schema: VersionedSchema,
    dialect_name: str,
    head: str,
    header: Sequence[str],
    describe: Callable[[Table], str | None] = lambda table: None,
) -> str:
    """`header` lines (as SQL comments), then every table with its indexes (in dependency order,
    each after the `-- describe(table)` line when there is one), then the version table at `head`."""
    dialect = DIALECTS[dialect_name]()
    parts = ["\n".join(f"-- {line}".rstrip() for line in header)]
    for table in schema.metadata.sorted_tables:
        lines = [f"-- {note}" for note in [describe(table)] if note]
        lines.append(_statement(CreateTable(table), dialect))
        lines += [_statement(CreateIndex(index), dialect) for index in sorted(table.indexes, key=lambda ix: str(ix.name))]
        parts.append("\n".join(lines))
    versions = version_table(schema.version_table)
    parts.append(
        "\n".join(
            [
                "-- The schema's revision, as `shardcron db upgrade` records it.",
                _statement(CreateTable(versions), dialect),
                _statement(insert(versions).values(version_num=head), dialect),
            ]
        )
    )
    return "\n\n".join(parts) + "\n"
