"""The admin's vocabularies. Values equal the database strings (and XXL-JOB's names where it has one)."""

from __future__ import annotations

from enum import StrEnum


class AddressType(StrEnum):
    AUTO = "AUTO"  # executors register themselves
    MANUAL = "MANUAL"  # an admin lists the addresses


class ScheduleType(StrEnum):
    NONE = "NONE"
    CRON = "CRON"
    FIX_RATE = "FIX_RATE"


class MisfireStrategy(StrEnum):
    DO_NOTHING = "DO_NOTHING"
    FIRE_ONCE_NOW = "FIRE_ONCE_NOW"
    #: Fire every missed planned time within the job's catch-up window, each at its planned time.
    CATCH_UP_ALL = "CATCH_UP_ALL"
    #: Fire the latest missed planned time within the job's catch-up window.
    CATCH_UP_LATEST = "CATCH_UP_LATEST"


#: The misfire strategies that use the job's `catchup_window_s` (schedules.catchup).
CATCH_UP_STRATEGIES = (MisfireStrategy.CATCH_UP_ALL, MisfireStrategy.CATCH_UP_LATEST)


class RouteStrategy(StrEnum):
    FIRST = "FIRST"
    LAST = "LAST"
    ROUND = "ROUND"
    RANDOM = "RANDOM"
    CONSISTENT_HASH = "CONSISTENT_HASH"
    LEAST_FREQUENTLY_USED = "LEAST_FREQUENTLY_USED"
    LEAST_RECENTLY_USED = "LEAST_RECENTLY_USED"
    FAILOVER = "FAILOVER"
    BUSYOVER = "BUSYOVER"
    SHARDING_BROADCAST = "SHARDING_BROADCAST"


class TriggerType(StrEnum):
    CRON = "CRON"  # a planned fire of the schedule (CRON or FIX_RATE)
    MISFIRE = "MISFIRE"  # FIRE_ONCE_NOW, or a CATCH_UP_* fire at a missed planned time
    MANUAL = "MANUAL"  # console
    API = "API"  # REST API
    RETRY = "RETRY"  # a failed run tried again
    PARENT = "PARENT"  # child job fired by its parent's success
    BACKFILL = "BACKFILL"  # a planned time of a backfill (origin_ref: the backfill's id)
    WORKFLOW = "WORKFLOW"  # a step of a workflow instance (origin_ref: the step run's id)


class FireStatus(StrEnum):
    PENDING = "PENDING"  # recorded, nobody owns it yet
    CLAIMED = "CLAIMED"  # a scheduler owns it under a lease
    DONE = "DONE"  # its run rows exist (or its overlap policy or a cap skipped it); never dispatched again
    #: Waits, unowned, for the job's active run to end (overlap policy BUFFER_*, CANCEL_OTHER) or
    #: for a slot under a concurrency cap (WAIT): the fire loop claims it again each tick once it
    #: is due (firing.overlap, firing.caps).
    BUFFERED = "BUFFERED"


class RunStatus(StrEnum):
    PENDING = "PENDING"  # row written, /run not answered yet
    RUNNING = "RUNNING"  # the executor accepted it
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"  # refused, failed, timed out, killed or lost; the codes say which
    #: Whether the executor got the /run cannot be known (its sender died or stalled after
    #: sending, and the executor could not say), and the job delivers at most once: not re-sent.
    #: A result the executor reports later still finishes it.
    UNKNOWN = "UNKNOWN"


class Delivery(StrEnum):
    """What happens to a /run whose outcome cannot be settled (docs/scheduling.md)."""

    AT_MOST_ONCE = "AT_MOST_ONCE"  # record the run as UNKNOWN, alarm, never send it again
    AT_LEAST_ONCE = "AT_LEAST_ONCE"  # send it again under the same logId


