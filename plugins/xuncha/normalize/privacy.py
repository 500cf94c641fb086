"""Person data never enters the warehouse in clear.

A county sends `person_ref`, a pseudonymous reference. At ingest it is replaced by
HMAC-SHA256(key, county_code + ":" + value), so the same person in the same county system keeps one
reference across exports, and nobody without the key can link it back. A value that looks like a real
name (2–6 Chinese characters) or a national ID number (18 characters, GB 11643) quarantines the export.

The key comes from XUNCHA_PERSON_KEY, or the Airflow connection `xuncha_person_key` (its password).
For the embedded default only, a random key is created once in XUNCHA_HOME (never in the repository).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from xuncha.settings import get_settings

PERSON_KEY_CONN_ID = "xuncha_person_key"
_NAME = re.compile(r"^[\u3400-\u9fff][\u3400-\u9fff·•]{1,5}$")
_ID_NUMBER = re.compile(r"(?<![0-9])[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9])")


def looks_like_id_number(value: str) -> bool:
    """An 18-character mainland ID number (checksum-valid, or 18 digits shaped like one)."""
    return bool(_ID_NUMBER.search(value))


def looks_like_name(value: str) -> bool:
    """Two to six CJK characters (a middle dot allowed): shaped like a Chinese personal name."""
    return bool(_NAME.match(value.strip()))


class PersonHasher:
    """Keyed hash of person references (HMAC-SHA-256 with the person key, per county); the key must be
    at least 16 bytes (ValueError)."""
    def __init__(self, key: bytes, county_code: str):
        if len(key) < 16:
            raise ValueError("the person hashing key must be at least 16 bytes")
        self._key = key
        self._prefix = f"{county_code}:".encode()

    def hash(self, value: str) -> str:
        """`h1:<hex>`: the keyed hash of a pseudonymous reference, stable per county and key."""
        return "h1:" + hmac.new(self._key, self._prefix + value.strip().encode("utf-8"), hashlib.sha256).hexdigest()

    @staticmethod
    def check(value: str) -> str | None:
        """Why `value` must not be loaded, or None."""
        if looks_like_id_number(value):
            return "looks like a national ID number (身份证号); send a pseudonymous reference instead"
        if looks_like_name(value):
            return "looks like a person's name (姓名); send a pseudonymous reference instead"
        return None

    @staticmethod
    def mask(value: str) -> str:
        """What a report may show of a rejected value."""
        v = value.strip()
        if len(v) <= 2:
            return v[0] + "*"
        return v[0] + "*" * (len(v) - 2) + v[-1]


def person_key() -> bytes:
    """The person hashing key: XUNCHA_PERSON_KEY, else Airflow connection `xuncha_person_key` (password),
    else (embedded default only) a local random key; RuntimeError on an external warehouse without one."""
    env = get_settings().person_key
    if env:
        return env.encode()
    from xuncha.orchestration.hooks import connection

    conn = connection(PERSON_KEY_CONN_ID)  # None outside Airflow, or with no such connection
    if conn is not None and conn.password:
        return conn.password.encode()
    settings = get_settings()
    if not settings.embedded:
        raise RuntimeError(
            "no person hashing key: set XUNCHA_PERSON_KEY or the Airflow connection "
            f"'{PERSON_KEY_CONN_ID}' (a local key is only made for the embedded default)"
        )
    return _local_key(settings.home / "person_hash.key")


def _local_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
