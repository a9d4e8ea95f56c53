"""The job form's option lists and help texts, from the enums the services validate against."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l

from shardcron.core.protocol import BlockStrategy, GlueType

from ..enums import Delivery, MisfireStrategy, OverlapPolicy, RouteStrategy, ScheduleType

SCHEDULE_HELP = {
    ScheduleType.CRON.value: _l("Cron: 5 fields (min hour dom mon dow) or Quartz 6/7 fields with seconds first, e.g. 0 */5 * * * ? — read in the job's time zone."),
    ScheduleType.FIX_RATE.value: _l("Every N seconds: a whole number, e.g. 30."),
    ScheduleType.NONE.value: _l("No schedule: the job runs only when triggered by hand, by the API or as a child job. Leave the field empty."),
}

#: The delivery select's help: what each choice does, in plain words.
DELIVERY_HELP = _l(
    "If a run's delivery cannot be confirmed after a scheduler failure: skip it and alarm (at most once) "
    "or send it again (at least once; the handler may then run twice)."
)

#: The overlap select's help.
OVERLAP_HELP = _l(
    "What a fire does while a run of this job is still active on any executor. The block strategy only sees one executor; "
    "this setting holds across the whole cluster. The decision is recorded on the fire."
)

_LABELS: dict[str, dict[Any, str]] = {
    "route_strategy": {
        RouteStrategy.SHARDING_BROADCAST: _l("SHARDING_BROADCAST — every live executor, shard i of n"),
        RouteStrategy.FAILOVER: _l("FAILOVER — first that answers /beat"),
        RouteStrategy.BUSYOVER: _l("BUSYOVER — first that is idle for this job"),
    },
    "block_strategy": {
        BlockStrategy.SERIAL_EXECUTION: _l("SERIAL_EXECUTION — queue behind the running one"),
        BlockStrategy.DISCARD_LATER: _l("DISCARD_LATER — refuse while one runs"),
        BlockStrategy.COVER_EARLY: _l("COVER_EARLY — stop the running one"),
    },
    "misfire_strategy": {
        MisfireStrategy.DO_NOTHING: _l("DO_NOTHING — skip missed fires"),
        MisfireStrategy.FIRE_ONCE_NOW: _l("FIRE_ONCE_NOW — fire once to catch up"),
        MisfireStrategy.CATCH_UP_ALL: _l("CATCH_UP_ALL — fire every missed time within the window"),
        MisfireStrategy.CATCH_UP_LATEST: _l("CATCH_UP_LATEST — fire the latest missed time within the window"),
    },
    "overlap_policy": {
        OverlapPolicy.ALLOW_ALL: _l("ALLOW_ALL — start it anyway"),
        OverlapPolicy.SKIP: _l("SKIP — do not start it"),
        OverlapPolicy.BUFFER_ONE: _l("BUFFER_ONE — start it when the run ends (one waits)"),
        OverlapPolicy.BUFFER_ALL: _l("BUFFER_ALL — start each one after the other"),
        OverlapPolicy.CANCEL_OTHER: _l("CANCEL_OTHER — kill the running one, then start"),
        OverlapPolicy.TERMINATE_OTHER: _l("TERMINATE_OTHER — fail the running one and start at once"),
    },
    "delivery": {
        Delivery.AT_MOST_ONCE: _l("AT_MOST_ONCE — skip it and alarm"),
        Delivery.AT_LEAST_ONCE: _l("AT_LEAST_ONCE — send it again"),
    },
}


def _options(name: str, enum_cls) -> list[tuple[str, str]]:
    labels = _LABELS.get(name, {})
    return [(member.value, str(labels.get(member, member.value))) for member in enum_cls]


def schedule_help() -> dict[str, str]:
    """The help of each schedule type in the request's language (for the form's data attribute)."""
    return {key: str(text) for key, text in SCHEDULE_HELP.items()}


def choices_for() -> dict[str, list[tuple[str, str]]]:
    return {
        "schedule_type": _options("schedule_type", ScheduleType),
        "misfire_strategy": _options("misfire_strategy", MisfireStrategy),
        "delivery": _options("delivery", Delivery),
        "overlap_policy": _options("overlap_policy", OverlapPolicy),
        "route_strategy": _options("route_strategy", RouteStrategy),
        "block_strategy": _options("block_strategy", BlockStrategy),
        "glue_type": _options("glue_type", GlueType),
    }


@lru_cache(maxsize=1)
def timezone_names() -> list[str]:
    return sorted(name for name in available_timezones() if "/" in name or name == "UTC")
