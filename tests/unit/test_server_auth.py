"""Password hashing, access tokens and the sliding windows that limit failed logins."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from goldpath import AuthError
from goldpath.server._auth import PasswordHashing, TokenIssuer
from goldpath.server._ratelimit import SWEEP_AT, SlidingWindow

pytestmark = pytest.mark.unit

KEY = "unit-test-secret-key-long-enough-for-hs256-and-more-0123456789abcdef"


async def test_passwords() -> None:
    hashing = PasswordHashing(time_cost=1, memory_kib=1024)
    hashed = await hashing.hash("correct horse")
    assert hashed.startswith("$argon2id$")
    assert await hashing.verify(hashed, "correct horse")
    assert not await hashing.verify(hashed, "wrong horse")
    assert not await hashing.verify("not a hash", "correct horse")
    await hashing.verify_nothing("anything")


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    values = {"sub": "usr_1", "iat": now, "exp": now + 60, "aud": "goldpath", "iss": "goldpath"}
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def test_tokens() -> None:
    issuer = TokenIssuer(KEY, 60)
    token = issuer.issue("usr_1")
    assert token.expires_in == 60
    assert issuer.user_id(token.token) == "usr_1"
    header = jwt.get_unverified_header(token.token)
    assert header["alg"] == "HS256"
    claims = jwt.decode(token.token, KEY, algorithms=["HS256"], audience="goldpath")
    assert set(claims) == {"sub", "iat", "exp", "aud", "iss"}


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode(_claims(exp=int(time.time()) - 10), KEY, algorithm="HS256"),
        jwt.encode(_claims(), None, algorithm="none"),
        jwt.encode(_claims(aud="other"), KEY, algorithm="HS256"),
        jwt.encode(_claims(iss="other"), KEY, algorithm="HS256"),
        jwt.encode(_claims(sub=None), KEY, algorithm="HS256"),
        jwt.encode(_claims(iat=None), KEY, algorithm="HS256"),
        jwt.encode(_claims(sub=""), KEY, algorithm="HS256"),
        jwt.encode(_claims(), KEY + "x", algorithm="HS256"),
        "garbage",
    ],
)
def test_refused_tokens(token: str) -> None:
    with pytest.raises(AuthError, match="log in again"):
        TokenIssuer(KEY, 60).user_id(token)


def test_sliding_window() -> None:
    now = [100.0]
    window = SlidingWindow(2, 10, clock=lambda: now[0])
    assert window.try_hit("a") == 0
    assert window.try_hit("a") == 0
    assert window.try_hit("a") == 10
    assert window.retry_after("b") == 0
    now[0] = 105.5
    assert window.retry_after("a") == 5
    now[0] = 110.0
    assert window.retry_after("a") == 0
    window.hit("a")
    now[0] = 200.0
    assert window.retry_after("a") == 0
    assert window.try_hit("a") == 0


def test_sliding_window_forgets_idle_keys() -> None:
    now = [0.0]
    window = SlidingWindow(1, 10, clock=lambda: now[0])
    for i in range(SWEEP_AT):
        window.hit(f"scan{i}")
    assert len(window) == SWEEP_AT
    now[0] = 20.0
    window.hit("late")
    assert len(window) == 1
