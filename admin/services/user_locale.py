"""A user's console language (`sc_user.locale`): read for every console page, saved by the switch.

Saving it is a preference, not a change to what the scheduler does, so it is not audited (like a
login or a logout); it does not move `updated_at_ms` either.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db import changed_rows
from ..models import User


def saved_locale(session: Session, user_id: int) -> str | None:
    """The language the user chose, or None (then the browser's language applies)."""
    return session.scalar(sa.select(User.locale).where(User.id == user_id))


def save_locale(session: Session, user_id: int, locale: str | None) -> bool:
    """Keep `locale` as the user's choice; False when the user no longer exists."""
    result = session.execute(sa.update(User).where(User.id == user_id).values(locale=locale))
    return bool(changed_rows(result))
