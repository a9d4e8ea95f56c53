"""The calendars a scheduler node keeps in memory for the due jobs that use them.

A tick whose due jobs include one with calendars reads every calendar's (id, version) once, one
small query, and reloads only the calendars whose version moved (or that are new); a calendar
edited through any node's console or API bumps its version, so every scheduler node sees the
edit on its next tick that needs it. A due job with calendars then costs no query of its own: its
`Exclusions` come from a dict keyed by its `calendar_ids` text. Jobs without calendars never
reach this module.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from ..calendar_rows import LoadedCalendar, calendar_versions, load_calendars, parse_calendar_ids
from ..schedules.exclusions import Exclusions

log = logging.getLogger("shardcron.admin.scheduling")


class CalendarCache:
    def __init__(self) -> None:
        self._calendars: dict[int, LoadedCalendar] = {}
        self._by_ids: dict[str, Exclusions] = {}
        #: How many times calendars were (re)loaded from the database (tests read it).
        self.loads = 0

    def refreshed(self, session: Session) -> CalendarCache:
        """Bring the cache up to date with the database (in the caller's transaction)."""
        versions = calendar_versions(session)
        known = {cid: c.version for cid, c in self._calendars.items()}
        if versions == known:
            return self
        stale = [cid for cid, version in versions.items() if known.get(cid) != version]
        fresh = load_calendars(session, stale) if stale else {}
        self.loads += 1
        self._calendars = {cid: fresh.get(cid) or self._calendars[cid] for cid in versions if cid in fresh or cid in self._calendars}
        self._by_ids.clear()
        return self

    def exclusions(self, calendar_ids: str) -> Exclusions:
        """The union of the excluded dates of the calendars a job names (ids no longer there
        exclude nothing: a calendar is deleted only when no job uses it)."""
        found = self._by_ids.get(calendar_ids)
        if found is None:
            cals = [self._calendars[cid] for cid in parse_calendar_ids(calendar_ids) if cid in self._calendars]
            found = self._by_ids[calendar_ids] = Exclusions.of((c.timezone, c.ranges) for c in cals)
        return found
