"""The two recipes `shardcron demo` shows besides its own jobs, each in an executor group of its own
with the recipe's own executor application (executor/examples/):

- **Work orders until someone is on shift** (`work_orders`): a cron job creates the day's work
  orders, each with a delivery task in the retry-task table of the recipe's SQLite file; the
  drainer (a sharding broadcast every 2 s) tries to deliver them, and fails with backoff while
  the roster has nobody on shift. The roster changes by itself: nobody is scheduled at first,
  then Alice (day off) and Bob (shift cleared), and `shift_after_s` after the jobs start Carol's
  shift begins — the next attempt delivers every order to her, and they are never tried again.
- **A long batch** (`long_batch`): 10,000 items in chunks of 100, paced so the progress can be
  watched, paused at item 5,000 (its checkpoint saved) until its executor is killed from the
  console's Demo page; "repair now" (or lost-run detection) resumes it on the other executor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

SHIFT_APP = "shardcron-demo-shift"
BATCH_APP = "shardcron-demo-batch"
SHIFT_TARGET = "shardcron.executor.examples.work_orders:create_executor"
BATCH_TARGET = "shardcron.executor.examples.long_batch:create_executor"
#: The recipes' business database is named by this variable (both recipes read it).
DATABASE_URL_ENV = "SHARDCRON_EXAMPLE_DATABASE_URL"
#: The work orders' first backoff delay, in seconds (the cap is 15 times it).
RETRY_BASE_ENV = "SHARDCRON_EXAMPLE_RETRY_BASE_S"
TEAM = "maintenance"  # work_orders.WorkOrderSettings.team
BATCH_ITEMS = 10_000
BATCH_PAUSE_AT = 5_000
SHIFT_JOB = "deliver work orders"
BATCH_JOB = "long batch (kill its executor)"
#: Long enough to end after the demo whatever it lasts.
SHIFT_LENGTH_MS = 8 * 3_600_000


@dataclass(frozen=True)
class RecipeGroup:
    app_name: str
    title: str
    #: (job fields, start it, trigger it once now) for each job of the group.
    jobs: list[tuple[dict, bool, bool]] = field(default_factory=list)


def recipe_groups() -> list[RecipeGroup]:
    return [
        RecipeGroup(
            SHIFT_APP,
            "demo: work orders until someone is on shift",
            [
                (
                    # Each minute, and once at start: only the first fire of the day creates orders.
                    {"name": "create work orders", "handler": "createWorkOrders", "schedule_type": "CRON", "schedule_conf": "0 * * * * ?"},
                    True, True,
                ),
                (
                    {"name": SHIFT_JOB, "handler": "retryTaskDrainer", "param": "budget_s=1 batch=100 concurrency=2", "schedule_type": "FIX_RATE",
                     "schedule_conf": "2", "route_strategy": "SHARDING_BROADCAST", "block_strategy": "DISCARD_LATER", "delivery": "AT_LEAST_ONCE"},
                    True, False,
                ),
            ],
        ),
        RecipeGroup(
            BATCH_APP,
            "demo: a long batch with checkpoints and repair",
            [
                (
                    # FAILOVER: a re-run goes to an executor that answers; one retry, so that
                    # lost-run detection also resumes it when nobody presses "repair now".
                    {"name": BATCH_JOB, "handler": "longBatch", "param": f"items={BATCH_ITEMS} pause_at={BATCH_PAUSE_AT} pace_ms=200",
                     "schedule_type": "NONE", "schedule_conf": "", "route_strategy": "FAILOVER", "retry_count": 1},
                    False, True,
                ),
            ],
        ),
    ]


def write_roster(url: str, jobs_start_ms: int, shift_after_s: int) -> int:
    """The shift recipe's roster for this demo, relative to when the jobs start: nobody scheduled
    for the first half of `shift_after_s`, then Alice (day off) and Bob (cleared), and Carol on
    shift from `shift_after_s` on. Returns when Carol's shift starts (epoch ms)."""
    from shardcron.executor.examples.roster import Roster, ShiftState

    engine = sa.create_engine(url)
    try:
        roster = Roster(engine)
        roster.create_table()
        others_from = jobs_start_ms + shift_after_s * 500
        carol_from = jobs_start_ms + shift_after_s * 1000
        ends = jobs_start_ms + SHIFT_LENGTH_MS
        roster.add_shift(TEAM, "alice", others_from, ends, ShiftState.DAY_OFF)
        bob = roster.add_shift(TEAM, "bob", others_from, ends)
        roster.set_state(bob, ShiftState.CLEARED)
        roster.add_shift(TEAM, "carol", carol_from, ends)
    finally:
        engine.dispose()
    return carol_from
