"""`shardcron db init|upgrade|current|history` on SQLite and MySQL: idempotent, and one clear line
when they cannot work."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin.models import Base
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.schema_versions.status import head_revision
from tests.support.cli import assert_one_line_error, run_cli
from tests.support.released import RELEASES, released_database
from tests.support.schema_snapshot import apply_ddl

TABLES = {t.name for t in Base.metadata.sorted_tables}
HEAD = head_revision(ADMIN_SCHEMA)


def _revision(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(f"SELECT version_num FROM {ADMIN_SCHEMA.version_table}").scalar_one()
    finally:
        engine.dispose()


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
    assert "nothing changed" in second.stdout and f"revision {HEAD} (head)" in second.stdout
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT app_name FROM sc_executor_group").scalars().all() == ["billing"]
    engine.dispose()
    assert _revision(db_url) == HEAD


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


def test_a_first_create_that_stopped_half_way_is_completed(sqlite_url: str, tmp_path: Path) -> None:
    released_database(sqlite_url, RELEASES[0], "admin", {})
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE sc_alarm")
    engine.dispose()
    again = run_cli("db", "init", "--url", sqlite_url, home=tmp_path)
    assert again.returncode == 0, again.stderr
    created = next(line for line in again.stdout.splitlines() if line.startswith("created "))
    assert "from a half-made schema" in again.stdout and "sc_alarm" in created  # with the tables later revisions add
    assert _revision(sqlite_url) == HEAD


def test_a_table_missing_at_head_is_reported_not_papered_over(sqlite_url: str, tmp_path: Path) -> None:
    assert run_cli("db", "init", "--url", sqlite_url, home=tmp_path).returncode == 0
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE sc_alarm")
    engine.dispose()
    assert_one_line_error(run_cli("db", "init", "--url", sqlite_url, home=tmp_path), "sc_alarm is missing", "restore the database from a backup")
    assert_one_line_error(run_cli("scheduler", "--database-url", sqlite_url, home=tmp_path, timeout=60), "sc_alarm is missing")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("not a url", ["invalid setting database_url='not a url'"]),
        ("oracle://u@h/db", ["oracle://u@h/db", "postgresql+psycopg://"]),
        ("postgresql+psycopg2://u@h/db", ["postgresql+psycopg2://u@h/db", "postgresql+psycopg://"]),
        ("mariadb+mysqldb://u@h/db", ["mariadb+mysqldb://u@h/db", "mysql+pymysql://"]),
        ("postgresql://postgres@127.0.0.1:1/shardcron", ["cannot reach the server", "127.0.0.1:1"]),
        ("postgresql://postgres@no-such-host.invalid:5432/x", ["unknown host", "database postgresql+psycopg://postgres@no-such-host.invalid:5432/x"]),
        ("mysql+pymysql://root@127.0.0.1:1/shardcron", ["cannot reach the server", "127.0.0.1:1"]),
        ("mysql+pymysql://root@no-such-host.invalid:3306/x", ["database mysql+pymysql://root@no-such-host.invalid:3306/x"]),
    ],
)
def test_bad_urls_give_one_clean_line(url: str, words: list[str], tmp_path: Path) -> None:
    assert_one_line_error(run_cli("db", "init", "--url", url, home=tmp_path), *words)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("oracle://u@h/db", ["oracle://u@h/db", "use sqlite:///PATH, mysql+pymysql://"]),
        ("mysql+pymysql://root@127.0.0.1:1/shardcron", ["cannot reach the server"]),
    ],
)
@pytest.mark.parametrize("command", [["upgrade"], ["upgrade", "--sql"], ["current"]])
def test_upgrade_and_current_refuse_a_bad_url_in_one_line(url: str, words: list[str], command: list[str], tmp_path: Path) -> None:
    assert_one_line_error(run_cli("db", *command, "--url", url, home=tmp_path), *words)


def test_unwritable_sqlite_location(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_one_line_error(run_cli("db", "init", "--url", f"sqlite:///{blocker}/sub/x.db", home=tmp_path), f"folder {blocker}/sub does not exist")
    # The embedded default's folder (the instance folder) is created, when it can be.
    assert_one_line_error(run_cli("db", "init", home=tmp_path, env={"SHARDCRON_INSTANCE_DIR": str(blocker / "sub")}), "cannot create the folder")


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


@pytest.mark.postgres
def test_postgresql_unknown_user_missing_database_and_privileges(postgres_url: str, tmp_path: Path) -> None:
    base = sa.engine.make_url(postgres_url)
    # The test server trusts local connections, so a wrong password cannot be shown; an unknown
    # user is refused the same way (and a password server says "password authentication failed").
    stranger = base.set(username=f"nobody_{uuid.uuid4().hex[:8]}", password="definitely-wrong")
    assert_one_line_error(run_cli("db", "init", "--url", stranger.render_as_string(hide_password=False), home=tmp_path), "access denied", "***")
    missing_db = base.set(database=base.database + "_absent")
    assert_one_line_error(run_cli("db", "init", "--url", missing_db.render_as_string(hide_password=False), home=tmp_path), "does not exist")

    user = f"sc_ro_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {user} LOGIN PASSWORD 'pw-{user}'")
        conn.exec_driver_sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    try:
        read_only = base.set(username=user, password=f"pw-{user}")
        result = run_cli("db", "init", "--url", read_only.render_as_string(hide_password=False), home=tmp_path)
        assert_one_line_error(result, "lacks a privilege")
        with admin.connect() as conn:  # nothing half-written
            assert conn.exec_driver_sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").scalar_one() == 0
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {user}")
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {user}")
        admin.dispose()


# ----------------------------------------------------------------------------- current, history, --sql


def test_current_says_where_each_kind_of_database_stands(db_url: str, tmp_path: Path) -> None:
    released_database(db_url, RELEASES[0], "admin", {})
    released = run_cli("db", "current", "--url", db_url, home=tmp_path)
    assert released.returncode == 0 and "the schema of shardcron 0.1.0" in released.stdout and "run `shardcron db upgrade`" in released.stdout
    assert_one_line_error(run_cli("db", "current", "--check", "--url", db_url, home=tmp_path), "shardcron 0.1.0", "run `shardcron db upgrade`")

    upgraded = run_cli("db", "upgrade", "--url", db_url, home=tmp_path)
    assert upgraded.returncode == 0 and f"from the schema of shardcron 0.1.0 to revision {HEAD}" in upgraded.stdout
    current = run_cli("db", "current", "--check", "--url", db_url, home=tmp_path)
    assert current.returncode == 0 and current.stdout.strip().endswith(f"revision {HEAD} (head), up to date")

    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {ADMIN_SCHEMA.version_table} SET version_num = '9999'")
    engine.dispose()
    newer = run_cli("db", "current", "--url", db_url, home=tmp_path)
    assert newer.returncode == 0 and "revision 9999, newer than this shardcron" in newer.stdout
    assert_one_line_error(run_cli("db", "upgrade", "--url", db_url, home=tmp_path), "revision 9999, newer than this shardcron", "run the shardcron version that upgraded it")
    assert _revision(db_url) == "9999"


def test_reading_commands_never_create_a_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'absent.db'}"
    assert_one_line_error(run_cli("db", "current", "--url", url, home=tmp_path), "no such SQLite file", "shardcron db init")
    assert_one_line_error(run_cli("db", "upgrade", "--sql", "--url", url, home=tmp_path), "no such SQLite file")
    assert not (tmp_path / "absent.db").exists()


def test_history_lists_the_revisions_newest_first(tmp_path: Path) -> None:
    result = run_cli("db", "history", home=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(f"{HEAD} (head)") and lines[-1].startswith("0001")
    assert "Baseline: the admin schema of shardcron 0.1.0" in lines[-1]


def _apply_as_a_dba(url: str, sql: str, tmp_path: Path) -> None:
    """Run a script the way a DBA would: the sqlite3 shell's executescript, or statement by statement."""
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(sa.engine.make_url(url).database) as conn:
            conn.executescript(sql)
        return
    script = tmp_path / "upgrade.sql"
    script.write_text(sql, encoding="utf-8")
    engine = sa.create_engine(url)
    try:
        apply_ddl(engine, script)
    finally:
        engine.dispose()


