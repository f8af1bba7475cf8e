"""Secrets handed to people (tokens, links, session ids): only their hashes are stored."""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str = "") -> str:
    """32 random bytes, URL-safe; ``prefix`` makes a leaked token recognisable."""
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The SHA-256 (hex) under which a secret is stored and looked up."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
