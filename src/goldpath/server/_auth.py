"""Who the caller is: argon2 password hashes, HS256 access tokens, and limits on failed logins."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from goldpath.cluster import RateWindow, Windows, in_process_window
from goldpath.context import new_id
from goldpath.errors import AuthError, LimitExceededError
from goldpath.server._fair import FairSlots
from goldpath.store import Store, UserRecord

__all__ = [
    "ALGORITHM",
    "AUDIENCE",
    "ISSUER",
    "Authenticator",
    "LoginLimitedError",
    "PasswordHashing",
    "RegistrationLimitedError",
    "TokenClaims",
    "TokenIssuer",
]

ALGORITHM = "HS256"
AUDIENCE = "goldpath"
ISSUER = "goldpath"
_REQUIRED_CLAIMS = ["sub", "exp", "iat", "aud", "iss", "jti", "ver"]
_LOGIN_REFUSED = "wrong username or password; check both and try again"
_REVOKED = (
    "the access token was revoked (logged out, password changed or account deleted); log in again"
)
REGISTRATION_WINDOW_SECONDS = 3600.0
"""The window of the per-address registration limit."""


class PasswordHashing:
    """argon2id through argon2-cffi; hashing takes ~50 ms, so it runs in a worker thread.

    At most ``concurrency`` hashes or verifications run at once (default: one per CPU):
    each takes ``memory_kib`` of memory, so a flood of registrations or logins waits its
    turn instead of filling the thread pool and the memory. The waiting is fair between
    clients (`FairSlots`, keyed by ``client``, the client's address): a flood from one
    address waits behind itself, not in front of everyone else.
    """

    __slots__ = ("_dummy", "_hasher", "_slots")

    def __init__(
        self, *, time_cost: int = 3, memory_kib: int = 65536, concurrency: int | None = None
    ) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        self._dummy: str | None = None
        self._slots = FairSlots(concurrency or os.cpu_count() or 1)

    async def hash(self, password: str, client: str = "") -> str:
        async with self._slots.slot(client):
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str, client: str = "") -> bool:
        async with self._slots.slot(client):
            return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def prepare(self) -> None:
        """Make the dummy hash now, so the first unknown username is not slower than later ones."""
        if self._dummy is None:
            self._dummy = await self.hash("goldpath-dummy-password")

    async def verify_nothing(self, password: str, client: str = "") -> None:
        """Spend the time of one verification, so an unknown username takes as long."""
        await self.prepare()
        assert self._dummy is not None
        await self.verify(self._dummy, password, client)


@dataclass(frozen=True, slots=True)
class AccessToken:
    token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says: whose it is, its own id, the user's token version then."""

    user_id: str
    jti: str
    version: int
    expires_at: datetime


class TokenIssuer:
    """Signs and checks the server's JWTs: HS256 only, every claim of PROTOCOL.md required."""

    __slots__ = ("_key", "_ttl")

    def __init__(self, secret_key: str, ttl_seconds: int) -> None:
        self._key = secret_key
        self._ttl = ttl_seconds

    def issue(self, user_id: str, version: int = 0) -> AccessToken:
        """A token for ``user_id`` at its ``token_version`` (``ver``), with its own ``jti``."""
        now = int(time.time())
        claims = {
            "sub": user_id,
            "iat": now,
            "exp": now + self._ttl,
            "aud": AUDIENCE,
            "iss": ISSUER,
            "jti": new_id("tok"),
            "ver": version,
        }
        return AccessToken(jwt.encode(claims, self._key, algorithm=ALGORITHM), self._ttl)

    def claims(self, token: str) -> TokenClaims:
        """The claims of a well-signed, unexpired token; `AuthError` for anything else,
        saying why. Whether it was revoked is the store's to say (`Authenticator`)."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the access token has expired; log in again") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"the access token is not valid ({exc}); log in again") from None
        subject, jti, version = claims.get("sub"), claims.get("jti"), claims.get("ver")
        if not isinstance(subject, str) or not subject:
            raise AuthError("the access token names no user; log in again")
        if not isinstance(jti, str) or not jti or type(version) is not int:
            raise AuthError("the access token is not one of this server's; log in again")
        return TokenClaims(subject, jti, version, datetime.fromtimestamp(claims["exp"], UTC))


class LoginLimitedError(LimitExceededError):
    """Too many failed logins for one account or from one address."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed logins; wait {retry_after} s before trying again, "
            "or check the username and password"
        )
        self.retry_after = retry_after


class RegistrationLimitedError(LimitExceededError):
    """Too many registrations from one address."""

    def __init__(self, limit: int, retry_after: int) -> None:
        super().__init__(
            f"more than {limit} registrations from this address in an hour; "
            f"wait {retry_after} s before registering again"
        )
        self.retry_after = retry_after


