"""Join tokens: short-lived HS256 JWTs naming one participant of one session, and the operator key.

Revocation is not in the token (a JWT cannot be recalled): removal writes the participant id to the
store's revocation list, which every node checks at connect.
"""

from __future__ import annotations

import hmac
import secrets
import time

import jwt

from signaling.ports import Claims, Unauthorized

ROLES = ("facilitator", "cofacilitator", "member")
ALGORITHM = "HS256"


class Tokens:
    def __init__(self, secret: str, ttl_seconds: float) -> None:
        self._secret = secret
        self.ttl = ttl_seconds

    def mint(self, session_id: str, participant_id: str, name: str, role: str, ttl_seconds: float | None = None) -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role {role}")
        now = int(time.time())
        claims = {
            "sub": participant_id,
            "sid": session_id,
            "name": name,
            "role": role,
            "iat": now,
            "exp": now + int(ttl_seconds if ttl_seconds is not None else self.ttl),
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Claims:
        try:
            data = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], options={"require": ["sub", "sid", "role", "exp"]}
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("this link has expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("this link is not valid") from None
        role, name = data.get("role"), data.get("name", "")
        if role not in ROLES or not isinstance(name, str) or not all(isinstance(data[k], str) for k in ("sub", "sid")):
            raise Unauthorized("this link is not valid")
        return Claims(session_id=data["sid"], participant_id=data["sub"], name=name[:64], role=role)

    def signed(self, token: str) -> bool:
        """Whether this server signed ``token`` (expired or not): a credential, not a guess."""
        try:
            jwt.decode(token, self._secret, algorithms=[ALGORITHM], options={"verify_exp": False})
        except jwt.PyJWTError:
            return False
        return True


def new_id(prefix: str) -> str:
    return f"{prefix}{secrets.token_urlsafe(9)}"


def operator_key_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
