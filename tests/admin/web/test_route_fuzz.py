"""Every console route, walked with hostile input as an admin, as a USER and anonymously: no
answer is a 5xx (issue 17, item 4).

Routes come from the app's url_map, so a new page is fuzzed without touching this file. Path ids
take huge, negative, zero and Unicode-digit values; query strings and POST forms (sent with a
valid CSRF token) take the hostile values below in the fields the console reads. A seeded
random picks the combinations, so the count is bounded and a failure replays exactly.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from urllib.parse import quote

from flask.testing import FlaskClient

from shardcron.admin.enums import UserRole
from shardcron.admin.services.job_form import JOB_FIELDS
from tests.support import admin_data as data
from tests.support.console import Console, page_csrf

HOSTILE = [
    "99999999999999999999999999", str(2**63), str(2**63 - 1), str(2**31), "-1", "0", "1",
    # str.isdigit() says yes to all of these; int() takes the first three and fails on the last two
    "\u0661", "\u0661\u0662", "\uff11", "\u00b2", "\u2460",
    "", " ", "1e10", "0x10", "1.5", "NaN", "-0", "+1", "1,2", "\x00", "1\x00", "A" * 5000,
    "<script>alert(1)</script>", "%", "../../etc/passwd", "\u202e", "true", "[]", "{}",
    "9999-12-31T23:59", "0001-01-01T00:00", "2026-13-45T99:99", "UTC", "Mars/Olympus", "*/0 * * * *",
]
PATH_IDS = ["1", "99999999999999999999999999", str(2**63), str(2**63 - 1), "0", "-1", "\u0661", "\u00b2", "1.0", "%00"]
QUERY_KEYS = [
    "group_id", "job_id", "fire_id", "status", "trigger_type", "range", "from", "to", "order", "sort", "page", "per_page",
    "q", "enabled", "from_line", "days", "tz", "timezone", "schedule_type", "schedule_conf", "next", "count",
]
FORM_KEYS = sorted(
    {*JOB_FIELDS, "username", "password", "password_again", "role", "group_ids", "new_password", "current_password", "action",
     "title", "app_name", "address_type", "manual_addresses", "target", "shard_index", "shard_total", "address", "param", "name",
     "description", "step_key", "step_job", "step_param", "step_join", "edge_from", "edge_to", "edge_on"}
)
ACTIONS = ["role", "grants", "password", "delete", "issue_token", "revoke_token", "bogus", ""]
#: Random mixes of several hostile fields per route, on top of the systematic variants.
RANDOM_MIXES = 4
#: The share of each route's variants sent, per database and role (a seeded sample): the whole
#: set is ~90 requests per route and method; MySQL is slower, and a USER sees fewer pages.
SHARES = {("sqlite", "admin"): 0.4, ("sqlite", "user"): 0.2, ("sqlite", "anonymous"): 0.5, ("mysql", "admin"): 0.15, ("mysql", "user"): 0.1, ("mysql", "anonymous"): 0.2,
          ("postgresql", "admin"): 0.15, ("postgresql", "user"): 0.1, ("postgresql", "anonymous"): 0.2}


@dataclass(frozen=True)
class Route:
    rule: str
    methods: frozenset[str]

    def paths(self) -> list[str]:
        """The route with a real id (1) and with each hostile id in its path."""
        if "<" not in self.rule:
            return [self.rule]
        return [re.sub(r"<id:[a-z_]+>", quote(value, safe=""), self.rule) for value in PATH_IDS]


def console_routes(console: Console) -> list[Route]:
    routes = []
    for rule in console.app.url_map.iter_rules():
        if not rule.endpoint.startswith("web.") or rule.endpoint in ("web.static", "web.logout"):
            continue
        assert set(re.findall(r"<(\w+):", rule.rule)) <= {"id"}, f"{rule.rule}: a path parameter this fuzz does not fill"
        routes.append(Route(rule.rule, frozenset(rule.methods & {"GET", "POST"})))
    return sorted(routes, key=lambda r: r.rule)


def query_variants(rng: random.Random) -> list[dict[str, str]]:
    """Every hostile value in every key at once (a page that checks all its fields sees them
    all), each key alone with one value (no other field's refusal hides it), and random mixes."""
    variants = [dict.fromkeys(QUERY_KEYS, value) for value in HOSTILE]
    variants += [{key: rng.choice(HOSTILE)} for key in QUERY_KEYS]
    variants += [{key: rng.choice(HOSTILE) for key in rng.sample(QUERY_KEYS, rng.randint(2, 5))} for _ in range(RANDOM_MIXES)]
    return variants


def form_variants(rng: random.Random) -> list[dict[str, object]]:
    """As `query_variants`, for POST forms; each `action` the console knows is tried too."""
    variants: list[dict[str, object]] = [{**dict.fromkeys(FORM_KEYS, value), "group_ids": [value, "1"]} for value in HOSTILE]
    variants += [{**dict.fromkeys(FORM_KEYS, rng.choice(HOSTILE)), "action": action} for action in ACTIONS]
    variants += [{key: value} for key in FORM_KEYS for value in rng.sample(HOSTILE, 1)]
    for _ in range(RANDOM_MIXES):
        form: dict[str, object] = {key: rng.choice(HOSTILE) for key in rng.sample(FORM_KEYS, rng.randint(2, 8))}
        form["action"] = rng.choice(ACTIONS)
        variants.append(form)
    return variants


def sample(rng: random.Random, variants: list, share: float) -> list:
    return rng.sample(variants, max(1, round(len(variants) * share)))


def walk(console: Console, client_for, rng: random.Random, csrf_from: str, routes: list[Route], share: float) -> tuple[int, list[str]]:
    """`routes` with a `share` of their hostile variants; (requests sent, the ones that got a 5xx)."""
    sent, failures = 0, []
    for route in routes:
        client: FlaskClient = client_for()
        csrf = page_csrf(client, csrf_from)
        for path in route.paths():
            real_id = "<" not in route.rule or path == re.sub(r"<id:[a-z_]+>", "1", route.rule)
            if "GET" in route.methods:
                for args in sample(rng, query_variants(rng), share) if real_id else [{}]:
                    response = client.get(path, query_string=args)
                    sent += 1
                    if response.status_code >= 500:
                        failures.append(f"GET {path} {args!r:.300} -> {response.status_code}")
            if "POST" in route.methods:
                for form in sample(rng, form_variants(rng), share) if real_id else [{}]:
                    response = client.post(path, data={**form, "csrf_token": csrf})
                    sent += 1
                    if response.status_code >= 500:
                        failures.append(f"POST {path} {form!r:.300} -> {response.status_code}")
    return sent, failures


def seed(console: Console) -> None:
    group = data.add_group(console.db, "orders")
    data.add_executor(console.db, "orders", "http://127.0.0.1:9")  # live, nothing listens: log and kill fail fast
    job = data.add_job(console.db, group, "drain")
    data.add_run(console.db, job, group)
    console.add_user("root", UserRole.ADMIN)
    console.add_user("bob", UserRole.USER, [group])


def test_no_console_route_answers_hostile_input_with_a_5xx(console: Console) -> None:
    seed(console)
    routes = console_routes(console)
    public = [route for route in routes if route.rule in ("/login", "/setup")]
    engine = console.db.engine.dialect.name

    def login(username: str):
        # The fuzz's own bad posts to /login throttle this client address; the wait passes first.
        console.clock.advance(s=console.config.login_lockout_s + 1)
        return console.login(username)

    results = {
        "admin": walk(console, lambda: login("root"), random.Random("console-fuzz-admin"), "/account", routes, SHARES[engine, "admin"]),
        "user": walk(console, lambda: login("bob"), random.Random("console-fuzz-user"), "/account", routes, SHARES[engine, "user"]),
        "anonymous": walk(console, console.client, random.Random("console-fuzz-anonymous"), "/login", public, SHARES[engine, "anonymous"]),
    }
    failures = [failure for _, found in results.values() for failure in found]
    assert failures == [], "\n".join(failures[:30])
    assert all(sent >= 30 for sent, _ in results.values()), {who: sent for who, (sent, _) in results.items()}
