"""Claiming a workflow step's fire in the transaction that wrote it.

The callback that brings a step's result advances the step's instance in its own transaction
(rpc/views.py, workflows.advance_in), and that writes the successors' PENDING fires. When this
process runs a fire loop on the same database whose lease term holds, the fires are claimed for
that term there and then (`FireStore.claim_in`) and their run rows written (the dispatcher's
`prepare_claimed`), so their `/run` calls are queued the moment the transaction commits: no wait
for the fire loop to wake and no claim transaction of its own (on MariaDB about ten round trips
per step). Fires written in another process, or while no term holds, stay PENDING for the fire
loops' claims, as before; the writer rings the fire bell for those.

Exactly once, as for any claim: the term's lease row is share-locked in the same transaction,
so an adopter of the term sees the fires; the fires are locked `FOR UPDATE SKIP LOCKED`, so a
fire another claim holds is left to it; the sends go out under the term's fence. Until the
transaction has told how it ended, the dispatcher keeps the fires reserved: a claim of the fire
loop that selects everything its term holds (its first one, or the one after a failure) leaves
them alone. Should the commit fail with its outcome unknown, the fire store recovers the term's
fires at its next claim, treating them as possibly sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..db import Database
from .fire_bell import bell_for

if TYPE_CHECKING:
    from .fire_loop import FireLoop
    from .run_store import Prepared

log = logging.getLogger("shardcron.admin.scheduling")

#: `Session.info` key: the ids of the fires due now that this transaction wrote.
_WRITTEN = "shardcron.due_fires_written"


def note_written(session: Session, fire_ids: list[int]) -> None:
    """`fire_ids` were written in `session`'s transaction, due now (workflows.step_fires)."""
    session.info.setdefault(_WRITTEN, []).extend(fire_ids)


@dataclass
class LocalClaim:
    """Fires claimed in a transaction not yet committed; `accept` after the commit, `abandon`
    when it failed."""

    loop: FireLoop
    prepared: Prepared
    fire_ids: list[int]
    now_ms: int
    #: False when some of the written fires were not claimed here (locked by another claim):
    #: the fire loops are woken for them.
    complete: bool = True
    _settled: bool = field(default=False, repr=False)

    def accept(self) -> None:
        if self._settled:
            return
        self._settled = True
        dispatcher = self.loop.dispatcher
        dispatcher.accept(self.prepared)
        dispatcher.unreserve(self.fire_ids)
        if self.prepared.ended_steps and self.loop.on_steps_ended is not None:
            self.loop.on_steps_ended(self.prepared.ended_steps, self.now_ms)

    def abandon(self, *, commit_unknown: bool) -> None:
        if self._settled:
            return
        self._settled = True
        self.loop.dispatcher.unreserve(self.fire_ids)
        if commit_unknown:
            log.warning("a transaction that claimed %d fire(s) may have committed; the fire loop recovers them", len(self.fire_ids))
            self.loop.store.recover_held()


def claim_written(session: Session, db: Database, now_ms: int) -> LocalClaim | None:
    """Claim the fires `session`'s transaction wrote for now, for this process's fire loop on
    `db`, in that transaction. None when there is nothing to claim, no fire loop of this process
    holds a term, or the claim failed (the fires stay PENDING; the transaction goes on)."""
    written: list[int] = session.info.pop(_WRITTEN, [])
    if not written:
        return None
    loop: FireLoop | None = bell_for(db).local_loop()
    if loop is None:
        return None
    claim: Callable[[], LocalClaim | None] = lambda: loop.claim_in(session, written, now_ms)  # noqa: E731
    try:
        with session.begin_nested():
            return claim()
    except OperationalError:
        raise  # a deadlock or a lost connection: the whole transaction is retried or fails
    except Exception:
        log.exception("fires %s not claimed where they were written; the fire loop claims them", written[:20])
        return None
