"""`shardcron user create|list|token`: the first admin from the command line; no default user."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from shardcron.admin.cli import main
from shardcron.admin.db import Database, init_schema
from shardcron.admin.models import ExecutorGroup, User
from shardcron.admin.services import passwords, users


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "DEFAULT_COST", passwords.ScryptCost(log2_n=10))


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_create_admin_with_prompt_then_login(db_url: str) -> None:
    if not db_url.startswith("sqlite"):  # a server's schema is the operator's to create
        refused = invoke("user", "create", "root", "--admin", "--database-url", db_url, input="long password 1\nlong password 1\n")
        assert refused.exit_code == 1 and "run `shardcron db init` first" in refused.output
        assert "Password" not in refused.output
        assert invoke("db", "init", "--url", db_url).exit_code == 0
    result = invoke("user", "create", "root", "--admin", "--database-url", db_url, input="long password 1\nlong password 1\n")
    assert result.exit_code == 0, result.output
    assert "created user root" in result.output and "ADMIN" in result.output
    db = Database(db_url)
    try:
        with db.session() as s:
            assert users.authenticate(s, "root", "long password 1", 0).is_admin
    finally:
        db.dispose()


def test_prompt_must_match(sqlite_url: str) -> None:
    result = invoke("user", "create", "root", "--database-url", sqlite_url, input="long password 1\nother password\nlong password 2\nlong password 2\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output


def test_user_with_groups_from_stdin_and_token(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    init_schema(db.engine)
    with db.session() as s:
        s.add(ExecutorGroup(app_name="billing", title="Billing", created_at_ms=1, updated_at_ms=1))
    result = invoke("user", "create", "bob", "--group", "billing", "--password-stdin", "--database-url", sqlite_url, input="bobs password\n")
    assert result.exit_code == 0, result.output
    listing = invoke("user", "list", "--database-url", sqlite_url)
    assert "bob\tUSER\tgroups=billing\ttoken=no" in listing.output
    token = invoke("user", "token", "bob", "--database-url", sqlite_url).output.strip()
    with db.session() as s:
        actor = users.actor_for_token(s, token, 0)
        assert actor.username == "bob" and len(actor.group_ids) == 1
    db.dispose()


def test_errors_are_one_line_and_nothing_is_saved(sqlite_url: str) -> None:
    for args, stdin, words in [
        (["user", "create", "bob", "--password-stdin"], "short\n", "password: must be at least 10"),
        (["user", "create", "bob", "--group", "nope", "--password-stdin"], "long enough pw\n", "no executor group with app name 'nope'"),
        (["user", "create", "bad name", "--password-stdin"], "long enough pw\n", "username:"),
        (["user", "token", "ghost"], None, "no user named 'ghost'"),
    ]:
        result = invoke(*args, "--database-url", sqlite_url, input=stdin)
        assert result.exit_code == 1, result.output
        assert result.output.startswith("error: ") and words in result.output, result.output
    assert "no users yet" in invoke("user", "list", "--database-url", sqlite_url).output
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(User)).scalar_one() == 0
    engine.dispose()


def test_real_command_creates_user_in_the_default_sqlite_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")}
    env["XDG_DATA_HOME"] = str(tmp_path)
    script = Path(sys.executable).parent / "shardcron"
    out = subprocess.run(
        [str(script), "user", "create", "admin", "--admin", "--password-stdin"],
        input="a real password\n", capture_output=True, text=True, env=env, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shardcron' / 'shardcron.db'}")
    with engine.connect() as conn:
        stored = conn.execute(sa.select(User.password_hash).where(User.username == "admin")).scalar_one()
    engine.dispose()
    # The real command uses the full cost.
    assert stored.startswith("$scrypt$ln=15,r=8,p=1$") and passwords.verify_password("a real password", stored)


def test_the_command_line_is_audited_as_cli_with_the_login_name(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from shardcron.admin.models import AuditEntry

    monkeypatch.setenv("LOGNAME", "operator-ann")  # getpass.getuser() reads it first
    assert invoke("user", "create", "root", "--admin", "--password-stdin", "--database-url", sqlite_url, input="long password 1\n").exit_code == 0
    token = invoke("user", "token", "root", "--database-url", sqlite_url).output.strip()
    db = Database(sqlite_url)
    try:
        with db.read_session() as s:
            rows = [(e.action, e.actor_kind, e.actor_name, e.actor_user_id, e.client_address, e.target_name) for e in s.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))]
            text = " ".join(f"{e.before_json} {e.after_json}" for e in s.scalars(sa.select(AuditEntry)))
    finally:
        db.dispose()
    assert rows == [
        ("user.create", "CLI", "operator-ann", None, "local", "root"),
        ("token.create", "CLI", "operator-ann", None, "local", "root: default"),
    ]
    assert token and token not in text and "long password 1" not in text


def test_user_create_reports_every_problem_at_once(tmp_path: Path) -> None:
    """Unknown groups, a bad name and a short password: one line names them all, nothing is saved."""
    url = f"sqlite:///{tmp_path / 'admin.db'}"
    db = Database(url)
    init_schema(db.engine)
    with db.session() as s:
        s.add(ExecutorGroup(app_name="billing", title="Billing", created_at_ms=1, updated_at_ms=1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")} | {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    command = [sys.executable, "-m", "shardcron.admin.cli", "user", "create", "--password-stdin", "--database-url", url]
    both = subprocess.run(
        [*command, "bad name", "--group", "nope", "--group", "billing", "--group", "gone"], input="short\n", env=env, capture_output=True, text=True, timeout=60
    )
    assert both.returncode == 1
    lines = both.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: user not created: "), both.stderr
    for words in ("username:", "password: must be at least 10", "no executor groups with app names 'nope', 'gone'"):
        assert words in lines[0]
    groups_only = subprocess.run([*command, "carol", "--group", "nope", "--group", "gone"], input="long enough pw\n", env=env, capture_output=True, text=True, timeout=60)
    assert groups_only.returncode == 1
    assert groups_only.stderr.strip() == "error: user not created: no executor groups with app names 'nope', 'gone'"
    with db.read_session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(User)) == 0  # the valid user "carol" was rolled back
    db.dispose()
