"""The engineer password: salted scrypt hash kept in QSettings; never stored or logged in clear.

Stored as ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` so the cost can be raised later without breaking
existing installations. Until the engineer sets one, :data:`DEFAULT_PASSWORD` opens engineer mode
(documented in docs/gui.md; change it on site).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from PySide6.QtCore import QSettings

DEFAULT_PASSWORD = "engineer"  # works until the engineer sets another one
KEY = "security/engineer_password"  # QSettings key of the hash
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~16 MiB and tens of ms: slow to brute-force, quick to check once
SALT_BYTES = 16
MIN_LENGTH = 4  # shortest password accepted when the engineer changes it


def hash_password(password: str, salt: bytes | None = None) -> str:
    """Salted scrypt hash of ``password`` in the storage format."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a stored hash (constant-time comparison; malformed hashes never match)."""
    try:
        scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p),
                                dklen=len(digest_hex) // 2)  # fmt: skip
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest.hex(), digest_hex)


class PasswordStore:
    """The engineer password in a QSettings store."""

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    @property
    def is_default(self) -> bool:
        """No password was set yet: the documented default applies."""
        return not self.settings.value(KEY, "", type=str)

    def verify(self, password: str) -> bool:
        """Whether ``password`` opens engineer mode."""
        stored = self.settings.value(KEY, "", type=str)
        if not stored:
            return hmac.compare_digest(password.encode(), DEFAULT_PASSWORD.encode())
        return verify_password(password, stored)

    def change(self, current: str, new: str) -> None:
        """Replace the password.

        Raises:
            ValueError: ``current`` is wrong or ``new`` is too short (the message says which).
        """
        if not self.verify(current):
            msg = "the current password is wrong"
            raise ValueError(msg)
        if len(new) < MIN_LENGTH:
            msg = f"the new password must have at least {MIN_LENGTH} characters"
            raise ValueError(msg)
        self.settings.setValue(KEY, hash_password(new))
        self.settings.sync()
