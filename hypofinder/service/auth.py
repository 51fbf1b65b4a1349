"""Bearer-token check: when the server has an API key, every /v1 call must send ``Authorization: Bearer KEY``.
Compared in constant time; the key is a SecretStr, so it never shows in reprs, responses or logs."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

_bearer = HTTPBearer(auto_error=False, description="The server's HYPOFINDER_API_KEY")


def key_checker(key: SecretStr | None):
    """A FastAPI dependency enforcing ``key`` (a no-op without one)."""
    expected = key.get_secret_value().encode() if key is not None else None

    async def check(request: Request) -> None:
        if expected is None:
            return
        creds: HTTPAuthorizationCredentials | None = await _bearer(request)
        given = creds.credentials.encode() if creds is not None else b""
        if not hmac.compare_digest(given, expected):
            raise HTTPException(
                status_code=401,
                detail="missing or wrong API key (Authorization: Bearer KEY)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check
