"""`shardcron db init` on SQLite and MySQL: idempotent, and one clear line when it cannot work."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin.models import Base
from tests.support.cli import assert_one_line_error, run_cli

TABLES = {t.name for t in Base.metadata.sorted_tables}


def test_default_is_sqlite_file_in_instance_dir(tmp_path: Path) -> None:
    first = run_cli("db", "init", home=tmp_path)
    assert first.returncode == 0, first.stderr
    db_file = tmp_path / "shardcron" / "shardcron.db"
    assert db_file.exists()
    assert f"created {len(TABLES)} tables" in first.stdout
    engine = sa.create_engine(f"sqlite:///{db_file}")
    assert TABLES <= set(sa.inspect(engine).get_table_names())
    engine.dispose()


def test_init_twice_changes_nothing_and_says_so(db_url: str, tmp_path: Path) -> None:
    first = run_cli("db", "init", "--url", db_url, home=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO sc_executor_group (app_name, title, address_type, created_at_ms, updated_at_ms) VALUES ('billing', 'Billing', 'AUTO', 1, 1)"
        )
    second = run_cli("db", "init", "--url", db_url, home=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "nothing changed" in second.stdout
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT app_name FROM sc_executor_group").scalars().all() == ["billing"]
        assert conn.exec_driver_sql("SELECT value FROM sc_meta WHERE name = 'schema_version'").scalar_one() == "1"
    engine.dispose()


def test_url_from_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    result = run_cli("db", "init", home=tmp_path, env={"SHARDCRON_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "env.db").exists()


def test_url_from_config_file(tmp_path: Path) -> None:
    config = tmp_path / "shardcron.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path / "file.db"}"\n')
    result = run_cli("--config", str(config), "db", "init", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "file.db").exists()


def test_missing_tables_are_added(sqlite_url: str, tmp_path: Path) -> None:
    assert run_cli("db", "init", "--url", sqlite_url, home=tmp_path).returncode == 0
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE sc_alarm")
    engine.dispose()
    again = run_cli("db", "init", "--url", sqlite_url, home=tmp_path)
    assert again.returncode == 0
    assert "created 1 tables" in again.stdout


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("not a url", ["invalid setting database_url='not a url'"]),
        ("postgresql://u@h/db", ["postgresql://u@h/db"]),
        ("mysql+pymysql://root@127.0.0.1:1/shardcron", ["cannot reach the server", "127.0.0.1:1"]),
        ("mysql+pymysql://root@no-such-host.invalid:3306/x", ["database mysql+pymysql://root@no-such-host.invalid:3306/x"]),
    ],
)
def test_bad_urls_give_one_clean_line(url: str, words: list[str], tmp_path: Path) -> None:
    assert_one_line_error(run_cli("db", "init", "--url", url, home=tmp_path), *words)


def test_unwritable_sqlite_location(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_one_line_error(run_cli("db", "init", "--url", f"sqlite:///{blocker}/sub/x.db", home=tmp_path), "cannot create the folder")


def test_bad_config_file_gives_one_clean_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("tick_interval_ms = -5\n")
    assert_one_line_error(run_cli("--config", str(config), "db", "init", home=tmp_path), "tick_interval_ms=-5")


@pytest.mark.mysql
def test_mysql_wrong_password_missing_database_and_privileges(mysql_url: str, tmp_path: Path) -> None:
    base = sa.engine.make_url(mysql_url)
    wrong_password = base.set(username="root", password="definitely-wrong")
    assert_one_line_error(run_cli("db", "init", "--url", wrong_password.render_as_string(hide_password=False), home=tmp_path), "access denied", "***")
    missing_db = base.set(database=base.database + "_absent")
    assert_one_line_error(run_cli("db", "init", "--url", missing_db.render_as_string(hide_password=False), home=tmp_path), "does not exist")

    user = f"sc_ro_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY 'pw-{user}'")
        conn.exec_driver_sql(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'pw-{user}'")
        for host in ("%%", "localhost"):
            conn.exec_driver_sql(f"GRANT SELECT ON `{base.database}`.* TO '{user}'@'{host}'")
    try:
        read_only = base.set(username=user, password=f"pw-{user}")
        result = run_cli("db", "init", "--url", read_only.render_as_string(hide_password=False), home=tmp_path)
        assert_one_line_error(result, "lacks a privilege")
        with admin.connect() as conn:
            assert conn.exec_driver_sql("SHOW TABLES").all() == []  # nothing half-written
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'%%'")
            conn.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'localhost'")
        admin.dispose()
