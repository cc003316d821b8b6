"""Personal data on its way to Gold: the key, and the keyed hash that replaces a value.

Columns classified ``pii`` in the Silver contracts never reach Gold in clear. Where analysts
need one as a join key, Gold carries ``HMAC-SHA-256(key, value)`` as 64 lower-case hex digits:
equal values give equal hashes (so joins and distinct counts work), but without the key nobody
can confirm a guessed value, which a plain SHA-256 of an email or phone number would allow.

The key is a secret and is read from the environment only, never from config or code:
``LAKEHOUSE_PII_KEY`` (the key itself, at least 16 bytes) or ``LAKEHOUSE_PII_KEY_FILE`` (a file
holding it; surrounding whitespace is ignored). When both are set the variable wins.

The hash is computed by Spark's own ``sha2`` over binary (HMAC is two nested hashes with the
key XOR-ed into fixed pads, RFC 2104), so no Python UDF runs on the executors.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import Column
from pyspark.sql import functions as F

from crm_lakehouse.errors import ConfigError

KEY_ENV = "LAKEHOUSE_PII_KEY"
KEY_FILE_ENV = "LAKEHOUSE_PII_KEY_FILE"
MIN_KEY_BYTES = 16
_BLOCK = 64  # SHA-256 block size in bytes


@dataclass(frozen=True)
class PiiKey:
    """The HMAC key. ``repr`` never shows it; :attr:`key_id` identifies it without revealing it
    (a Gold table hashed with another key must be rebuilt in full)."""

    secret: bytes = field(repr=False)
    origin: str

    @property
    def key_id(self) -> str:
        return hmac.new(self.secret, b"crm-lakehouse pii key id", hashlib.sha256).hexdigest()[:16]

    def digest(self, value: str) -> str:
        """The hash of one value in Python (what :func:`hash_column` computes in Spark)."""
        return hmac.new(self.secret, value.encode("utf-8"), hashlib.sha256).hexdigest()


def load_pii_key(environ: Mapping[str, str] | None = None) -> PiiKey:
    """The key from ``LAKEHOUSE_PII_KEY`` or the file named by ``LAKEHOUSE_PII_KEY_FILE``.

    Raises :class:`ConfigError` naming both variables when neither gives a usable key.
    """
    env = os.environ if environ is None else environ
    value = env.get(KEY_ENV)
    if value:
        secret, origin = value.encode("utf-8"), f"${KEY_ENV}"
    elif env.get(KEY_FILE_ENV):
        path = Path(env[KEY_FILE_ENV])
        try:
            secret = path.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(
                f"${KEY_FILE_ENV}={path}: cannot read the PII key file ({exc.strerror}); "
                f"set {KEY_FILE_ENV} to a readable file or {KEY_ENV} to the key"
            ) from exc
        origin = f"${KEY_FILE_ENV} ({path})"
    else:
        raise ConfigError(
            f"no PII key: set {KEY_ENV} to a secret of at least {MIN_KEY_BYTES} bytes, or "
            f"{KEY_FILE_ENV} to a file holding one. Gold replaces personal data by an "
            "HMAC-SHA-256 keyed with it; the key is never read from config"
        )
    if len(secret) < MIN_KEY_BYTES:
        raise ConfigError(
            f"{origin}: the PII key has {len(secret)} bytes, at least {MIN_KEY_BYTES} are required "
            f"(set {KEY_ENV} or {KEY_FILE_ENV})"
        )
    return PiiKey(secret, origin)


def ensure_demo_key(lake: Path, environ: MutableMapping[str, str] | None = None) -> Path | None:
    """For the demo only: when neither variable is set, point ``LAKEHOUSE_PII_KEY_FILE`` at
    ``<lake>/../.secrets/pii.key``, creating it (random, mode 0600) if needed; return that path.

    Returns None (and changes nothing) when a key is already configured. The file is reused, so
    repeated demos hash alike; ``.secrets/`` is git-ignored.
    """
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV) or env.get(KEY_FILE_ENV):
        return None
    path = Path(lake).resolve().parent / ".secrets" / "pii.key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    env[KEY_FILE_ENV] = str(path)
    return path


def hash_column(value: Column, key: PiiKey) -> Column:
    """``HMAC-SHA-256(key, value)`` as 64 hex digits; null stays null.

    ``value`` is taken as a string (UTF-8 bytes), so the result equals :meth:`PiiKey.digest`.
    """
    secret = key.secret
    if len(secret) > _BLOCK:
        secret = hashlib.sha256(secret).digest()
    secret = secret.ljust(_BLOCK, b"\0")
    inner_pad = bytes(b ^ 0x36 for b in secret)
    outer_pad = bytes(b ^ 0x5C for b in secret)
    message = F.encode(value.cast("string"), "UTF-8")
    inner = F.unhex(F.sha2(F.concat(F.lit(bytearray(inner_pad)), message), 256))
    digest = F.sha2(F.concat(F.lit(bytearray(outer_pad)), inner), 256)
    return F.when(value.isNotNull(), digest)


__all__ = [
    "KEY_ENV",
    "KEY_FILE_ENV",
    "MIN_KEY_BYTES",
    "PiiKey",
    "ensure_demo_key",
    "hash_column",
    "load_pii_key",
]
