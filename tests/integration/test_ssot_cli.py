"""`goldpath check` and `goldpath migrate` through the real CLI app (typer's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from goldpath.cli import app

pytestmark = pytest.mark.integration

RUNNER = CliRunner()
LEGACY = (
    "from goldpath.compat import UserExecutionContext\nctx = UserExecutionContext(metadata={})\n"
)


def tree(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "legacy.py").write_text(LEGACY, "utf-8")
    (tmp_path / "app" / "clean.py").write_text("x = (1, 2)\n", "utf-8")
    return tmp_path / "app"


def test_check_json_schema(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["check", str(tree(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"score", "files_scanned", "findings"}
    assert data["files_scanned"] == 2
    assert data["score"] == 0.0
    assert [f["rule"] for f in data["findings"]] == ["deprecated_import", "legacy_keyword"]
    for finding in data["findings"]:
        assert set(finding) == {"rule", "path", "line", "col", "message", "replacement", "in_tests"}
    assert data["findings"][1]["line"] == 2


def test_check_fail_under_exit_codes(tmp_path: Path) -> None:
    path = str(tree(tmp_path))
    assert RUNNER.invoke(app, ["check", path, "--fail-under", "50"]).exit_code == 1
    (tmp_path / "app" / "legacy.py").unlink()
    result = RUNNER.invoke(app, ["check", path, "--fail-under", "100"])
    assert result.exit_code == 0
    assert "score 100.0/100" in result.stdout


def test_check_human_summary_groups_by_rule(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["check", str(tree(tmp_path))])
    assert result.exit_code == 0
    assert "deprecated_import (1)" in result.stdout
    assert "legacy.py:2:" in result.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = RUNNER.invoke(app, ["check", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert "no such file or directory" in missing.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("exclude = 'x'\n", "utf-8")
    wrong = RUNNER.invoke(app, ["check", str(tmp_path), "--config", str(bad)])
    assert wrong.exit_code == 2
    assert "'exclude' must be a list" in wrong.stderr
    assert RUNNER.invoke(app, ["migrate", str(tmp_path), "--rules", str(bad)]).exit_code == 2


def test_check_reads_config_from_pyproject(tmp_path: Path) -> None:
    path = tree(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.goldpath.ssot]\nexclude = ["app/legacy.py"]\n', "utf-8"
    )
    result = RUNNER.invoke(app, ["check", str(path), "--fail-under", "100"])
    assert result.exit_code == 0, result.output


def test_migrate_diff_write_and_rollback(tmp_path: Path) -> None:
    path = tree(tmp_path)
    legacy = path / "legacy.py"
    before = legacy.read_bytes()
    diff = RUNNER.invoke(app, ["migrate", str(path)])
    assert diff.exit_code == 0
    assert "+ctx = UserExecutionContext(agent_context={})" in diff.stdout
    assert legacy.read_bytes() == before
    wrote = RUNNER.invoke(app, ["migrate", str(path), "--write"])
    assert wrote.exit_code == 0
    assert "1 changed" in wrote.stderr
    assert "(add .goldpath-migrate/ to .gitignore)" in wrote.stderr
    assert legacy.read_text("utf-8") == (
        "from goldpath import UserExecutionContext\nctx = UserExecutionContext(agent_context={})\n"
    )
    back = RUNNER.invoke(app, ["migrate", str(path), "--rollback"])
    assert back.exit_code == 0
    assert legacy.read_bytes() == before
    assert RUNNER.invoke(app, ["migrate", str(path), "--rollback"]).exit_code == 2


def test_help_explains_options() -> None:
    check = RUNNER.invoke(app, ["check", "--help"])
    assert "--fail-under" in check.stdout
    migrate = RUNNER.invoke(app, ["migrate", "--help"])
    options = ("--write", "--diff", "--rules", "--batch-size", "--test-cmd", "--rollback")
    for option in (*options, "--backup-dir"):
        assert option in migrate.stdout


def test_migrate_backup_dir(tmp_path: Path) -> None:
    path = tree(tmp_path)
    backups = tmp_path / "backups"
    wrote = RUNNER.invoke(app, ["migrate", str(path), "--write", "--backup-dir", str(backups)])
    assert wrote.exit_code == 0, wrote.output
    assert f"backup in {backups}" in " ".join(wrote.stderr.split())
    assert ".gitignore" not in wrote.stderr
    assert not (path / ".goldpath-migrate").exists()
    back = RUNNER.invoke(app, ["migrate", str(path), "--rollback", "--backup-dir", str(backups)])
    assert back.exit_code == 0
    assert (path / "legacy.py").read_text("utf-8") == LEGACY