class OverlapPolicy(StrEnum):
    """What a fire of a job does while a run of that job is active anywhere in the cluster
    (docs/scheduling.md, "Overlap policy")."""

    ALLOW_ALL = "ALLOW_ALL"  # start it anyway (the executor's block strategy decides)
    SKIP = "SKIP"  # do not start it
    BUFFER_ONE = "BUFFER_ONE"  # start it once the active run ends; at most one waits
    BUFFER_ALL = "BUFFER_ALL"  # every such fire waits, and they start one after another
    CANCEL_OTHER = "CANCEL_OTHER"  # ask the executor to kill the active run; start when it has ended
    TERMINATE_OTHER = "TERMINATE_OTHER"  # mark the active run failed, kill it, start at once


class CapPolicy(StrEnum):
    """What a fire does when its executor group (or job) already has its concurrency cap of runs
    active (docs/scheduling.md, "Concurrency caps")."""

    WAIT = "WAIT"  # wait (BUFFERED) for a free slot, at most the group's cap_wait_s
    SKIP = "SKIP"  # do not start it


class FollowupStatus(StrEnum):
    NONE = "NONE"  # nothing to do (not failed, or not finished)
    PENDING = "PENDING"  # failed: retry and alarm still to be decided
    DONE = "DONE"


class UserRole(StrEnum):
    ADMIN = "ADMIN"
    USER = "USER"


class AlarmChannel(StrEnum):
    EMAIL = "EMAIL"
    WEBHOOK = "WEBHOOK"


class AlarmStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class ActorKind(StrEnum):
    """How the one who made a change came in (sc_audit.actor_kind)."""

    CONSOLE = "CONSOLE"  # a console session (cookie)
    API_TOKEN = "API_TOKEN"  # the REST API with a user's token
    CLI = "CLI"  # the `shardcron` command line (user, import-xxljob)
    SETUP = "SETUP"  # the console's one-time setup page, before any user exists
    SYSTEM = "SYSTEM"  # the admin on its own behalf (demo set-up, tests)


class AuditTarget(StrEnum):
    """What kind of object an audit entry is about (sc_audit.target_type)."""

    JOB = "job"
    GROUP = "group"
    USER = "user"
    TOKEN = "token"
    RUN = "run"
    BACKFILL = "backfill"
    CALENDAR = "calendar"
    WORKFLOW = "workflow"
    #: An instance of a workflow ("wf_": sc_audit.target_type holds 16 characters).
    WORKFLOW_INSTANCE = "wf_instance"


class AuditAction(StrEnum):
    """What was done (sc_audit.action): `<target>.<verb>`, stable strings for filters and scripts."""

    JOB_CREATE = "job.create"
    JOB_COPY = "job.copy"
    JOB_UPDATE = "job.update"
    JOB_DELETE = "job.delete"
    JOB_START = "job.start"
    JOB_STOP = "job.stop"
    #: The system stopped a job after its pause-on-failure limit of consecutive failed runs.
    JOB_PAUSE = "job.pause"
    JOB_TRIGGER = "job.trigger"
    BACKFILL_CREATE = "backfill.create"
    BACKFILL_CANCEL = "backfill.cancel"
    SCRIPT_CHANGE = "script.change"
    SCRIPT_ROLLBACK = "script.rollback"
    RUN_KILL = "run.kill"
    #: An admin deleted old runs of a job or a group (target: the job or the group).
    RUN_CLEANUP = "run.cleanup"
    #: `shardcron demo` only: an admin killed (SIGKILL) the executor process running a run.
    RUN_EXECUTOR_KILL = "run.executor_kill"
    GROUP_CREATE = "group.create"
    GROUP_UPDATE = "group.update"
    GROUP_DELETE = "group.delete"
    CALENDAR_CREATE = "calendar.create"
    CALENDAR_UPDATE = "calendar.update"
    CALENDAR_DELETE = "calendar.delete"
    WORKFLOW_CREATE = "workflow.create"
    WORKFLOW_UPDATE = "workflow.update"
    WORKFLOW_DELETE = "workflow.delete"
    WORKFLOW_START = "workflow.start"
    WORKFLOW_STOP = "workflow.stop"
    WORKFLOW_TRIGGER = "workflow.trigger"
    #: Operations on one instance (target: the instance).
    WORKFLOW_CANCEL = "workflow.cancel"
    WORKFLOW_RERUN = "workflow.rerun"
    WORKFLOW_SKIP_STEP = "workflow.skip_step"
    USER_CREATE = "user.create"
    USER_DELETE = "user.delete"
    USER_ROLE = "user.role"
    USER_PASSWORD_CHANGE = "user.password_change"
    USER_PASSWORD_RESET = "user.password_reset"
    GRANT_CHANGE = "grant.change"
    SCRIPT_GRANT_CHANGE = "script_grant.change"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"


