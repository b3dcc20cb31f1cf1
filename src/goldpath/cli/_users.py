"""``goldpath user ...``: the server's accounts, managed from a shell on its machine.

Each command says which database it uses (and the data directory), so an account is never
made or changed in a database the server does not use.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from goldpath.cli._app import app
from goldpath.cli._errors import USAGE, fail
from goldpath.cli._storage import describe_storage
from goldpath.errors import ConfigurationError, GoldpathError, NotFoundError

if TYPE_CHECKING:
    from goldpath.server import Settings
    from goldpath.store import Store, UserRecord

__all__ = ["user_add", "user_delete", "user_list", "user_passwd"]

T = TypeVar("T")

user_app = typer.Typer(name="user", help="Manage the server's user accounts.", no_args_is_help=True)
app.add_typer(user_app)


@user_app.command("add", short_help="Make an account.")
def user_add(
    username: Annotated[
        str,
        typer.Argument(
            metavar="USERNAME",
            help="3 to 64 letters, digits, '_', '.' or '-'; unique ignoring case.",
        ),
    ],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            metavar="PASSWORD",
            help="8 to 256 characters; asked for (hidden) when not given.",
        ),
    ],
) -> None:
    """Create a user account in the server's database (GOLDPATH_DATABASE_URL or the data dir)."""
    from pydantic import ValidationError

    from goldpath.server._schemas import RegisterBody

    try:  # the same rules as POST /auth/register
        RegisterBody(username=username, password=password)
    except ValidationError as exc:
        problems = {str(e["loc"][0]) for e in exc.errors()}
        if "username" in problems:
            fail(f"username {username!r} must be 3 to 64 of A-Z a-z 0-9 _ . -", USAGE)
        fail("the password must be 8 to 256 characters long", USAGE)
    user_id = _run(_add_user(username, password))  # a taken username: ConflictError
    typer.echo(f"created user {username!r} ({user_id})")


async def _add_user(username: str, password: str) -> str:
    from goldpath.server._app import password_hashing

    async with _store() as (store, settings):
        password_hash = await password_hashing(settings).hash(password)
        return (await store.create_user(username, password_hash)).user_id


@user_app.command("list", short_help="List the accounts.")
def user_list() -> None:
    """List the accounts: username, user id and when each was made, one a line."""
    for user in _run(_list_users()):
        typer.echo(f"{user.username}\t{user.user_id}\t{user.created_at:%Y-%m-%d %H:%M:%S} UTC")


async def _list_users() -> list[UserRecord]:
    async with _store() as (store, _):
        return await store.list_users()


@user_app.command("delete", short_help="Delete an account and all it owns.")
def user_delete(
    username: Annotated[
        str, typer.Argument(metavar="USERNAME", help="The account to delete (any letter case).")
    ],
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask for confirmation.", show_default=False)
    ] = False,
) -> None:
    """Delete an account with its threads, messages and runs; its tokens stop working."""
    user = _run(_delete_user(username, confirm=not yes))
    typer.echo(f"deleted user {user.username!r} ({user.user_id})")


async def _delete_user(username: str, *, confirm: bool) -> UserRecord:
    async with _store() as (store, _):
        if confirm:  # a missing account is told before the question
            found = await store.get_user_by_username(username)
            if found is None:
                raise NotFoundError(
                    f"there is no user {username!r}; `goldpath user list` shows them"
                )
            typer.confirm(f"delete {found.username!r} and everything it owns?", abort=True)
        return await store.delete_user(username)


@user_app.command("passwd", short_help="Change an account's password.")
def user_passwd(
    username: Annotated[
        str, typer.Argument(metavar="USERNAME", help="The account (any letter case).")
    ],
    password: Annotated[
        str,
        typer.Option(
            prompt="New password",
            hide_input=True,
            confirmation_prompt=True,
            metavar="PASSWORD",
            help="The new password, 8 to 256 characters; asked for (hidden) when not given.",
        ),
    ],
) -> None:
    """Change an account's password; every token issued before stops working."""
    if not 8 <= len(password) <= 256:
        fail("the password must be 8 to 256 characters long", USAGE)
    user = _run(_set_password(username, password))
    typer.echo(f"changed the password of {user.username!r}; its earlier tokens are revoked")


async def _set_password(username: str, password: str) -> UserRecord:
    from goldpath.server._app import password_hashing

    async with _store() as (store, settings):
        password_hash = await password_hashing(settings).hash(password)
        return await store.set_password(username, password_hash)


@asynccontextmanager
async def _store() -> AsyncIterator[tuple[Store, Settings]]:
    """The server's store (as `goldpath serve` would open it), saying which one it is."""
    from goldpath.server import Settings
    from goldpath.store import Store

    settings = Settings().prepared()
    typer.echo(describe_storage(settings), err=True)
    assert settings.database_url is not None
    store = await Store.open(settings.database_url)
    try:
        yield store, settings
    finally:
        await store.close()


def _run(work: Coroutine[Any, Any, T]) -> T:
    """``work`` to its end; a store or settings failure is one line and an exit code."""
    try:
        return asyncio.run(work)
    except ConfigurationError as exc:
        fail(str(exc), USAGE)
    except GoldpathError as exc:
        fail(str(exc))
