"""Kept versions of each job's script: record, list, show with its diff, roll back.

Every change of a job's glue_type or glue_source is written as a `GlueVersion` row in the same
transaction as the change, naming who, when and why (the remark); the newest `KEEP_VERSIONS` per
job are kept (XXL-JOB keeps 30). A rollback writes the chosen version's type and source back to
the job through the same checks as an edit (so it needs the same right), and is itself a new
version.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..models import GlueVersion, Job
from .access import load_job
from .actor import Actor
from ..texts import _t
from .errors import FieldErrors, NotFound

KEEP_VERSIONS = 30
MAX_REMARK_CHARS = 128


@dataclass(frozen=True)
class GlueVersionView:
    id: int
    job_id: int
    glue_type: str
    remark: str
    author_user_id: int | None
    author_name: str
    created_at_ms: int


@dataclass(frozen=True)
class GlueVersionDetail:
    version: GlueVersionView
    glue_source: str | None
    #: The version before this one (None for the oldest kept version).
    previous_id: int | None
    #: A unified diff from the previous version's source to this one's ("" when equal or first).
    diff: str


def _view(row: GlueVersion) -> GlueVersionView:
    return GlueVersionView(
        id=row.id,
        job_id=row.job_id,
        glue_type=row.glue_type,
        remark=row.remark,
        author_user_id=row.author_user_id,
        author_name=row.author_name,
        created_at_ms=row.created_at_ms,
    )


def check_remark(value: object) -> str:
    """The remark of a script change: optional text, at most MAX_REMARK_CHARS, one line."""
    errors = FieldErrors()
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add("glue_remark", _t("must be text"))
    elif len(value.strip()) > MAX_REMARK_CHARS:
        errors.add("glue_remark", _t("is %(length)s characters long; at most %(limit)s fit", length=len(value.strip()), limit=MAX_REMARK_CHARS))
    elif any(ch in value for ch in "\x00\r\n"):
        errors.add("glue_remark", _t("must be one line of text"))
    errors.raise_if_any(_t("script not saved"))
    return value.strip() if isinstance(value, str) else ""


def record_version(session: Session, actor: Actor, job: Job, remark: str, *, now_ms: int) -> GlueVersion:
    """Keep the job's current script as a new version, and drop versions beyond KEEP_VERSIONS."""
    row = GlueVersion(
        job_id=job.id,
        glue_type=str(job.glue_type),
        glue_source=job.glue_source,
        remark=remark,
        author_user_id=actor.user_id,
        author_name=actor.username[:64],
        created_at_ms=now_ms,
    )
    session.add(row)
    session.flush()
    keep = sa.select(GlueVersion.id).where(GlueVersion.job_id == job.id).order_by(GlueVersion.id.desc()).limit(KEEP_VERSIONS)
    oldest_kept = session.scalar(sa.select(sa.func.min(keep.subquery().c.id)))
    session.execute(sa.delete(GlueVersion).where(GlueVersion.job_id == job.id, GlueVersion.id < oldest_kept))
    return row


def list_versions(session: Session, actor: Actor, job_id: int) -> list[GlueVersionView]:
    """The job's kept versions, newest first."""
    job = load_job(session, actor, job_id)
    rows = session.scalars(sa.select(GlueVersion).where(GlueVersion.job_id == job.id).order_by(GlueVersion.id.desc()))
    return [_view(row) for row in rows]


def _load_version(session: Session, job: Job, version_id: int) -> GlueVersion:
    in_range = isinstance(version_id, int) and 0 < version_id < 2**63  # beyond 64 bits: no row's id
    row = session.get(GlueVersion, version_id) if in_range else None
    if row is None or row.job_id != job.id:
        raise NotFound("script version", version_id, _t("job %(job)s has no script version %(id)s", job=job.id, id=version_id))
    return row


def unified_diff(before: str | None, after: str | None, *, before_name: str, after_name: str) -> str:
    lines = difflib.unified_diff(
        (before or "").splitlines(keepends=True), (after or "").splitlines(keepends=True), fromfile=before_name, tofile=after_name
    )
    # A last line without a newline would run into the next diff line.
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def get_version(session: Session, actor: Actor, job_id: int, version_id: int) -> GlueVersionDetail:
    """One version with its source and the diff from the version before it."""
    job = load_job(session, actor, job_id)
    row = _load_version(session, job, version_id)
    previous = session.scalar(
        sa.select(GlueVersion).where(GlueVersion.job_id == job.id, GlueVersion.id < row.id).order_by(GlueVersion.id.desc()).limit(1)
    )
    diff = ""
    if previous is not None:
        diff = unified_diff(
            previous.glue_source,
            row.glue_source,
            before_name=f"version {previous.id} ({previous.glue_type})",
            after_name=f"version {row.id} ({row.glue_type})",
        )
    return GlueVersionDetail(_view(row), row.glue_source, previous.id if previous else None, diff)


def version_for_rollback(session: Session, actor: Actor, job_id: int, version_id: int) -> GlueVersion:
    """The version to roll back to (404 unless it is one of this job's kept versions)."""
    return _load_version(session, load_job(session, actor, job_id), version_id)