class BackfillStatus(StrEnum):
    RUNNING = "RUNNING"  # planned times are still to fire, or its runs still to end
    DONE = "DONE"  # every planned time fired and every run ended
    CANCELLED = "CANCELLED"  # stopped by hand: nothing more is started


#: The overlap policies a backfill may have (firing.overlap decides its fires with it).
BACKFILL_POLICIES = (OverlapPolicy.ALLOW_ALL, OverlapPolicy.SKIP, OverlapPolicy.BUFFER_ALL)


class WorkflowStatus(StrEnum):
    """The state of one workflow instance (sc_workflow_instance.status)."""

    WAITING = "WAITING"  # held back by the workflow's overlap policy (BUFFER_ONE) until the active instance ends
    RUNNING = "RUNNING"  # steps are still waiting or running
    SUCCEEDED = "SUCCEEDED"  # every step settled and no failure was left unhandled
    FAILED = "FAILED"  # a step failed with no failure branch (an edge on FAILURE or ALWAYS) out of it
    CANCELLED = "CANCELLED"  # cancelled by hand (running steps killed), or by a CANCEL_OTHER start
    TIMED_OUT = "TIMED_OUT"  # ran past the workflow's timeout (running steps killed)
    SKIPPED = "SKIPPED"  # never started: the overlap policy SKIP found another instance running


#: Instance states that are final (an instance in one of them may still be re-run by hand).
WORKFLOW_FINAL = (WorkflowStatus.SUCCEEDED, WorkflowStatus.FAILED, WorkflowStatus.CANCELLED, WorkflowStatus.TIMED_OUT, WorkflowStatus.SKIPPED)


class StepStatus(StrEnum):
    """The state of one step of one instance (sc_workflow_step_run.status)."""

    WAITING = "WAITING"  # its inbound edges are not settled yet
    FIRED = "FIRED"  # its fire is written: its runs are pending, running or being retried
    SUCCEEDED = "SUCCEEDED"  # every shard's last run succeeded
    FAILED = "FAILED"  # a shard's last run failed (no retry left), or it could not be started
    SKIPPED = "SKIPPED"  # skipped by hand: counts as succeeded for its outbound edges
    NOT_RUN = "NOT_RUN"  # its inbound edges settled without the condition it needs: it never runs
    CANCELLED = "CANCELLED"  # its instance was cancelled or timed out before it ended


#: Step states that are final.
STEP_FINAL = (StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.NOT_RUN, StepStatus.CANCELLED)


class EdgeCondition(StrEnum):
    """When an edge is taken, from the state its source step ended in."""

    SUCCESS = "SUCCESS"  # source SUCCEEDED (or SKIPPED by hand)
    FAILURE = "FAILURE"  # source FAILED
    ALWAYS = "ALWAYS"  # source SUCCEEDED, SKIPPED or FAILED


class JoinMode(StrEnum):
    """How a step with several inbound edges waits."""

    ALL = "ALL"  # runs when every inbound edge settled and all were taken
    ANY = "ANY"  # runs as soon as one inbound edge is taken


#: The overlap policies between a workflow's instances.
WORKFLOW_OVERLAP_POLICIES = (OverlapPolicy.ALLOW_ALL, OverlapPolicy.SKIP, OverlapPolicy.BUFFER_ONE, OverlapPolicy.CANCEL_OTHER)
