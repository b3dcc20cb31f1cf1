"""goldpath.ssot.migrate_tree: diff by default, exact bytes, backups, rollback, test batches."""

from __future__ import annotations

import codecs
import sys
from pathlib import Path

import pytest

from goldpath.ssot import UsageError, migrate_tree, rollback_tree

pytestmark = pytest.mark.unit

LEGACY = (
    "from goldpath.compat import UserExecutionContext\r\n"
    "ctx = UserExecutionContext(metadata={})\r\n"
)
MIGRATED = (
    "from goldpath import UserExecutionContext\r\nctx = UserExecutionContext(agent_context={})\r\n"
)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*.py"))
        if ".goldpath-migrate" not in p.parts
    }


def test_diff_mode_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_bytes(LEGACY.encode())
    before = snapshot(tmp_path)
    report = migrate_tree(tmp_path)
    assert snapshot(tmp_path) == before
    assert report.changed == [str(tmp_path / "a.py")]
    assert "-from goldpath.compat import UserExecutionContext" in report.diff
    assert "+from goldpath import UserExecutionContext" in report.diff
    assert not (tmp_path / ".goldpath-migrate").exists()


def test_write_keeps_crlf_and_bom_bytes_and_is_idempotent(tmp_path: Path) -> None:
    (tmp_path / "crlf.py").write_bytes(LEGACY.encode())
    (tmp_path / "bom.py").write_bytes(codecs.BOM_UTF8 + LEGACY.replace("\r\n", "\n").encode())
    (tmp_path / "clean.py").write_bytes(b"x = 1\r\n")
    report = migrate_tree(tmp_path, write=True)
    assert sorted(Path(p).name for p in report.changed) == ["bom.py", "crlf.py"]
    assert (tmp_path / "crlf.py").read_bytes() == MIGRATED.encode()
    assert (tmp_path / "bom.py").read_bytes() == codecs.BOM_UTF8 + MIGRATED.replace(
        "\r\n", "\n"
    ).encode()
    assert (tmp_path / "clean.py").read_bytes() == b"x = 1\r\n"
    after = snapshot(tmp_path)
    again = migrate_tree(tmp_path, write=True)
    assert again.changed == []
    assert snapshot(tmp_path) == after


