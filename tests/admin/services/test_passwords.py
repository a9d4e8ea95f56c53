"""Password hashes: scrypt with a self-describing format, constant-time checks; token digests."""

from __future__ import annotations

import hashlib

from shardcron.admin.services import passwords
from shardcron.admin.services.passwords import ScryptCost


def test_default_cost_is_a_slow_kdf() -> None:
    # Read from the class default: the autouse fixture swaps the module's DEFAULT_COST for tests.
    cost = ScryptCost()
    assert (cost.log2_n, cost.r, cost.p) == (15, 8, 1)
    stored = passwords.hash_password("correct horse battery", cost)
    assert stored.startswith("$scrypt$ln=15,r=8,p=1$")
    assert passwords.verify_password("correct horse battery", stored)


def test_hash_is_salted_and_self_describing() -> None:
    a = passwords.hash_password("same password 1")
    b = passwords.hash_password("same password 1")
    assert a != b
    scheme, params, salt, key = a.split("$")[1:]
    assert scheme == "scrypt" and params == "ln=10,r=8,p=1"
    # The stored key is exactly scrypt over the stored salt and parameters.
    import base64

    raw_salt = base64.b64decode(salt + "=" * (-len(salt) % 4))
    raw_key = base64.b64decode(key + "=" * (-len(key) % 4))
    assert raw_key == hashlib.scrypt(b"same password 1", salt=raw_salt, n=2**10, r=8, p=1, dklen=32)


def test_verify_rejects_wrong_and_corrupt() -> None:
    stored = passwords.hash_password("right password")
    assert passwords.verify_password("right password", stored)
    assert not passwords.verify_password("wrong password", stored)
    assert not passwords.verify_password("right password", "plain-text")
    assert not passwords.verify_password("right password", stored.replace("ln=10", "ln=40"))
    assert not passwords.verify_password("right password", "$scrypt$ln=10,r=8,p=1$!!$!!")


def test_hash_made_with_another_cost_still_verifies_and_needs_rehash() -> None:
    old = passwords.hash_password("an old password", ScryptCost(log2_n=11))
    assert passwords.verify_password("an old password", old)
    assert passwords.needs_rehash(old)
    assert not passwords.needs_rehash(passwords.hash_password("a new password"))


def test_api_token_digest_is_sha256_of_a_random_token() -> None:
    token = passwords.new_api_token()
    assert token.startswith("sct_") and len(token) > 40
    assert token != passwords.new_api_token()
    assert passwords.api_token_digest(token) == hashlib.sha256(token.encode()).hexdigest()