class Authenticator:
    """Registration and login on the store; counts failed logins only.

    The login policy (docs/security.md):

    - Failed logins for one account from one address lock that (account, address) pair
      after ``failures_per_account`` in ``failure_window`` seconds.
    - Failed logins from one address, for any accounts, lock that address after
      ``failures_per_address``.
    - An account with ``failures_per_account`` recent failures from all addresses together
      is not locked: every attempt at it waits ``slowdown`` seconds before its password is
      checked, so its owner still logs in from an address that is not locked.

    A locked pair or address is refused before its password is hashed, so a flood of
    attempts costs no hashing once a limit is reached.
    """

    __slots__ = (
        "_by_account",
        "_by_address",
        "_by_pair",
        "_passwords",
        "_registrations",
        "_slowdown",
        "_store",
        "tokens",
    )

    def __init__(
        self,
        store: Store,
        passwords: PasswordHashing,
        tokens: TokenIssuer,
        *,
        failures_per_account: int,
        failures_per_address: int,
        failure_window: float,
        registrations_per_address: int = 100,
        slowdown: float = 1.0,
        windows: Windows = in_process_window,
    ) -> None:
        """``windows`` makes the limits' rate windows: in this process by default, shared
        by every node with the cluster's ``Cluster.window``."""
        self._store = store
        self._passwords = passwords
        self.tokens = tokens
        self._by_pair = windows("login-pair", failures_per_account, failure_window)
        self._by_address = windows("login-address", failures_per_address, failure_window)
        self._by_account = windows("login-account", failures_per_account, failure_window)
        self._registrations = windows(
            "registration-address", registrations_per_address, REGISTRATION_WINDOW_SECONDS
        )
        self._slowdown = slowdown

    async def register(self, username: str, password: str, address: str) -> UserRecord:
        """`ConflictError` when the username is taken (ignoring case);
        `RegistrationLimitedError` when ``address`` has registered too often in the last
        hour. Every attempt that gets as far as hashing the password counts."""
        wait = await self._registrations.try_hit(address)
        if wait:
            raise RegistrationLimitedError(self._registrations.limit, wait)
        password_hash = await self._passwords.hash(password, address)
        return await self._store.create_user(username, password_hash)

    async def login(self, username: str, password: str, address: str) -> AccessToken:
        """A token, `AuthError` (same message for a wrong password or an unknown user), or
        `LoginLimitedError` (before any hashing) when the pair or the address is locked.

        The attempt takes its place in the pair's and the account's windows before the
        password is checked (each window checks and records in one atomic step, in this
        process or in Redis), so parallel wrong guesses at one account cannot slip past the
        limit while their verifications run; a success gives the places back. The address
        counts finished failures only, so many people behind one address logging in at once are not
        refused for being many (their hashing shares that address's turns).
        """
        account = username.casefold()
        pair = f"{account} {address}"  # a username has no space; an address has none either
        wait = await self._by_address.wait(address)
        if wait:
            raise LoginLimitedError(wait)
        wait, pair_hit = await self._by_pair.reserve(pair)
        if pair_hit is None:
            raise LoginLimitedError(wait)
        slow, account_hit = await self._by_account.reserve(account)
        hits = [(self._by_pair, pair, pair_hit)]
        if account_hit is not None:
            hits.append((self._by_account, account, account_hit))
        try:
            if slow:
                await asyncio.sleep(self._slowdown)
            user = await self._store.get_user_by_username(username)
            if user is None:
                await self._passwords.verify_nothing(password, address)
                ok = False
            else:
                ok = await self._passwords.verify(user.password_hash, password, address)
        except BaseException:
            # Not a failed login (the store failed, or the request went away): undo.
            await _release(hits)
            raise
        if ok and user is not None:
            await _release(hits)
            return self.tokens.issue(user.user_id, user.token_version)
        await self._by_address.record(address)
        raise AuthError(_LOGIN_REFUSED)

    async def authenticate(self, token: str) -> TokenClaims:
        """The claims of a valid token that was not revoked (logged out, the password
        changed, the user deleted); `AuthError` otherwise. One indexed query."""
        claims = self.tokens.claims(token)
        if not await self._store.token_valid(claims.user_id, claims.version, claims.jti):
            raise AuthError(_REVOKED)
        return claims

    async def logout(self, claims: TokenClaims) -> None:
        """Refuse the token of ``claims`` from now on."""
        await self._store.revoke_token(claims.user_id, claims.jti, claims.expires_at)


async def _release(hits: list[tuple[RateWindow, str, str]]) -> None:
    """Give back the places a login took in its windows."""
    for window, key, hit in hits:
        await window.release(key, hit)