def test_rollback_restores_identical_bytes(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_bytes(LEGACY.encode())
    (tmp_path / "b.py").write_bytes(codecs.BOM_UTF8 + LEGACY.encode())
    before = snapshot(tmp_path)
    report = migrate_tree(tmp_path, write=True)
    assert report.backup is not None
    assert (report.backup / "manifest.json").is_file()
    assert snapshot(tmp_path) != before
    assert sorted(rollback_tree(tmp_path)) == ["b.py", "pkg/a.py"]
    assert snapshot(tmp_path) == before
    with pytest.raises(UsageError, match="already rolled back"):
        rollback_tree(tmp_path)


def test_rollback_without_backup_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no migrate backup"):
        rollback_tree(tmp_path)


def test_failing_test_batch_is_rolled_back_and_passing_batch_stays(tmp_path: Path) -> None:
    (tmp_path / "a_good.py").write_bytes(LEGACY.encode())
    (tmp_path / "b_bad.py").write_bytes(LEGACY.encode())
    bad_before = (tmp_path / "b_bad.py").read_bytes()
    check = (
        f'{sys.executable} -c "import pathlib, sys; '
        "sys.exit('agent_context' in pathlib.Path('b_bad.py').read_text())\""
    )
    report = migrate_tree(tmp_path, write=True, batch_size=1, test_cmd=check)
    assert (tmp_path / "a_good.py").read_bytes() == MIGRATED.encode()
    assert (tmp_path / "b_bad.py").read_bytes() == bad_before
    assert report.changed == [str(tmp_path / "a_good.py")]
    assert len(report.rolled_back) == 1
    assert "b_bad.py" in report.rolled_back[0]
    assert "exit code 1" in report.rolled_back[0]


def test_unparsable_and_undecodable_files_are_skipped(tmp_path: Path) -> None:
    broken = b"from goldpath.compat import Agent\ndef f(:\n"
    latin = b"from goldpath.compat import Agent\nx = '\xe9'\n"
    bogus = b"# coding: no-such-codec\nfrom goldpath.compat import Agent\n"
    (tmp_path / "broken.py").write_bytes(broken)
    (tmp_path / "latin.py").write_bytes(latin)
    (tmp_path / "bogus.py").write_bytes(bogus)
    report = migrate_tree(tmp_path, write=True)
    assert report.changed == []
    skipped = sorted(report.skipped)
    assert skipped[0] == (
        f"{tmp_path / 'bogus.py'}: cannot be read in its declared encoding "
        "(unknown encoding: no-such-codec); fix it"
    )
    assert skipped[1].startswith(f"{tmp_path / 'broken.py'}:2: does not parse (")
    assert skipped[2].startswith(
        f"{tmp_path / 'latin.py'}: cannot be read in its declared encoding"
    )
    assert (tmp_path / "broken.py").read_bytes() == broken
    assert (tmp_path / "latin.py").read_bytes() == latin
    assert (tmp_path / "bogus.py").read_bytes() == bogus


def test_text_libcst_does_not_reproduce_is_kept_byte_for_byte(tmp_path: Path) -> None:
    files = {
        # libcst 1.9 renders `except KeyError :` as `except KeyError:`
        "spaced.py": (
            b"from goldpath.compat import ExecutionEngine\r\n"
            b"try:\r\n    x: ExecutionEngine\r\nexcept KeyError :\r\n    pass\r\n",
            b"from goldpath import UserExecutionEngine\r\n"
            b"try:\r\n    x: UserExecutionEngine\r\nexcept KeyError :\r\n    pass\r\n",
        ),
        # ... and drops a last lone carriage return
        "cr.py": (
            b"from goldpath.compat import Agent\rx = 1\r",
            b"from goldpath import Agent\rx = 1\r",
        ),
        # PEP 263: read and written in the declared encoding
        "latin.py": (
            b"# -*- coding: latin-1 -*-\nfrom goldpath.compat import Agent\nx = '\xe9'\n",
            b"# -*- coding: latin-1 -*-\nfrom goldpath import Agent\nx = '\xe9'\n",
        ),
    }
    for name, (before, _) in files.items():
        (tmp_path / name).write_bytes(before)
    report = migrate_tree(tmp_path, write=True)
    assert report.skipped == []
    assert len(report.changed) == 3
    for name, (_, after) in files.items():
        assert (tmp_path / name).read_bytes() == after, name
    assert "-x = '\xe9'" not in report.diff
    assert migrate_tree(tmp_path).changed == []


def test_single_file_path_and_reports(tmp_path: Path) -> None:
    target = tmp_path / "one.py"
    target.write_text('from unittest import mock\nmock.patch("goldpath.compat.Agent")\n', "utf-8")
    report = migrate_tree(target)
    assert report.files_scanned == 1
    assert report.changed == []
    assert report.reported == [
        f'{target}:2: string "goldpath.compat.Agent" names a legacy path; update it by hand '
        "(e.g. mock.patch targets) to the canonical module"
    ]


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        migrate_tree(tmp_path / "nope")


def test_process_pool_gives_the_serial_result(tmp_path: Path) -> None:
    for i in range(6):
        (tmp_path / f"m{i}.py").write_bytes(LEGACY.encode())
    (tmp_path / "other.py").write_bytes(b"x = 1\n")
    serial = migrate_tree(tmp_path, jobs=1)
    pooled = migrate_tree(tmp_path, jobs=2)
    assert pooled == serial
    assert len(serial.changed) == 6


def test_docs_team_rules_example_works(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "ssot.md"
    blocks = docs.read_text("utf-8").split("```toml\n")
    example = next(b.split("```")[0] for b in blocks if "acme.old_runtime" in b)
    (tmp_path / "pyproject.toml").write_text(example, "utf-8")
    source = tmp_path / "src" / "acme" / "api.py"
    source.parent.mkdir(parents=True)
    source.write_text(
        "from acme.old_runtime import Engine, RequestContext\n\n\n"
        "async def handle(cfg):\n"
        "    ctx = RequestContext(extra={})\n"
        "    return Engine(cfg)\n",
        "utf-8",
    )
    migrate_tree(tmp_path / "src", write=True)
    assert source.read_text("utf-8") == (
        "from acme.runtime import Engine, RequestContext\n\n\n"
        "async def handle(cfg):\n"
        "    ctx = RequestContext(attributes={})\n"
        "    return await Engine.for_request(cfg)\n"
    )


def test_reexport_module_is_reported_and_left_and_its_importers_migrated(tmp_path: Path) -> None:
    (tmp_path / "app" / "sub").mkdir(parents=True)
    (tmp_path / "app" / "__init__.py").write_bytes(b"")
    (tmp_path / "app" / "sub" / "__init__.py").write_bytes(b"")
    shim = b"from goldpath.compat import ExecutionEngine, UserExecutionContext  # noqa: F401\n"
    (tmp_path / "app" / "compat.py").write_bytes(
        shim
        + b"\n\ndef helper(): ...\n"
        + (b'__all__ = ["ExecutionEngine", "UserExecutionContext", "helper"]\n')
    )
    (tmp_path / "app" / "sub" / "use.py").write_bytes(
        b"from .. import compat\n"
        b"from ..compat import ExecutionEngine as Engine\n"
        b"from app.compat import helper\n\n\n"
        b"async def main(r, b):\n"
        b"    ctx = compat.UserExecutionContext(user_id='u', metadata={})\n"
        b"    return Engine(r, b, ctx), compat.helper(), helper()\n"
    )
    (tmp_path / "app" / "sub" / "whole.py").write_bytes(
        b"from app import compat\n\nctx = compat.UserExecutionContext(user_id='u')\n"
    )
    report = migrate_tree(tmp_path, write=True)
    assert (tmp_path / "app" / "compat.py").read_bytes().startswith(shim)
    assert (tmp_path / "app" / "sub" / "use.py").read_bytes() == (
        b"from .. import compat\n"
        b"import goldpath\n"
        b"from goldpath import UserExecutionEngine as Engine\n"
        b"from app.compat import helper\n\n\n"
        b"async def main(r, b):\n"
        b"    ctx = goldpath.UserExecutionContext(user_id='u', agent_context={})\n"
        b"    return await Engine.create_from_legacy(r, b, ctx), compat.helper(), helper()\n"
    )
    assert (tmp_path / "app" / "sub" / "whole.py").read_bytes() == (
        b"import goldpath\n\nctx = goldpath.UserExecutionContext(user_id='u')\n"
    )
    assert report.reported == [
        f"{tmp_path / 'app' / 'compat.py'}:1: re-exports legacy names (ExecutionEngine, "
        "UserExecutionContext) for other modules: left as is so their importers keep working "
        "(their uses in this tree now point at the canonical names); once nothing imports "
        "them from here, import them from their canonical module or delete this module"
    ]
    assert migrate_tree(tmp_path).changed == []


def test_backup_dir_outside_the_tree(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.py").write_bytes(LEGACY.encode())
    backups = tmp_path / "backups"
    report = migrate_tree(tree, write=True, backup_dir=backups)
    assert report.backup is not None
    assert report.backup.parent == backups
    assert not report.backup_in_tree
    assert not (tree / ".goldpath-migrate").exists()
    with pytest.raises(UsageError, match="pass the same --backup-dir"):
        rollback_tree(tree)
    assert rollback_tree(tree, backups) == ["a.py"]
    assert (tree / "a.py").read_bytes() == LEGACY.encode()


def test_a_change_that_cannot_land_exactly_skips_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No input is known where libcst 1.9's rendering moves an edit off the original text,
    # so the splice's refusal is forced here to check what the run then does.
    monkeypatch.setattr("goldpath.ssot._codemods.splice", lambda *_: None)
    (tmp_path / "a.py").write_bytes(LEGACY.encode())
    report = migrate_tree(tmp_path, write=True, jobs=1)
    assert report.changed == []
    assert report.skipped == [
        f"{tmp_path / 'a.py'}: a change falls on text libcst does not reproduce exactly; "
        "make it by hand"
    ]
    assert (tmp_path / "a.py").read_bytes() == LEGACY.encode()


def test_relative_path_inside_a_package_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pkg").mkdir()
    for init in (tmp_path / "__init__.py", tmp_path / "pkg" / "__init__.py"):
        init.write_bytes(b"")
    (tmp_path / "pkg" / "a.py").write_bytes(LEGACY.encode())
    monkeypatch.chdir(tmp_path)
    report = migrate_tree(Path("pkg"), write=True)
    assert report.changed == [str(Path("pkg") / "a.py")]
    assert (tmp_path / "pkg" / "a.py").read_bytes() == MIGRATED.encode()


def test_star_reexport_module_is_seen_through(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_bytes(b"")
    (tmp_path / "app" / "compat.py").write_bytes(b"from goldpath.compat import *  # noqa\n")
    (tmp_path / "app" / "use.py").write_bytes(
        b"from . import compat\n\n\nasync def f(r, b, c):\n"
        b"    return compat.ExecutionEngine(r, b, c), compat.AgentWebSocketBridge\n"
    )
    report = migrate_tree(tmp_path, write=True)
    assert (tmp_path / "app" / "use.py").read_bytes() == (
        b"from . import compat\nimport goldpath\n\n\nasync def f(r, b, c):\n"
        b"    return await goldpath.UserExecutionEngine.create_from_legacy(r, b, c), "
        b"compat.AgentWebSocketBridge\n"
    )
    assert (
        tmp_path / "app" / "compat.py"
    ).read_bytes() == b"from goldpath.compat import *  # noqa\n"
    shim, kept, stuck = sorted(report.reported)
    assert shim.startswith(f"{tmp_path / 'app' / 'compat.py'}:1: re-exports legacy names (Agent, ")
    assert " more) for other modules" in shim
    assert kept.startswith(f"{tmp_path / 'app' / 'use.py'}:1: `app.compat` import kept for ")
    assert stuck == (
        f"{tmp_path / 'app' / 'use.py'}:5: `app.compat.AgentWebSocketBridge` has no canonical "
        "move; replace it by hand"
    )
