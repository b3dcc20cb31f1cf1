"""Single-source-of-truth toolkit: `goldpath check` finds drift, `goldpath migrate` fixes it.

Independent of the goldpath runtime (stdlib, libcst, rich and typer only), so it can scan
and rewrite a codebase that does not even import goldpath yet.
"""

from __future__ import annotations

from goldpath.ssot._check import check_tree
from goldpath.ssot._config import load_rules
from goldpath.ssot._errors import ConfigError, SsotError, UsageError
from goldpath.ssot._findings import CheckReport, Finding
from goldpath.ssot._migrate import MigrationReport, migrate_tree, rollback_tree
from goldpath.ssot._rules import FactoryRewrite, KeywordRename, Role, Rules, builtin_rules

__all__ = [
    "CheckReport",
    "ConfigError",
    "FactoryRewrite",
    "Finding",
    "KeywordRename",
    "MigrationReport",
    "Role",
    "Rules",
    "SsotError",
    "UsageError",
    "builtin_rules",
    "check_tree",
    "load_rules",
    "migrate_tree",
    "rollback_tree",
]
