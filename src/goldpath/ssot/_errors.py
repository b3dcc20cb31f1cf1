"""Errors of the ssot toolkit, kept apart from `goldpath.errors` so ssot stays independent.

SsotError               anything the toolkit refuses to do, with what to do instead
├── ConfigError         a rules file or `[tool.goldpath.ssot]` section is invalid
└── UsageError          a path or option given on the command line cannot be used
"""

from __future__ import annotations


class SsotError(Exception):
    """Root of the ssot errors; the CLI turns each into a message and exit code 2."""


class ConfigError(SsotError):
    """A rules file or `[tool.goldpath.ssot]` section is invalid."""


class UsageError(SsotError):
    """A path or option given on the command line cannot be used."""
