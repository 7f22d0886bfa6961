"""Who may talk to the OPC UA server, and the server's certificate.

Users log in with a name and password (kept only as a salted PBKDF2 hash); anonymous sessions are refused unless
the engineer allows them. The server's certificate is self-signed, made at the first start (2048-bit RSA, valid a
year, renewed at a start after it expired) and kept with its key in the data folder (``<data>/opcua``, the key
readable by its owner only). Client certificates are not checked against a trust list: a client proves who it is
with its password (see docs/plant.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from asyncua.crypto.cert_gen import (
    dump_private_key_as_pem,
    generate_private_key,
    setup_self_signed_certificate,
)
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager
from cryptography.x509.oid import ExtendedKeyUsageOID

HASH_ITERATIONS = 200_000  # PBKDF2-SHA256 rounds of a stored password (a login costs ~0.1 s, a guess as much)
CERT_FILE = "server_cert.der"  # the server's certificate (DER), in the PKI folder
KEY_FILE = "server_key.pem"  # its private key (PEM, owner-only)


@dataclass(frozen=True)
class Login:
    """A user allowed on the server."""

    name: str  # the user name a client gives
    password_hash: str  # ``pbkdf2_sha256$<rounds>$<salt>$<hash>`` (see :func:`hash_password`)


def hash_password(password: str, rounds: int = HASH_ITERATIONS) -> str:
    """A salted hash of ``password`` to store instead of it."""
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, rounds)
    return f"pbkdf2_sha256${rounds}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash from :func:`hash_password` (constant time; a malformed hash: False)."""
    try:
        scheme, rounds, salt, digest = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        mine = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), base64.b64decode(salt), int(rounds))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(_b64(mine), digest)


class StationUsers(UserManager):
    """The server's user manager: named users with their passwords; anonymous sessions only when allowed.

    Args:
        logins: The users allowed.
        anonymous: Whether a session without a user may open.
    """

    def __init__(self, logins: tuple[Login, ...], anonymous: bool) -> None:
        self._hashes = {login.name: login.password_hash for login in logins}
        self._anonymous = anonymous

    def get_user(self, iserver, username: str | None = None, password: str | None = None,
                 certificate=None) -> User | None:  # fmt: skip
        if username is None:  # an anonymous token (certificate tokens are not offered; ``certificate`` is the
            # client's channel certificate, which says nothing about who the user is)
            return User(role=UserRole.User, name="anonymous") if self._anonymous else None
        stored = self._hashes.get(username)
        if stored is None or password is None or not check_password(password, stored):
            return None
        return User(role=UserRole.User, name=username)


async def ensure_certificate(folder: Path, application_uri: str) -> tuple[Path, Path]:
    """The server's certificate and key in ``folder``, made when missing or expired; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    cert, key = folder / CERT_FILE, folder / KEY_FILE
    if not key.is_file():  # made here, not by asyncua, so that it is never readable by others, not even briefly
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(dump_private_key_as_pem(generate_private_key()))
        cert.unlink(missing_ok=True)  # a certificate of another key is worthless
    subject = {"organizationName": "draem-inspect", "organizationalUnitName": "inspection station"}
    await setup_self_signed_certificate(key, cert, application_uri, socket.gethostname(),
                                        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], subject)  # fmt: skip
    return cert, key


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
