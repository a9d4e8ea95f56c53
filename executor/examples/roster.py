"""The roster of the work-orders recipe: who is on shift, kept in a table of the application's
own database (`example_roster_shift`), as a small scheduling tool would keep it.

A shift row says that `person` of `team` works from `starts_at_ms` to `ends_at_ms` (UTC epoch
ms), in state `ON` (working), `CLEARED` (the shift was cancelled) or `DAY_OFF` (the person took
the day off). `on_shift(team, now_ms)` answers with the person on shift at that instant, or with
why nobody is: no shift covers the instant yet, every covering shift was cleared, or everyone
covering it has the day off.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

metadata = sa.MetaData()

roster_shift = sa.Table(
    "example_roster_shift",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("team", sa.String(64), nullable=False),
    sa.Column("person", sa.String(64), nullable=False),
    sa.Column("starts_at_ms", sa.BigInteger, nullable=False),
    sa.Column("ends_at_ms", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Index("ix_roster_team_time", "team", "starts_at_ms"),
)


class ShiftState(enum.StrEnum):
    ON = "ON"
    CLEARED = "CLEARED"
    DAY_OFF = "DAY_OFF"


class Vacancy(enum.StrEnum):
    """Why nobody is on shift."""

    NOT_SCHEDULED = "no shift scheduled yet"
    CLEARED = "the shift was cleared"
    DAY_OFF = "day off"


@dataclass(frozen=True)
class Duty:
    """The answer of the roster: `person`, or else `vacancy` says why nobody is on shift."""

    person: str | None
    vacancy: Vacancy | None = None


class Roster:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_table(self) -> None:
        metadata.create_all(self.engine)

    def add_shift(self, team: str, person: str, starts_at_ms: int, ends_at_ms: int, state: ShiftState = ShiftState.ON) -> int:
        if ends_at_ms <= starts_at_ms:
            raise ValueError(f"shift of {person} ends ({ends_at_ms}) before it starts ({starts_at_ms})")
        with self.engine.begin() as conn:
            values = {"team": team, "person": person, "starts_at_ms": starts_at_ms, "ends_at_ms": ends_at_ms, "state": ShiftState(state).value}
            key = conn.execute(roster_shift.insert().values(**values)).inserted_primary_key
        assert key is not None
        return int(key[0])

    def set_state(self, shift_id: int, state: ShiftState) -> None:
        with self.engine.begin() as conn:
            conn.execute(roster_shift.update().where(roster_shift.c.id == shift_id).values(state=ShiftState(state).value))

    def on_shift(self, team: str, now_ms: int) -> Duty:
        """The person on shift for `team` at `now_ms` (the earliest-starting `ON` shift covering
        it), or why nobody is."""
        query = (
            sa.select(roster_shift.c.person, roster_shift.c.state)
            .where(roster_shift.c.team == team, roster_shift.c.starts_at_ms <= now_ms, roster_shift.c.ends_at_ms > now_ms)
            .order_by(roster_shift.c.starts_at_ms, roster_shift.c.id)
        )
        with self.engine.connect() as conn:
            covering = conn.execute(query).all()
        for person, state in covering:
            if state == ShiftState.ON:
                return Duty(person)
        if not covering:
            return Duty(None, Vacancy.NOT_SCHEDULED)
        if any(state == ShiftState.DAY_OFF for _, state in covering):
            return Duty(None, Vacancy.DAY_OFF)
        return Duty(None, Vacancy.CLEARED)
