"""Named API tokens as an attacker meets them: a token taken from a compromised account stops at
the password reset, the role change, its revocation and its expiry; lists never show a value."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.enums import UserRole
from shardcron.admin.models import ApiToken
from shardcron.admin.services import passwords
from tests.admin.api.conftest import AdminApp, Api
from tests.admin.api.test_auth import assert_error
from tests.support.admin_data import NOW

DAY_MS = 86_400_000


def _as(api: Api, token: str) -> Api:
    return Api(api.client, token, api.user_id)


def test_a_stolen_token_dies_at_the_password_reset(admin_app: AdminApp, admin: Api) -> None:
    victim = admin_app.user("victim")
    stolen = victim.token
    assert victim.get("/me").status_code == 200
    assert admin.patch(f"/users/{victim.user_id}", json={"password": "reset by the admin"}).status_code == 200
    assert_error(victim.get("/me"), 401, "invalid or revoked")
    assert_error(Api(admin_app.app.test_client(), stolen).get("/jobs"), 401)


def test_a_role_change_revokes_the_users_tokens(admin_app: AdminApp, admin: Api) -> None:
    second_admin = admin_app.user("deputy", UserRole.ADMIN)
    assert admin.patch(f"/users/{second_admin.user_id}", json={"role": "USER"}).status_code == 200
    # The demoted admin's script cannot keep acting, as an admin or at all.
    assert_error(second_admin.post("/users", json={"username": "sneaky", "password": "long password"}), 401)


def test_named_tokens_are_issued_listed_and_revoked(admin_app: AdminApp, admin: Api) -> None:
    user = admin_app.user("carol")
    issued = user.post("/me/tokens", json={"name": "ci deploy", "expires_at_ms": NOW + 30 * DAY_MS})
    assert issued.status_code == 201
    body = issued.get_json()
    assert body["name"] == "ci deploy" and body["expires_at_ms"] == NOW + 30 * DAY_MS and body["token"].startswith("sct_")
    ci = _as(user, body["token"])
    assert ci.get("/me").get_json()["username"] == "carol"
    listed = user.get("/me/tokens").get_json()["items"]
    assert [(t["name"], t["expires_at_ms"], t["expired"]) for t in listed] == [("ci deploy", NOW + 30 * DAY_MS, False), ("default", None, False)]
    assert all("token" not in t and "token_hash" not in t for t in listed)
    with admin_app.db.read_session() as session:  # only digests are stored
        stored = set(session.scalars(sa.select(ApiToken.token_hash)))
    assert body["token"] not in stored and passwords.api_token_digest(body["token"]) in stored
    # The same name twice is a conflict; bad fields name themselves.
    assert_error(user.post("/me/tokens", json={"name": "ci deploy"}), 409, "already have a token named")
    fields = assert_error(user.post("/me/tokens", json={"name": "", "expires_at_ms": NOW - 1}), 400)
    assert set(fields) == {"name", "expires_at_ms"}
    assert "expires_at_ms" in assert_error(user.post("/me/tokens", json={"name": "x", "expires_at_ms": 2**70}), 400)
    assert "expires_at_ms" in assert_error(user.post("/me/tokens", json={"name": "x", "expires_at_ms": "soon"}), 400)
    # Revoke the CI token: the next request bearing it is refused; the other token still works.
    assert user.delete(f"/me/tokens/{body['id']}").status_code == 204
    assert_error(ci.get("/me"), 401)
    assert user.get("/me").status_code == 200
    assert_error(user.delete(f"/me/tokens/{body['id']}"), 404)


def test_an_expired_token_is_refused(admin_app: AdminApp) -> None:
    user = admin_app.user("dave")
    short = user.post("/me/tokens", json={"name": "one hour", "expires_at_ms": NOW + 3_600_000}).get_json()
    temporary = _as(user, short["token"])
    admin_app.clock.set(NOW + 3_600_000 - 1)
    assert temporary.get("/me").status_code == 200
    admin_app.clock.set(NOW + 3_600_000)
    assert_error(temporary.get("/me"), 401, "invalid or revoked")
    assert [t["expired"] for t in user.get("/me/tokens").get_json()["items"] if t["name"] == "one hour"] == [True]


def test_users_cannot_see_or_revoke_each_others_tokens(admin_app: AdminApp, admin: Api) -> None:
    alice, mallory = admin_app.user("alice"), admin_app.user("mallory")
    alice_tokens = alice.get("/me/tokens").get_json()["items"]
    assert_error(mallory.get(f"/users/{alice.user_id}/tokens"), 404)
    assert_error(mallory.delete(f"/users/{alice.user_id}/tokens/{alice_tokens[0]['id']}"), 404)
    assert_error(mallory.delete(f"/me/tokens/{alice_tokens[0]['id']}"), 404)  # not hers
    assert alice.get("/me").status_code == 200
    # An admin sees the names (not the values) and revokes.
    assert [t["name"] for t in admin.get(f"/users/{alice.user_id}/tokens").get_json()["items"]] == ["default"]
    assert admin.delete(f"/users/{alice.user_id}/tokens/{alice_tokens[0]['id']}").status_code == 204
    assert_error(alice.get("/me"), 401)


def test_unknown_fields_and_huge_ids_are_client_errors(admin_app: AdminApp) -> None:
    user = admin_app.user("erin")
    assert "sneaky" in assert_error(user.post("/me/tokens", json={"name": "a", "sneaky": 1}), 400)
    assert user.delete("/me/tokens/99999").status_code == 404


def test_ids_beyond_64_bits_are_404_not_500(admin_app: AdminApp, admin: Api) -> None:
    huge = 2**70
    assert_error(admin.delete(f"/me/tokens/{huge}"), 404)
    assert_error(admin.get(f"/users/{huge}/tokens"), 404)
    assert_error(admin.delete(f"/users/{admin.user_id}/tokens/{huge}"), 404)
