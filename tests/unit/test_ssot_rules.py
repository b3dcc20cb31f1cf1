"""The built-in rule set keeps up with the package: every name goldpath.compat re-exports
has a move to its canonical home, so `goldpath migrate` can rewrite any old import."""

from __future__ import annotations

from pathlib import Path

import pytest

import goldpath
from goldpath.ssot import migrate_tree
from goldpath.ssot._rules import builtin_rules

pytestmark = pytest.mark.unit


def test_every_public_name_has_a_move_out_of_compat() -> None:
    moves = builtin_rules().moves
    public = [name for name in goldpath.__all__ if name != "__version__"]
    assert {n: moves.get(f"goldpath.compat.{n}") for n in public} == {
        n: f"goldpath.{n}" for n in public
    }


def test_migrate_rewrites_any_canonical_name_imported_from_compat(tmp_path: Path) -> None:
    source = tmp_path / "app.py"
    source.write_text(
        "from goldpath.compat import RunLimits, UserExecutionEngine\nUSED = RunLimits\n"
    )
    migrate_tree(tmp_path, write=True)
    assert source.read_text() == (
        "from goldpath import RunLimits, UserExecutionEngine\nUSED = RunLimits\n"
    )
