"""Password hashing, access tokens and the sliding windows that limit failed logins."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import jwt
import pytest

from goldpath import AuthError
from goldpath.server._auth import Authenticator, LoginLimitedError, PasswordHashing, TokenIssuer
from goldpath.server._fair import FairSlots
from goldpath.store import Store, UserRecord

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
    values = {
        "sub": "usr_1",
        "iat": now,
        "exp": now + 60,
        "aud": "goldpath",
        "iss": "goldpath",
        "jti": "tok_1",
        "ver": 0,
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def test_tokens() -> None:
    issuer = TokenIssuer(KEY, 60)
    token = issuer.issue("usr_1")
    assert token.expires_in == 60
    read = issuer.claims(token.token)
    assert (read.user_id, read.version) == ("usr_1", 0)
    assert read.jti.startswith("tok_")
    assert issuer.claims(issuer.issue("usr_1", 7).token).version == 7
    header = jwt.get_unverified_header(token.token)
    assert header["alg"] == "HS256"
    claims = jwt.decode(token.token, KEY, algorithms=["HS256"], audience="goldpath")
    assert set(claims) == {"sub", "iat", "exp", "aud", "iss", "jti", "ver"}


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode(_claims(exp=int(time.time()) - 10), KEY, algorithm="HS256"),
        jwt.encode(_claims(), "", algorithm="none"),
        jwt.encode(_claims(aud="other"), KEY, algorithm="HS256"),
        jwt.encode(_claims(iss="other"), KEY, algorithm="HS256"),
        jwt.encode(_claims(sub=None), KEY, algorithm="HS256"),
        jwt.encode(_claims(iat=None), KEY, algorithm="HS256"),
        jwt.encode(_claims(sub=""), KEY, algorithm="HS256"),
        jwt.encode(_claims(jti=None), KEY, algorithm="HS256"),
        jwt.encode(_claims(ver=None), KEY, algorithm="HS256"),
        jwt.encode(_claims(jti=""), KEY, algorithm="HS256"),
        jwt.encode(_claims(ver="0"), KEY, algorithm="HS256"),
        jwt.encode(_claims(ver=True), KEY, algorithm="HS256"),
        jwt.encode(_claims(), KEY + "x", algorithm="HS256"),
        "garbage",
    ],
)
def test_refused_tokens(token: str) -> None:
    with pytest.raises(AuthError, match="log in again"):
        TokenIssuer(KEY, 60).claims(token)


class GatedPasswords(PasswordHashing):
    """Verifications wait for the test to open the gate; the right password is "right"."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_kib=1024)
        self.gate = asyncio.Event()
        self.verified = 0

    async def verify(self, password_hash: str, password: str, client: str = "") -> bool:
        self.verified += 1
        await self.gate.wait()
        return password == "right"

    async def verify_nothing(self, password: str, client: str = "") -> None:
        await self.verify("", password, client)


class OneUserStore:
    """The store as `Authenticator.login` sees it: one user, ``ann``."""

    async def get_user_by_username(self, username: str) -> UserRecord | None:
        if username.casefold() != "ann":
            return None
        return UserRecord("usr_ann", "ann", "$argon2id$fake", datetime.now(UTC))


def _authenticator(
    passwords: PasswordHashing, *, per_account: int, per_address: int, slowdown: float = 0
) -> Any:
    return Authenticator(
        cast(Store, OneUserStore()),
        passwords,
        TokenIssuer(KEY, 60),
        failures_per_account=per_account,
        failures_per_address=per_address,
        failure_window=60,
        slowdown=slowdown,
    )


async def _outcome(login: Any) -> str:
    try:
        await login
    except LoginLimitedError:
        return "429"
    except AuthError:
        return "401"
    return "200"


async def test_parallel_wrong_logins_are_counted_before_the_verification() -> None:
    passwords = GatedPasswords()
    auth = _authenticator(passwords, per_account=3, per_address=100)
    attempts = [
        asyncio.create_task(_outcome(auth.login("Ann", "wrong", "10.0.0.1"))) for _ in range(10)
    ]
    # Let every attempt reach its verification (or its refusal) before any verification ends.
    await asyncio.sleep(0)  # one pass of the loop: each task runs up to its first suspension
    assert passwords.verified == 3  # the other seven were refused before any hashing
    passwords.gate.set()
    outcomes = await asyncio.gather(*attempts)
    assert sorted(outcomes) == ["401"] * 3 + ["429"] * 7
    # The pair is locked, the right password included.
    assert await _outcome(auth.login("ann", "right", "10.0.0.1")) == "429"
    assert passwords.verified == 3


async def test_successful_logins_give_their_places_back() -> None:
    passwords = GatedPasswords()
    passwords.gate.set()
    auth = _authenticator(passwords, per_account=2, per_address=2)
    for _ in range(5):
        assert await _outcome(auth.login("ann", "right", "10.0.0.1")) == "200"
    assert await _outcome(auth.login("ann", "wrong", "10.0.0.1")) == "401"
    assert await _outcome(auth.login("ann", "right", "10.0.0.1")) == "200"


