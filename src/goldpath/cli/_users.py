"""``goldpath user ...``: the server's accounts, managed from a shell on its machine.

Each command says which database it uses (and the data directory), so an account is never
made or changed in a database the server does not use.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from goldpath.cli._app import app
from goldpath.cli._errors import USAGE, fail
from goldpath.errors import ConfigurationError, ConflictError, GoldpathError

__all__ = ["user_add"]

user_app = typer.Typer(name="user", help="Manage the server's user accounts.", no_args_is_help=True)
app.add_typer(user_app)


@user_app.command("add")
def user_add(
    username: Annotated[
        str, typer.Argument(help="3 to 64 letters, digits, '_', '.' or '-'; unique ignoring case.")
    ],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
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
    try:
        user_id = asyncio.run(_add_user(username, password))
    except ConflictError:
        fail(f"the username {username!r} is taken; choose another one")
    except ConfigurationError as exc:
        fail(str(exc), USAGE)
    except GoldpathError as exc:
        fail(str(exc))
    typer.echo(f"created user {username!r} ({user_id})")


async def _add_user(username: str, password: str) -> str:
    from goldpath.cli._storage import describe_storage
    from goldpath.server import Settings
    from goldpath.server._app import password_hashing
    from goldpath.store import Store

    settings = Settings().prepared()
    typer.echo(describe_storage(settings), err=True)
    assert settings.database_url is not None
    store = await Store.open(settings.database_url)
    try:
        password_hash = await password_hashing(settings).hash(password)
        return (await store.create_user(username, password_hash)).user_id
    finally:
        await store.close()
