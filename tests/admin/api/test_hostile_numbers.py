"""/api/v1 under the attacks of issue 17: ids beyond 64 bits, Unicode digits, huge filters. Each
exact request and the answer that must come back: 404 for a path id, 400 naming the field for a
query or body value, and never a 500 (which these gave before)."""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from shardcron.admin.enums import UserRole
from shardcron.admin.id_converter import IdConverter
from tests.admin.api.conftest import AdminApp, Api
from tests.support.admin_data import add_group, add_job, add_run

HUGE = "99999999999999999999999999"  # beyond 64 bits
JUST_OVER = str(2**63)  # one past BIGINT
UNICODE_ONE = "\u0661"  # ARABIC-INDIC DIGIT ONE: str.isdigit() and int() accept it


def assert_field_error(response, field: str) -> None:
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True))
    assert field in response.get_json()["error"]["fields"], response.get_json()


@pytest.fixture
def seeded(admin_app: AdminApp) -> tuple[int, int, int]:
    group = add_group(admin_app.db, "orders")
    job = add_job(admin_app.db, group)
    return group, job, add_run(admin_app.db, job, group)


@pytest.mark.parametrize("resource", ["jobs", "runs", "fires", "groups", "users", "jobs/{}/preview", "runs/{}/log"])
@pytest.mark.parametrize("raw_id", [HUGE, JUST_OVER, "0", UNICODE_ONE, "-1", "1" * 400])
def test_an_id_out_of_range_in_the_path_is_a_404(admin: Api, seeded, resource: str, raw_id: str) -> None:
    path = f"/{resource}/{raw_id}" if "{}" not in resource else "/" + resource.format(raw_id)
    response = admin.get(path)
    assert response.status_code == 404, (path, response.status_code)
    assert response.get_json()["error"]["message"]  # the API's JSON error shape, not an HTML page


@pytest.mark.parametrize("action", ["start", "stop", "copy", "trigger"])
def test_an_id_beyond_64_bits_in_a_job_action_is_a_404(admin: Api, seeded, action: str) -> None:
    assert admin.post(f"/jobs/{HUGE}/{action}", json={}).status_code == 404
    assert admin.patch(f"/jobs/{HUGE}", json={"name": "x"}).status_code == 404
    assert admin.delete(f"/jobs/{JUST_OVER}").status_code == 404


def test_the_largest_id_is_looked_up_and_not_found(admin: Api, seeded) -> None:
    response = admin.get(f"/jobs/{2**63 - 1}")
    assert response.status_code == 404 and f"job {2**63 - 1} not found" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/runs?group_id={HUGE}", "group_id"),
        (f"/runs?job_id={HUGE}", "job_id"),
        (f"/runs?job_id={UNICODE_ONE}", "job_id"),
        (f"/runs?from_ms={HUGE}", "from_ms"),
        (f"/runs?to_ms={JUST_OVER}", "to_ms"),
        ("/runs?from_ms=-1", "from_ms"),
        (f"/jobs?group_id={HUGE}", "group_id"),
        (f"/jobs?group_id={UNICODE_ONE}", "group_id"),
        ("/jobs?group_id=0", "group_id"),
        (f"/runs/1/log?from_line={UNICODE_ONE}", "from_line"),
        (f"/runs/1/log?from_line={2**31}", "from_line"),
        (f"/jobs/1/preview?count={UNICODE_ONE}", "count"),
        (f"/dashboard?days={HUGE}", "days"),
        (f"/groups?page={HUGE}", "page"),
        (f"/runs?per_page={UNICODE_ONE}0", "per_page"),
    ],
)
def test_a_bad_number_in_the_query_is_a_400_naming_it(admin: Api, seeded, path: str, field: str) -> None:
    assert_field_error(admin.get(path), field)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"child_job_ids": [2**64]}, "child_job_ids"),
        ({"child_job_ids": f"1,{HUGE}"}, "child_job_ids"),
        ({"child_job_ids": [UNICODE_ONE]}, "child_job_ids"),
        ({"group_id": 2**64}, "group_id"),
        ({"group_id": UNICODE_ONE}, "group_id"),
        ({"timeout_s": 10**30}, "timeout_s"),
        ({"timezone": [None, None]}, "timezone"),
    ],
)
def test_a_bad_number_in_a_job_is_a_400_naming_it(admin_app: AdminApp, admin: Api, seeded, extra: dict, field: str) -> None:
    group, _, _ = seeded
    body = {"name": "sync", "schedule_conf": "0 0 * * *", "handler": "h", "group_id": group, **extra}
    assert_field_error(admin.post("/jobs", json=body), field)


@pytest.mark.parametrize("group_ids", [[2**64], [int(JUST_OVER)], [0], 5, "1,2", [UNICODE_ONE]])
def test_bad_group_ids_for_a_user_are_a_400_naming_them(admin_app: AdminApp, admin: Api, seeded, group_ids) -> None:
    body = {"username": "mallory", "password": "long enough password", "role": "USER", "group_ids": group_ids}
    assert_field_error(admin.post("/users", json=body), "group_ids")
    other = admin_app.user("bob", UserRole.USER)
    assert_field_error(admin.patch(f"/users/{other.user_id}", json={"group_ids": group_ids}), "group_ids")


@pytest.mark.parametrize(("shard", "field"), [({"shard_index": UNICODE_ONE, "shard_total": 2}, "shard_index"), ({"shard_index": 0, "shard_total": 2**70}, "shard_total")])
def test_bad_shard_numbers_in_a_trigger_are_a_400_naming_them(admin: Api, seeded, shard: dict, field: str) -> None:
    _, job, _ = seeded
    assert_field_error(admin.post(f"/jobs/{job}/trigger", json=shard), field)


def test_json_nested_thousands_deep_is_a_400(admin: Api, seeded) -> None:
    response = admin.post("/jobs", data="[" * 100_000 + "]" * 100_000, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "nests too deeply" in response.get_json()["error"]["message"]


def test_every_id_in_every_route_goes_through_the_strict_converter(admin_app: AdminApp) -> None:
    """Werkzeug's <int:...> takes Unicode digits and unbounded numbers; no route may use it."""
    strict, loose = [], []
    for rule in admin_app.app.url_map.iter_rules():
        for converter in rule._converters.values():
            (loose if isinstance(converter, IntegerConverter) else strict if isinstance(converter, IdConverter) else []).append(rule.rule)
    assert loose == [] and len(strict) >= 30, (loose, strict)
