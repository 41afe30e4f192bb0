"""The key of the audit trail's hash chain, kept outside the database.

Someone who can write to the database but does not have this key can change or delete
events, but cannot compute the hashes that make the chain verify again. Where it comes from:

1. ``WINBACK_AUDIT_KEY`` (any string; use 32+ random bytes, e.g. ``openssl rand -hex 32``) -
   needed when the web server and the Prefect workers do not share one data directory;
2. else the file ``audit_key`` in the data directory, created at first use with a random key
   and permissions 0600.

Every process that writes audit events (web, CLI, workers) and ``winback audit verify`` must
use the same key. Lose it and the trail can no longer be verified: back it up apart from the
database (deployments/README.md).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from winback.config import get_settings

FILE_NAME = "audit_key"


@dataclass(frozen=True)
class AuditKey:
    secret: bytes
    source: str  # "WINBACK_AUDIT_KEY" or the key file's path

    @property
    def fingerprint(self) -> str:
        """Names the key without revealing it (the first 12 hex digits of its SHA-256)."""
        return hashlib.sha256(self.secret).hexdigest()[:12]

    def describe(self) -> str:
        where = (
            "environment variable WINBACK_AUDIT_KEY" if self.source == "WINBACK_AUDIT_KEY" else self.source
        )
        return f"key {self.fingerprint} from {where}"


def current() -> AuditKey:
    settings = get_settings()
    return load(settings.audit_key, settings.data_dir.resolve())


@lru_cache
def load(from_env: str, data_dir: Path) -> AuditKey:
    if from_env:
        return AuditKey(from_env.encode("utf-8"), "WINBACK_AUDIT_KEY")
    path = data_dir / FILE_NAME
    try:
        return AuditKey(_read(path), str(path))
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once agree on the one file the first one wrote.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the other process may still be writing it
            try:
                return AuditKey(_read(path), str(path))
            except ValueError:
                time.sleep(0.02)
        return AuditKey(_read(path), str(path))
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return AuditKey(_read(path), str(path))


def _read(path: Path) -> bytes:
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise ValueError(f"the audit key file {path} is empty")
    return text.encode("utf-8")
