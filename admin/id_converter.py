"""`<id:name>` in a route: a row id in ASCII digits, 1..2**63-1; anything else is a 404.

Werkzeug's own `<int:...>` matches `\\d+`, which takes Unicode digits (`/jobs/١` would be job 1)
and numbers of any size, which then overflow the database driver (a 500). Every route of the
console and the REST API takes its ids through this converter (the executor-facing API has no
ids in its paths); a test keeps `<int:...>` out of the URL map.
"""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from shardcron.core.numbers import ID_MAX, ID_MIN


class IdConverter(BaseConverter):
    # At most 19 digits (2**63-1 has 19); the range check below settles the rest.
    regex = "[0-9]{1,19}"
    part_isolating = True
    weight = 50

    def to_python(self, value: str) -> int:
        number = int(value)
        if not ID_MIN <= number <= ID_MAX:
            # Not ValidationError: werkzeug then stops matching and answers 405 when another
            # method has a route of this shape. An id that cannot exist is simply not found.
            raise NotFound(f"no object has id {value}: ids run from {ID_MIN} to {ID_MAX}")
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))
