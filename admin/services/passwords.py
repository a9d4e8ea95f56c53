"""Password hashes (scrypt) and API-token digests.

A stored password hash describes itself, so its cost can be raised later without breaking
existing logins: `$scrypt$ln=15,r=8,p=1$<salt>$<key>` (salt and key in unpadded base64).
`verify_password` compares in constant time and `needs_rehash` says when a hash predates the
current cost, so a successful login upgrades it.

API tokens are 256 random bits, so one SHA-256 is enough to store them: nobody can guess a
token from its digest, and the digest can be looked up by an index.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

#: Shown to a user once; the prefix makes a leaked token easy to recognise in logs and scanners.
API_TOKEN_PREFIX = "sct_"
_SCHEME = "scrypt"
_KEY_BYTES = 32
_SALT_BYTES = 16


@dataclass(frozen=True)
class ScryptCost:
    """scrypt's cost: N = 2**log2_n, block size r, parallelism p. Memory is 128 * r * N bytes."""

    log2_n: int = 15
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        return 128 * self.r * (2**self.log2_n) * 2 + 1024 * 1024


#: 2**15 * 8 * 128 = 32 MiB and ~50-100 ms per hash on a server core (OWASP's scrypt minimum).
DEFAULT_COST = ScryptCost()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _derive(password: str, salt: bytes, cost: ScryptCost) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=2**cost.log2_n, r=cost.r, p=cost.p, maxmem=cost.maxmem, dklen=_KEY_BYTES
    )


def hash_password(password: str, cost: ScryptCost | None = None) -> str:
    cost = cost or DEFAULT_COST
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, cost)
    return f"${_SCHEME}$ln={cost.log2_n},r={cost.r},p={cost.p}${_b64(salt)}${_b64(key)}"


@dataclass(frozen=True)
class _Parsed:
    cost: ScryptCost
    salt: bytes
    key: bytes


def _parse(stored: str) -> _Parsed | None:
    parts = stored.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != _SCHEME:
        return None
    try:
        params = dict(item.split("=", 1) for item in parts[2].split(","))
        cost = ScryptCost(int(params["ln"]), int(params["r"]), int(params["p"]))
        salt, key = _unb64(parts[3]), _unb64(parts[4])
    except (ValueError, KeyError):
        return None
    # A corrupted row must not make us allocate gigabytes.
    if not (1 <= cost.log2_n <= 20 and 1 <= cost.r <= 32 and 1 <= cost.p <= 16 and salt and key):
        return None
    return _Parsed(cost, salt, key)


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; False for a mismatch or an unreadable hash."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    return hmac.compare_digest(_derive(password, parsed.salt, parsed.cost)[: len(parsed.key)], parsed.key)


def needs_rehash(stored: str, cost: ScryptCost | None = None) -> bool:
    parsed = _parse(stored)
    return parsed is None or parsed.cost != (cost or DEFAULT_COST)


def burn_password_work(password: str, cost: ScryptCost | None = None) -> None:
    """Do the work of one verification for a user that does not exist, so that a login for an
    unknown name takes as long as one for a known name (no user enumeration by timing)."""
    _derive(password, b"\0" * _SALT_BYTES, cost or DEFAULT_COST)


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def api_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