async def test_a_locked_address_is_refused_before_hashing() -> None:
    passwords = GatedPasswords()
    passwords.gate.set()
    auth = _authenticator(passwords, per_account=5, per_address=2)
    assert await _outcome(auth.login("made_up_1", "wrong", "10.0.0.1")) == "401"
    assert await _outcome(auth.login("made_up_2", "wrong", "10.0.0.1")) == "401"
    for username, password in (("made_up_3", "wrong"), ("ann", "wrong"), ("ann", "right")):
        assert await _outcome(auth.login(username, password, "10.0.0.1")) == "429"
    assert passwords.verified == 2
    assert await _outcome(auth.login("ann", "right", "10.0.0.2")) == "200"


async def test_many_users_logging_in_at_once_from_one_address_are_not_refused() -> None:
    passwords = GatedPasswords()
    auth = _authenticator(passwords, per_account=5, per_address=3)
    logins = [asyncio.create_task(_outcome(auth.login("ann", "right", "10.0.0.1")))]
    logins += [  # and, behind the same address, others who mistype, all at once
        asyncio.create_task(_outcome(auth.login(f"user{i}", "wrong", "10.0.0.1"))) for i in range(2)
    ]
    logins += [asyncio.create_task(_outcome(auth.login("ann", "right", "10.0.0.1")))]
    await asyncio.sleep(0)
    passwords.gate.set()
    assert await asyncio.gather(*logins) == ["200", "401", "401", "200"]
    # Only the failures count against the address: one more, and it is locked.
    assert await _outcome(auth.login("user9", "wrong", "10.0.0.1")) == "401"
    assert await _outcome(auth.login("ann", "right", "10.0.0.1")) == "429"


async def test_an_attacked_account_is_slowed_down_not_locked_for_its_owner() -> None:
    passwords = GatedPasswords()
    passwords.gate.set()
    auth = _authenticator(passwords, per_account=3, per_address=100, slowdown=0.2)
    for i in range(3):  # three failures, each from its own address: no pair is locked
        assert await _outcome(auth.login("ann", "wrong", f"10.0.0.{i}")) == "401"
    for _ in range(3):  # the attacker's own pair locks
        await _outcome(auth.login("ann", "wrong", "10.0.9.9"))
    assert await _outcome(auth.login("ann", "right", "10.0.9.9")) == "429"
    started = time.monotonic()
    assert await _outcome(auth.login("ann", "right", "10.0.1.1")) == "200"  # the owner
    assert time.monotonic() - started >= 0.2  # slowed down
    started = time.monotonic()
    assert await _outcome(auth.login("made_up", "wrong", "10.0.1.1")) == "401"
    assert time.monotonic() - started < 0.2  # another account is not


async def test_hashing_is_shared_fairly_between_addresses() -> None:
    hashing = PasswordHashing(time_cost=1, memory_kib=1024, concurrency=1)
    order: list[str] = []
    gate = threading.Event()

    def recorded(password: str) -> str:
        gate.wait(5)
        order.append(password)
        return password

    hashing._hasher = cast(Any, SimpleNamespace(hash=recorded))
    flood = [asyncio.create_task(hashing.hash(f"flood {i}", "10.0.0.1")) for i in range(10)]
    await asyncio.sleep(0)
    other = asyncio.create_task(hashing.hash("other", "10.0.0.2"))
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*flood, other)
    # The flood's first hash was running; the other address is served next, not 11th.
    assert order[:2] == ["flood 0", "other"]


async def test_a_cancelled_waiter_gives_up_its_turn() -> None:
    slots = FairSlots(1)
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold(key: str) -> str:
        async with slots.slot(key):
            held.set()
            await release.wait()
        return key

    first = asyncio.create_task(hold("a"))
    await held.wait()
    cancelled = asyncio.create_task(hold("b"))
    waiting = asyncio.create_task(hold("c"))
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    assert await first == "a"
    assert await waiting == "c"
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await asyncio.wait_for(hold("d"), 1) == "d"  # the slot came back
    with pytest.raises(ValueError, match="at least 1"):
        FairSlots(0)


class CountingExecutor(ThreadPoolExecutor):
    """The loop's default executor, counting the work handed to it."""

    submitted = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        CountingExecutor.submitted += 1
        return super().submit(fn, *args, **kwargs)


async def test_at_most_concurrency_hashes_run_at_once() -> None:
    hashing = PasswordHashing(time_cost=1, memory_kib=1024, concurrency=2)
    gate = threading.Event()

    def blocked_hash(password: str) -> str:
        gate.wait(5)
        return f"hashed {password}"

    hashing._hasher = cast(Any, SimpleNamespace(hash=blocked_hash))
    loop = asyncio.get_running_loop()
    executor = CountingExecutor(max_workers=8)
    loop.set_default_executor(executor)
    CountingExecutor.submitted = 0
    tasks = [asyncio.create_task(hashing.hash(str(i))) for i in range(6)]
    await asyncio.sleep(0)  # one pass of the loop: every task runs up to its first suspension
    assert CountingExecutor.submitted == 2  # the other four wait for a slot
    gate.set()
    assert await asyncio.gather(*tasks) == [f"hashed {i}" for i in range(6)]
    assert CountingExecutor.submitted == 6
