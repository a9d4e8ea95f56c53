"""`shardcron user ...`: console users from the command line (the first admin, API tokens)."""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa

from shardcron.core.clock import SYSTEM_CLOCK

from ..enums import UserRole
from ..models import ExecutorGroup, User
from ..texts import untranslated
from ..services import users
from ..services.actor import SYSTEM_ACTOR, cli_actor
from ..services.errors import ServiceError
from ..services.setup_code import remove_setup_code_file
from .serve_cmd import prepare_database


@click.group()
def user() -> None:
    """Manage console users."""


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise ServiceError(untranslated("no password on standard input"))
        return line.rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt="Repeat password")


@user.command("create")
@click.argument("username")
@click.option("--admin", "is_admin", is_flag=True, help="Create an ADMIN (default: a USER who sees only the granted groups).")
@click.option("--group", "groups", multiple=True, metavar="APP", help="Grant the executor group with this app name (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input instead of prompting.")
@click.option("--database-url", default=None, help="Admin database URL (default: the configured one, else the embedded SQLite file).")
@click.pass_obj
def create(state, username: str, is_admin: bool, groups: tuple[str, ...], password_stdin: bool, database_url: str | None) -> None:
    """Create a console user. The password is asked for twice (or read with --password-stdin)."""
    config = state.config(database_url=database_url)
    database = prepare_database(config)  # first: no password typed for a database we cannot use
    try:
        password = _read_password(password_stdin)
        with database.session() as session:
            known: dict[str, int] = {}
            if groups:
                for name, group_id in session.execute(sa.select(ExecutorGroup.app_name, ExecutorGroup.id).where(ExecutorGroup.app_name.in_(groups))):
                    known[name] = group_id
            missing = [app_name for app_name in groups if app_name not in known]
            role = UserRole.ADMIN if is_admin else UserRole.USER
            try:
                view = users.create_user(session, cli_actor(), username, password, role, list(known.values()), now_ms=SYSTEM_CLOCK.now_ms())
            except ServiceError as exc:
                if not missing:
                    raise
                # One answer names every problem: the unknown groups and the service's own findings.
                raise ServiceError(untranslated(f"{exc.message}; {_no_such_groups(missing)}")) from None
            if missing:  # raised inside the session: the user just added is rolled back
                raise ServiceError(untranslated(f"user not created: {_no_such_groups(missing)}"))
    finally:
        database.dispose()
    remove_setup_code_file(config.instance_dir)  # the setup code died with the first user
    granted = f", groups {', '.join(groups)}" if groups else ""
    click.echo(f"created user {view.username} (id {view.id}, role {view.role.value}{granted})")


def _no_such_groups(app_names: list[str]) -> str:
    listed = ", ".join(repr(name) for name in app_names)
    return f"no executor group with app name {listed}" if len(app_names) == 1 else f"no executor groups with app names {listed}"


@user.command("list")
@click.option("--database-url", default=None, help="Admin database URL (default: the configured one, else the embedded SQLite file).")
@click.pass_obj
def list_cmd(state, database_url: str | None) -> None:
    """List console users with their role and granted groups."""
    config = state.config(database_url=database_url)
    database = prepare_database(config, must_exist=True)
    try:
        with database.read_session() as session:
            views = users.list_users(session, SYSTEM_ACTOR)
            names = {gid: app for gid, app in session.execute(sa.select(ExecutorGroup.id, ExecutorGroup.app_name))}
    finally:
        database.dispose()
    if not views:
        click.echo("no users yet: create the first admin with `shardcron user create NAME --admin`")
    for view in views:
        granted = ",".join(names.get(g, str(g)) for g in view.group_ids) or "-"
        click.echo(f"{view.id}\t{view.username}\t{view.role.value}\tgroups={granted}\ttoken={'yes' if view.has_api_token else 'no'}")


@user.command("token")
@click.argument("username")
@click.option("--database-url", default=None, help="Admin database URL (default: the configured one, else the embedded SQLite file).")
@click.pass_obj
def token(state, username: str, database_url: str | None) -> None:
    """Issue a new REST API token for USERNAME (replacing the old one) and print it once."""
    config = state.config(database_url=database_url)
    database = prepare_database(config, must_exist=True)
    try:
        with database.session() as session:
            user_id = session.scalar(sa.select(User.id).where(User.username == username))
            if user_id is None:
                raise ServiceError(untranslated(f"no user named {username!r}"))
            value = users.issue_api_token(session, cli_actor(), user_id, now_ms=SYSTEM_CLOCK.now_ms())
    finally:
        database.dispose()
    click.echo(value)
