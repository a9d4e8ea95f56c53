"""Concurrency caps: at most K runs of an executor group, or of one job, active at once across the
cluster (sc_executor_group.cap_runs, sc_job.cap_runs; NULL is no cap).

Decided in the claim transaction (RunStore.prepare_in), like the overlap policies
(firing.overlap), so exactly once across scheduler nodes:

- The rows of the batch's capped groups, then of its capped jobs, are locked `FOR UPDATE` in id
  order (with the jobs an overlap policy locks: one statement, so two nodes lock alike). Every
  node that writes a run of a capped group holds that group's lock while it counts and writes,
  so two nodes never both see the same free slot.
- One query counts the active runs of all the batch's capped groups, one those of its capped
  jobs. "Active" is what the overlap policies count (overlap.ACTIVE_RUN): PENDING or RUNNING
  rows, which the callback, a kill, the run timeout and lost-run detection all finish, so a hung
  or lost run holds its slot no longer than those bounds.
- Batches with no capped group or job cost nothing: no lock, no query.

Fires are admitted in the batch's order (planned time, then id) while slots are free; one slot
per run the fire writes, so a sharding broadcast takes one per shard and is admitted whole or not
at all, and a broadcast with more shards than the cap is skipped (it could never start within
it). A fire over the cap follows its group's `cap_policy`: WAIT makes it wait (BUFFERED, claimed
again every tick once due, as overlap's waiting fires are) until a slot is free, or until it has
waited `cap_wait_s` past its planned time, when it is skipped; SKIP skips it. A fire planned
after now (claimed within the lookahead) is not skipped on what is true now: it waits for its
time. While a fire waits for a group's (job's) slot, the batch's later fires of that group (job)
wait behind it, so waiting fires start in planned-time order. Each decision is noted on the fire
(sc_fire.overlap_note, the fire's decision note).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..enums import CapPolicy, FireStatus
from ..models import ExecutorGroup, Fire, Job, RunLog
from .fire_store import ClaimedFire
from .id_lists import in_ids
from .overlap import ACTIVE_RUN, Verdict


@dataclass(slots=True)
class Slots:
    """One cap and what holds it: `active` runs (those of this batch included)."""

    kind: str  # "group" or "job", as notes name it
    cap: int
    active: int = 0
    #: A fire of this batch waits for a slot here: later fires wait behind it.
    queued: int | None = None

    def says(self) -> str:
        return f"{self.kind} cap {self.cap} reached, {self.active} run{'' if self.active == 1 else 's'} active"


def lock_rows(session: Session, group_ids: Iterable[int], job_ids: Iterable[int]) -> None:
    """The decisions' locks: groups first, then jobs, each in id order, so that nodes lock alike.
    `key_share`: FOR NO KEY UPDATE on PostgreSQL, which serializes the deciders without blocking a
    job saved meanwhile (its foreign key share-locks the group row); FOR UPDATE elsewhere."""
    for table, ids in ((ExecutorGroup.__table__, sorted(set(group_ids))), (Job.__table__, sorted(set(job_ids)))):
        if ids:
            session.execute(sa.select(table.c.id).where(in_ids(table.c.id, ids)).order_by(table.c.id).with_for_update(key_share=True))


class CapBatch:
    """The caps of one claim's capped groups and jobs (see the module's docstring)."""

    def __init__(self, groups: dict[int, Slots], jobs: dict[int, Slots]) -> None:
        self.groups = groups
        self.jobs = jobs
        self.notes: dict[int, str] = {}
        self.waiting: list[int] = []

    @classmethod
    def load(cls, session: Session, group_caps: dict[int, int], job_caps: dict[int, int]) -> CapBatch:
        """Counts the active runs of `group_caps` and `job_caps` (id -> cap); the caller locked
        their rows (lock_rows)."""
        run_t = RunLog.__table__.c
        groups = {group_id: Slots("group", cap) for group_id, cap in group_caps.items()}
        jobs = {job_id: Slots("job", cap) for job_id, cap in job_caps.items()}
        for column, slots in ((run_t.group_id, groups), (run_t.job_id, jobs)):
            if slots:
                counted = session.execute(sa.select(column, sa.func.count()).where(ACTIVE_RUN, in_ids(column, slots)).group_by(column))
                for owner_id, count in counted:
                    slots[owner_id].active = count
        return cls(groups, jobs)

    def check(self, fire: ClaimedFire, job_id: int, group_id: int, needed: int, policy: CapPolicy, wait_s: int, now_ms: int) -> Verdict:
        """START when the fire's `needed` runs fit under its group's and its job's caps (take them
        with `take` once the fire really starts); else WAIT or SKIP, noted on the fire."""
        held = [slots for slots in (self.groups.get(group_id), self.jobs.get(job_id)) if slots is not None]
        for slots in held:
            if needed > slots.cap:
                return self._skip(fire, f"skipped: its {needed} shards need {needed} slots, {slots.kind} cap is {slots.cap}")
        full = next((slots for slots in held if slots.queued is not None or slots.active + needed > slots.cap), None)
        if full is None:
            if fire.from_waiting:
                self.notes[fire.id] = f"started: a slot was free ({', '.join(f'{s.kind} cap {s.cap}, {s.active} active' for s in held)})"
            return Verdict.START
        behind = f"fire {full.queued} waits before it, " if full.queued is not None else ""
        if fire.fire_at_ms > now_ms:
            return self._wait(fire, held, f"waits for its time: {behind}{full.says()}")
        if policy == CapPolicy.SKIP:
            return self._skip(fire, f"skipped: {behind}{full.says()}")
        if now_ms - fire.fire_at_ms > wait_s * 1000:
            return self._skip(fire, f"skipped: waited longer than {wait_s} s, {behind}{full.says()}")
        return self._wait(fire, held, f"waits: {behind}{full.says()} (WAIT up to {wait_s} s)")

    def take(self, job_id: int, group_id: int, runs: int) -> None:
        """The fire started `runs` runs (rows written in this transaction): they hold slots."""
        for slots in (self.groups.get(group_id), self.jobs.get(job_id)):
            if slots is not None:
                slots.active += runs

    def _skip(self, fire: ClaimedFire, note: str) -> Verdict:
        self.notes[fire.id] = note
        return Verdict.SKIP

    def _wait(self, fire: ClaimedFire, held: list[Slots], note: str) -> Verdict:
        self.notes[fire.id] = note
        self.waiting.append(fire.id)
        for slots in held:
            if slots.queued is None:
                slots.queued = fire.id
        return Verdict.WAIT

    def write(self, session: Session, noted_elsewhere: Iterable[int] = ()) -> None:
        """Record the batch's decisions in the claim transaction: waiting fires go back unowned,
        notes are kept (except on fires whose overlap decision already wrote one)."""
        fire_t = Fire.__table__.c
        if self.waiting:
            session.execute(sa.update(Fire.__table__).where(in_ids(fire_t.id, self.waiting)).values(status=FireStatus.BUFFERED, owner=None))
        skip = set(noted_elsewhere)
        by_note: dict[str, list[int]] = {}
        for fire_id, note in self.notes.items():
            if fire_id not in skip:
                by_note.setdefault(note[:255], []).append(fire_id)
        for note, ids in by_note.items():
            session.execute(sa.update(Fire.__table__).where(in_ids(fire_t.id, ids)).values(overlap_note=note))
