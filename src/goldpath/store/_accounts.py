"""The store's accounts: listing, deleting and re-keying users, and revoking their tokens.

A token carries its user's ``token_version`` and its own ``jti``. A token is valid while
its user exists, its version is the user's, and its ``jti`` is not in ``revoked_tokens``:
one indexed query per check (`token_valid`). Changing a password bumps the version, which
revokes every earlier token at once; deleting a user deletes their threads, messages,
runs, run events and revoked tokens with them (``ON DELETE CASCADE``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection

from goldpath.errors import NotFoundError

from ._queries import user_record
from ._records import UserRecord
from ._schema import revoked_tokens, users

__all__ = ["AccountMethods"]

T = TypeVar("T")

_TOKEN_STATE = (
    select(users.c.token_version, revoked_tokens.c.jti)
    .outerjoin(
        revoked_tokens,
        (revoked_tokens.c.user_id == users.c.user_id) & (revoked_tokens.c.jti == bindparam("jti")),
    )
    .where(users.c.user_id == bindparam("user_id"))
)


def _no_user(username: str) -> NotFoundError:
    return NotFoundError(f"there is no user {username!r}; `goldpath user list` shows them")


class AccountMethods:
    """The store's methods for accounts and tokens; `goldpath.store.Store` has them."""

    _now: Callable[[], datetime]

    async def _run(self, action: str, work: Callable[[Connection], T], *, write: bool) -> T:
        raise NotImplementedError  # Store's: one transaction, failures as StoreError

    async def list_users(self) -> list[UserRecord]:
        """Every user, by username (ignoring case)."""
        query = select(users).order_by(users.c.username_key)

        def list_(conn: Connection) -> list[UserRecord]:
            return [user_record(row) for row in conn.execute(query)]

        return await self._run("list users", list_, write=False)

    async def delete_user(self, username: str) -> UserRecord:
        """Delete the user (found ignoring case) and everything they own; `NotFoundError`
        when there is none. Their tokens stop working with them."""
        key = username.casefold()

        def delete_(conn: Connection) -> UserRecord:
            row = conn.execute(select(users).where(users.c.username_key == key)).first()
            if row is None:
                raise _no_user(username)
            conn.execute(delete(users).where(users.c.user_id == row.user_id))
            return user_record(row)

        return await self._run("delete a user", delete_, write=True)

    async def set_password(self, username: str, password_hash: str) -> UserRecord:
        """Give the user a new password hash and a new token version, which revokes every
        token issued before; `NotFoundError` when there is no such user."""
        key = username.casefold()
        change = (
            update(users)
            .where(users.c.username_key == key)
            .values(password_hash=password_hash, token_version=users.c.token_version + 1)
            .returning(*users.c)
        )

        def set_(conn: Connection) -> UserRecord:
            row = conn.execute(change).first()
            if row is None:
                raise _no_user(username)
            return user_record(row)

        return await self._run("change a password", set_, write=True)

    async def token_valid(self, user_id: str, token_version: int, jti: str) -> bool:
        """True while the user exists, has this token version and has not revoked ``jti``."""

        def check(conn: Connection) -> bool:
            row = conn.execute(_TOKEN_STATE, {"user_id": user_id, "jti": jti}).first()
            return row is not None and row.token_version == token_version and row.jti is None

        return await self._run("check a token", check, write=False)

    async def revoke_token(self, user_id: str, jti: str, expires_at: datetime) -> None:
        """Refuse the token ``jti`` of ``user_id`` from now on (idempotent); forget revoked
        tokens that have expired anyway."""
        now = self._now()

        def revoke(conn: Connection) -> None:
            conn.execute(delete(revoked_tokens).where(revoked_tokens.c.expires_at < now))
            known = select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == jti)
            if conn.execute(known).first() is None and expires_at >= now:
                conn.execute(
                    revoked_tokens.insert(),
                    {"jti": jti, "user_id": user_id, "expires_at": expires_at},
                )

        await self._run("revoke a token", revoke, write=True)
