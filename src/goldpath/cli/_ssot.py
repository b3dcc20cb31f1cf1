"""`goldpath check` and `goldpath migrate`: the single-source-of-truth toolkit's commands.

libcst, rich and the toolkit itself are imported inside the commands so that
`goldpath --help` and the other subcommands stay fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from goldpath.cli._app import app

PathArg = Annotated[
    Path,
    typer.Argument(
        metavar="PATH", help="Directory or file to work on (default: the current directory)."
    ),
]


@app.command(short_help="Score a codebase's drift from one source of truth.")
def check(
    path: PathArg = Path("."),
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Print the findings as JSON (score, files_scanned, findings)."),
    ] = False,
    fail_under: Annotated[
        float,
        typer.Option(
            "--fail-under",
            metavar="SCORE",
            min=0,
            max=100,
            help="Exit with code 1 when the compliance score (0-100) is below this value.",
        ),
    ] = 0.0,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Rules TOML file (a pyproject.toml or a plain rules file) instead of the "
            "[tool.goldpath.ssot] section found above PATH.",
        ),
    ] = None,
) -> None:
    """Scan for drift from the single source of truth and score the tree out of 100.

    Reports legacy API use, engines made outside the factory, duplicate engines, factories
    and emitters, shared module state in agents and tools, and contexts built from user ids
    the client sent.
    """
    from rich.console import Console

    from goldpath.ssot import SsotError, check_tree
    from goldpath.ssot._report import check_json, print_check

    try:
        report = check_tree(path, config=config)
    except SsotError as exc:
        Console(stderr=True, soft_wrap=True, highlight=False).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if json_output:
        typer.echo(check_json(report))
    else:
        print_check(report, Console(highlight=False, soft_wrap=True))
    if report.score < fail_under:
        raise typer.Exit(1)


@app.command(short_help="Rewrite legacy API use to the canonical API.")
def migrate(
    path: PathArg = Path("."),
    write: Annotated[
        bool,
        typer.Option("--write", help="Apply the changes (backing up every file first)."),
    ] = False,
    diff: Annotated[
        bool,
        typer.Option("--diff", help="Print a unified diff of the changes (the default mode)."),
    ] = False,
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules",
            metavar="FILE",
            help="Rules TOML file instead of the [tool.goldpath.ssot] section found above PATH.",
        ),
    ] = None,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            min=1,
            metavar="N",
            help="Files per batch between --test-cmd runs (with --write).",
        ),
    ] = 50,
    test_cmd: Annotated[
        str | None,
        typer.Option(
            "--test-cmd",
            metavar="COMMAND",
            help="Shell command run in PATH after each written batch; a batch it fails on is "
            "rolled back and reported, and the run goes on.",
        ),
    ] = None,
    rollback: Annotated[
        bool,
        typer.Option(
            "--rollback", help="Restore the exact bytes of every file the last --write changed."
        ),
    ] = False,
    backup_dir: Annotated[
        Path | None,
        typer.Option(
            "--backup-dir",
            metavar="DIR",
            help="Where --write keeps backups and --rollback finds them (default: "
            ".goldpath-migrate/ at PATH's root, which belongs in .gitignore).",
        ),
    ] = None,
) -> None:
    """Rewrite legacy imports, names, keywords and constructors to the canonical API.

    Writes nothing unless --write is given; what cannot be rewritten safely is reported.
    """
    from rich.console import Console

    from goldpath.ssot import SsotError, migrate_tree, rollback_tree
    from goldpath.ssot._report import print_migration

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        if rollback:
            restored = rollback_tree(path, backup_dir)
            console.print(f"restored {len(restored)} files from the last migrate backup")
            return
        report = migrate_tree(
            path,
            rules_file=rules,
            write=write,
            batch_size=batch_size,
            test_cmd=test_cmd,
            backup_dir=backup_dir,
        )
    except SsotError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if diff or not write:
        typer.echo(report.diff, nl=False)
    print_migration(report, console)
