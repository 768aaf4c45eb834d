"""HMAC-SHA256 signatures on event bodies (HR → intake).

The sender computes ``sha256=<hex>`` over the exact request body bytes with the shared
secret and sends it in the ``X-Hub-Signature-256`` header. The receiver recomputes it and
compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["HEADER", "sign", "verify"]

HEADER = "X-Hub-Signature-256"


def sign(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(body: bytes, secret: str, signature: str | None) -> bool:
    if not signature or not secret:
        return False
    return hmac.compare_digest(sign(body, secret), signature.strip())
