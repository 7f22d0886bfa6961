"""The engineer password as a salted PBKDF2-HMAC-SHA256 hash (hashlib), checked in constant time.

Stored as ``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>``: the iteration count travels with the hash, so it
can be raised later without breaking existing stations. Hashes of earlier versions (``scrypt$n$r$p$salt$hash``)
still verify; :func:`needs_rehash` says to store them again as PBKDF2. Hashing is slow on purpose (a fraction of a
second): call :func:`hash_password` and :func:`verify_password` off the GUI thread. Nothing here is ever stored
or logged in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from draem_core.errors import DraemError

SCHEME = "pbkdf2_sha256"
ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256: ~0.3 s on a line PC, slow to brute-force
MIN_ITERATIONS = 1_000  # a stored hash with fewer is damaged (not a hash this program wrote)
SALT_BYTES = 16  # random salt per hash
DIGEST_BYTES = 32  # stored digest length (SHA-256 output; earlier versions wrote 32-byte scrypt digests too)
MIN_LENGTH = 6  # shortest engineer password accepted
_LEGACY = "scrypt"  # scheme of versions before PBKDF2 (verify only)


class AccessError(DraemError):
    """An access rule refused something, or an access setting cannot be read or written (says which and why)."""


def check_new_password(password: str) -> None:
    """Refuse a new password that is too short.

    Raises:
        AccessError: shorter than :data:`MIN_LENGTH` characters.
    """
    if len(password) < MIN_LENGTH:
        msg = f"the engineer password must have at least {MIN_LENGTH} characters"
        raise AccessError(msg)


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """Salted PBKDF2 hash of ``password`` in the storage format (a fresh random salt unless one is given)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, DIGEST_BYTES)
    return f"{SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def is_well_formed(stored: str) -> bool:
    """Whether ``stored`` has the shape of a hash this program writes (no hashing done: cheap)."""
    return _parse(stored) is not None


def needs_rehash(stored: str) -> bool:
    """A well-formed hash of an older scheme: store the password again with :func:`hash_password`."""
    return is_well_formed(stored) and not stored.startswith(SCHEME + "$")


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison; a malformed hash never matches)."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    scheme, params, salt, expected = parsed
    if scheme == SCHEME:
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, params[0], len(expected))
    else:
        n, r, p = params
        digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected),
                                maxmem=2 * 128 * r * (n + p + 2))  # fmt: skip
    return hmac.compare_digest(digest, expected)


def _parse(stored: object) -> tuple[str, tuple[int, ...], bytes, bytes] | None:
    """``(scheme, integer parameters, salt, digest)``, or None when ``stored`` is not a hash we can check."""
    if not isinstance(stored, str):
        return None
    parts = stored.strip().split("$")
    counts = {SCHEME: 4, _LEGACY: 6}
    if counts.get(parts[0]) != len(parts):
        return None
    try:
        params = tuple(int(v) for v in parts[1:-2])
        salt, digest = bytes.fromhex(parts[-2]), bytes.fromhex(parts[-1])
    except ValueError:
        return None
    if len(salt) < 8 or len(digest) != DIGEST_BYTES or not _sane(parts[0], params):
        return None
    return parts[0], params, salt, digest


def _sane(scheme: str, params: tuple[int, ...]) -> bool:
    """Cost parameters a checking station can afford (a hand-edited 10**12 must not hang the check)."""
    if scheme == SCHEME:
        return MIN_ITERATIONS <= params[0] <= 100 * ITERATIONS
    n, r, p = params
    return 2 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16
