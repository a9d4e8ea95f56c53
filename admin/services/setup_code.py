"""The one-time code that the first-run setup page requires.

While no user exists, each admin web process, as it starts, makes sure a setup code exists: a
random code written to `instance_dir/setup_code` (mode 0600) and printed as a ready link. Every
process of one machine shares that file (the first to create it wins); the database holds the
SHA-256 of each node's code in sc_meta (`setup_code:<first 16 hex digits>`), so any web worker
or node can check a code that was printed. Whoever reaches the page without the code, from
loopback too, is refused: another local account or a port forwarded by a container runtime is a
stranger as well. Creating the first user (setup page, `shardcron user create`, the demo)
deletes the digests in the same transaction, and the file is removed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shardcron.core import private_files
from shardcron.core.errors import ShardcronError

from ..db import Database
from ..models import Meta
from .users import SETUP_CODE_PREFIX, count_users

log = logging.getLogger("shardcron.admin")

SETUP_CODE_FILE = "setup_code"
#: Our codes are 43 characters; anything much longer is not one (and is not hashed).
MAX_CODE_LENGTH = 128


def setup_code_path(instance_dir: Path) -> Path:
    return instance_dir / SETUP_CODE_FILE


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def ensure_setup_code(db: Database, instance_dir: Path) -> str | None:
    """The setup code to print while no user exists (created on first call), else None (and a
    stale code file is removed)."""
    path = setup_code_path(instance_dir)
    with db.read_session() as session:
        if count_users(session):
            remove_setup_code_file(instance_dir)
            return None
    try:
        code = private_files.write_once(path, secrets.token_urlsafe(32))
        if not code or len(code) > MAX_CODE_LENGTH:  # a file we did not write: replace it
            path.unlink(missing_ok=True)
            code = private_files.write_once(path, secrets.token_urlsafe(32))
    except OSError as exc:
        raise ShardcronError(
            f"cannot write the first-run setup code to {path} ({exc.strerror}): make instance_dir writable, "
            "or create the first admin with `shardcron user create NAME --admin`"
        ) from None
    digest = _digest(code)
    with db.session() as session:
        if count_users(session):  # the first user appeared meanwhile
            remove_setup_code_file(instance_dir)
            return None
        name = SETUP_CODE_PREFIX + digest[:16]
        if session.get(Meta, name) is None:
            try:
                with session.begin_nested():
                    session.add(Meta(name=name, value=digest))
                    session.flush()
            except IntegrityError:  # another worker recorded the same code a moment ago
                pass
    return code


def code_is_valid(session: Session, code: object) -> bool:
    """True when `code` is a live setup code. Every stored digest is compared in constant time."""
    if not isinstance(code, str) or not code or len(code) > MAX_CODE_LENGTH:
        return False
    wanted = _digest(code).encode("ascii")
    stored = session.scalars(sa.select(Meta.value).where(Meta.name.startswith(SETUP_CODE_PREFIX, autoescape=True)))
    valid = False
    for value in stored:
        if hmac.compare_digest(value.encode("ascii", "replace"), wanted):
            valid = True
    return valid


def remove_setup_code_file(instance_dir: Path) -> None:
    try:
        setup_code_path(instance_dir).unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove the used setup code file %s: %s", setup_code_path(instance_dir), exc.strerror)


def setup_link(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/setup?code={code}"