def test_upgrade_sql_brings_a_released_database_to_head_when_a_dba_runs_it(db_url: str, tmp_path: Path) -> None:
    released_database(db_url, RELEASES[0], "admin", RELEASES[0].admin_rows)
    printed = run_cli("db", "upgrade", "--sql", "--url", db_url, home=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert f"CREATE TABLE {ADMIN_SCHEMA.version_table}" in printed.stdout and "CREATE TABLE sc_job" not in printed.stdout
    assert "the schema of shardcron 0.1.0" in run_cli("db", "current", "--url", db_url, home=tmp_path).stdout  # --sql changed nothing
    _apply_as_a_dba(db_url, printed.stdout, tmp_path)
    assert run_cli("db", "current", "--check", "--url", db_url, home=tmp_path).returncode == 0
    again = run_cli("db", "upgrade", "--sql", "--url", db_url, home=tmp_path)
    assert again.returncode == 0 and again.stdout.startswith("-- the admin database is at revision") and "nothing to apply" in again.stdout


def test_upgrade_sql_from_base_creates_everything_without_a_database(db_url: str, tmp_path: Path) -> None:
    printed = run_cli("db", "upgrade", "--sql", "--from", "base", "--url", db_url, home=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert all(f"CREATE TABLE {table} " in printed.stdout for table in TABLES)
    _apply_as_a_dba(db_url, printed.stdout, tmp_path)
    current = run_cli("db", "current", "--check", "--url", db_url, home=tmp_path)
    assert current.returncode == 0, current.stderr


def test_upgrade_sql_refusals(tmp_path: Path, sqlite_url: str) -> None:
    assert_one_line_error(run_cli("db", "upgrade", "--from", "base", "--url", sqlite_url, home=tmp_path), "--from goes with --sql")
    assert_one_line_error(run_cli("db", "upgrade", "--sql", "--from", "abc", "--url", sqlite_url, home=tmp_path), "--from 'abc'", "shardcron db history")


def test_a_sqlite_url_in_a_missing_folder_is_one_clear_error(tmp_path: Path) -> None:
    from tests.support.cli import assert_one_line_error, run_cli

    missing = tmp_path / "typo" / "deeper"
    for args in (["db", "init", "--url", f"sqlite:///{missing}/x.db"], ["admin", "--database-url", f"sqlite:///{missing}/x.db", "--bind", "127.0.0.1:1"]):
        assert_one_line_error(run_cli(*args, home=tmp_path / "xdg"), f"folder {missing} does not exist")
    assert not (tmp_path / "typo").exists()


def test_reading_commands_leave_no_folder_behind(tmp_path: Path) -> None:
    """`config show`, `db current` and `user list` on a fresh machine create nothing."""
    from tests.support.cli import assert_one_line_error, run_cli

    home = tmp_path / "xdg"
    assert run_cli("config", "show", home=home).returncode == 0
    assert_one_line_error(run_cli("db", "current", home=home), "run `shardcron db init` first")
    assert_one_line_error(run_cli("user", "list", home=home), "run `shardcron db init` first")
    assert not home.exists()
    assert run_cli("db", "init", home=home).returncode == 0  # the embedded default's folder is shardcron's own
    assert (home / "shardcron" / "shardcron.db").is_file()
