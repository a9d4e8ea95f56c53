"""Server time of the console's HTML pages (job list, run list with each filter, dashboard) on
MariaDB with a big history — the same data and method as console_bench.py, which times the REST
API; this one times the pages an operator's browser loads, templates included.

    python bench/console_pages_bench.py [--url mysql+pymysql://root@127.0.0.1:3306/sc_console_pages_bench]
                                        [--jobs 10000] [--runs 1000000] [--requests 60] [--keep] [--reuse]

Pages are requested through the Flask test client with an API token (the console accepts one
in place of its session cookie), so each sample is the whole server path: routing, auth,
services, SQL and HTML rendering. Baselines in the same run: a bare `SELECT 1` round trip and the
bare run-log page query. Target: p95 < 150 ms for every page row. The database is dropped
afterwards unless --keep.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from console_bench import GROUPS, NOW_MS, filled_database, measure  # noqa: E402

from shardcron.admin import create_app  # noqa: E402
from shardcron.admin.config import load_config  # noqa: E402
from shardcron.admin.enums import UserRole  # noqa: E402
from shardcron.admin.services import users  # noqa: E402
from shardcron.admin.services.actor import SYSTEM_ACTOR  # noqa: E402
from shardcron.core.clock import FakeClock  # noqa: E402


def main() -> None:
    with filled_database(__doc__.split("\n\n")[0], "mysql+pymysql://root@127.0.0.1:3306/sc_console_pages_bench") as (args, database):
        config = load_config(env={}, overrides={
            "instance_dir": tempfile.mkdtemp(prefix="sc-bench-"), "database_url": str(args.url),
            "access_token": "bench-access-token-0123456789", "secret_key": "bench-secret-key-0123456789",
        })
        app = create_app(config, db=database, clock=FakeClock(NOW_MS))
        with database.session() as s:
            tokens = {}
            for name, role, grants in (("pages-admin", UserRole.ADMIN, []), ("pages-user", UserRole.USER, [3, 7])):
                user_id = s.scalar(sa.text("select id from sc_user where username=:n"), {"n": name})
                if user_id is None:
                    user_id = users.create_user(s, SYSTEM_ACTOR, name, "bench password 1", role, grants, now_ms=NOW_MS).id
                tokens[name] = users.issue_api_token(s, SYSTEM_ACTOR, user_id, now_ms=NOW_MS)
        client = app.test_client()
        rnd = random.Random(11)

        def page(path_of: Callable[[int], str], who: str = "pages-admin") -> Callable[[int], object]:
            def call(i: int) -> object:
                path = path_of(i)
                response = client.get(path, headers={"Authorization": f"Bearer {tokens[who]}"})
                if response.status_code != 200 or b"<!doctype html>" not in response.data[:20]:
                    raise SystemExit(f"GET {path} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
                return response

            return call

        def window(hours: int) -> str:
            start = NOW_MS - rnd.randrange(1, 29 * 24) * 3_600_000
            as_text = lambda ms: time.strftime("%Y-%m-%dT%H:%M", time.gmtime(ms / 1000))  # noqa: E731
            return f"from={as_text(start)}&to={as_text(start + hours * 3_600_000)}"

        scenarios: list[tuple[str, Callable[[int], object]]] = [
            ("jobs page: first", page(lambda i: "/jobs")),
            ("jobs page: group", page(lambda i: f"/jobs?group_id={rnd.randrange(1, GROUPS + 1)}&page={rnd.randrange(1, 10)}")),
            ("jobs page: search name", page(lambda i: f"/jobs?q=shard+{rnd.randrange(0, 97)}")),
            ("jobs page: by next fire, p50", page(lambda i: f"/jobs?sort=-next_fire_at_ms&page={rnd.randrange(45, 55)}")),
            ("runs page: no filter", page(lambda i: f"/runs?page={rnd.randrange(1, 5)}")),
            ("runs page: group", page(lambda i: f"/runs?group_id={rnd.randrange(1, GROUPS + 1)}")),
            ("runs page: job", page(lambda i: f"/runs?job_id={rnd.randrange(1, args.jobs + 1)}")),
            ("runs page: status FAILED", page(lambda i: f"/runs?status=FAILED&page={rnd.randrange(1, 5)}")),
            ("runs page: status RUNNING", page(lambda i: "/runs?status=RUNNING")),
            ("runs page: trigger MANUAL", page(lambda i: "/runs?trigger_type=MANUAL")),
            ("runs page: last 1 h", page(lambda i: "/runs?range=1h")),
            ("runs page: 1 h window", page(lambda i: "/runs?" + window(1))),
            ("runs page: 7 day window", page(lambda i: "/runs?" + window(24 * 7))),
            ("runs page: group+FAILED+24h", page(lambda i: f"/runs?group_id={rnd.randrange(1, GROUPS + 1)}&status=FAILED&" + window(24))),
            ("runs page: user, 2 groups", page(lambda i: "/runs", "pages-user")),
            ("dashboard page: 7 days", page(lambda i: "/")),
            ("dashboard page: 30 days", page(lambda i: "/?days=30")),
            ("dashboard page: user", page(lambda i: "/", "pages-user")),
        ]

        measure(database, scenarios, args.requests)


if __name__ == "__main__":
    main()
