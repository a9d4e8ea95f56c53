"""Named leases (sc_singleton_lease) for monitor work that one scheduler node does at a time.

`acquire(now_ms)` takes the lease when it is free or expired, or renews it for its holder, in one
guarded UPDATE: of several nodes racing, exactly one sees its row changed. A node that dies holds
the work back for at most `lease_ms`. The row's `last_run_at_ms` lets work that is due once an
hour or a day (retention) be spaced across nodes and restarts.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..db import Database, changed_rows
from ..models import SingletonLease
from ..upserts import insert_ignoring_duplicates

_TABLE = SingletonLease.__table__


class Lease:
    def __init__(self, db: Database, name: str, owner: str, lease_ms: int) -> None:
        self.db = db
        self.name = name
        self.owner = owner
        self.lease_ms = lease_ms
        #: After a successful acquire: when the leased work last ran (0 = never).
        self.last_run_at_ms = 0

    def acquire(self, now_ms: int) -> bool:
        with self.db.session() as session:
            insert_ignoring_duplicates(session, _TABLE, [{"name": self.name, "owner": None, "lease_until_ms": 0, "last_run_at_ms": 0}])
            taken = changed_rows(session.execute(
                sa.update(_TABLE)
                .where(_TABLE.c.name == self.name, sa.or_(_TABLE.c.owner == self.owner, _TABLE.c.lease_until_ms <= now_ms))
                .values(owner=self.owner, lease_until_ms=now_ms + self.lease_ms)
            ))
            if taken != 1:
                return False
            self.last_run_at_ms = session.execute(sa.select(_TABLE.c.last_run_at_ms).where(_TABLE.c.name == self.name)).scalar_one()
            return True

    def record_run(self, now_ms: int) -> None:
        """Note that the leased work ran at `now_ms` (only while this node holds the lease)."""
        with self.db.session() as session:
            session.execute(
                sa.update(_TABLE).where(_TABLE.c.name == self.name, _TABLE.c.owner == self.owner).values(last_run_at_ms=now_ms)
            )
        self.last_run_at_ms = now_ms

    def release(self) -> None:
        """Give the lease up (on shutdown) so another node takes over at once."""
        with self.db.session() as session:
            session.execute(sa.update(_TABLE).where(_TABLE.c.name == self.name, _TABLE.c.owner == self.owner).values(owner=None, lease_until_ms=0))


class LeaseHolder:
    """A monitor doing leased work: `close()` (called by the scheduler runner on a clean stop)
    hands the lease back so another node takes the work over at once instead of after `lease_ms`."""

    lease: Lease

    def close(self) -> None:
        self.lease.release()
