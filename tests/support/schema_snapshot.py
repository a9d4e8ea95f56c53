"""Reflect a database's schema into plain data, so two schemas can be compared with ==."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def ddl_statements(path: Path) -> list[str]:
    """The statements of a DDL file, comments removed."""
    text = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
    return [stmt.strip() for stmt in text.split(";") if stmt.strip()]


def apply_ddl(engine: sa.Engine, path: Path) -> None:
    with engine.begin() as conn:
        for stmt in ddl_statements(path):
            conn.exec_driver_sql(stmt)


def drop_tables(engine: sa.Engine, names: list[str]) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "mysql":
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
        for name in names:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        if engine.dialect.name == "mysql":
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")


def snapshot(engine: sa.Engine, tables: list[str]) -> dict[str, Any]:
    """Tables, columns (type, nullability), primary keys, indexes, unique keys, foreign keys."""
    insp = sa.inspect(engine)
    present = set(insp.get_table_names())
    out: dict[str, Any] = {"tables": sorted(t for t in present if t in tables or t.startswith(("sc_", "shardcron_")))}
    for table in out["tables"]:
        columns = [
            (c["name"], c["type"].compile(dialect=engine.dialect), bool(c["nullable"]))
            for c in insp.get_columns(table)
        ]
        indexes = sorted(
            (ix["name"], tuple(ix["column_names"]), bool(ix["unique"])) for ix in insp.get_indexes(table)
        )
        uniques = sorted((uc["name"], tuple(uc["column_names"])) for uc in insp.get_unique_constraints(table))
        fks = sorted(
            (
                fk["name"],
                tuple(fk["constrained_columns"]),
                fk["referred_table"],
                tuple(fk["referred_columns"]),
                (fk.get("options") or {}).get("ondelete", "").upper(),
            )
            for fk in insp.get_foreign_keys(table)
        )
        entry: dict[str, Any] = {
            "columns": columns,
            "primary_key": tuple(insp.get_pk_constraint(table)["constrained_columns"]),
            "indexes": indexes,
            "unique": uniques,
            "foreign_keys": fks,
        }
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                sql = conn.exec_driver_sql("select sql from sqlite_master where type='table' and name=?", (table,)).scalar_one()
                entry["autoincrement"] = "AUTOINCREMENT" in sql.upper()
            elif engine.dialect.name == "postgresql":
                entry["auto_increment_columns"] = [
                    row[0]
                    for row in conn.exec_driver_sql(
                        "select column_name from information_schema.columns where table_schema = current_schema() and table_name = %s"
                        " and (column_default like 'nextval(%%' or is_identity = 'YES') order by ordinal_position",
                        (table,),
                    )
                ]
            else:
                engine_name, collation = conn.exec_driver_sql(
                    "select ENGINE, TABLE_COLLATION from information_schema.TABLES where TABLE_SCHEMA = database() and TABLE_NAME = %s",
                    (table,),
                ).one()
                entry["engine"], entry["collation"] = engine_name, collation
                entry["auto_increment_columns"] = [
                    row[0]
                    for row in conn.exec_driver_sql(
                        "select COLUMN_NAME from information_schema.COLUMNS where TABLE_SCHEMA = database() and TABLE_NAME = %s and EXTRA like %s",
                        (table, "%auto_increment%"),
                    )
                ]
        out[table] = entry
    return out
