"""Find and read the rules a tree asks for: `[tool.goldpath.ssot]` or an explicit TOML file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from goldpath.ssot._errors import ConfigError
from goldpath.ssot._rules import Rules, builtin_rules


def load_rules(path: Path, config: Path | None = None) -> Rules:
    """Built-in rules, extended by `config` or else the nearest pyproject's ssot section.

    `config` may be a pyproject.toml (its `[tool.goldpath.ssot]` is used) or a plain rules
    file whose top level holds the same keys. Without it, pyproject.toml files are looked
    for from `path` upwards and the first one with a `[tool.goldpath.ssot]` section wins.
    """
    rules = builtin_rules()
    if config is not None:
        table = _read(config)
        section = _section(table) if config.name == "pyproject.toml" else table
        if section is None:
            raise ConfigError(
                f"{config}: no [tool.goldpath.ssot] section; add one or pass a rules file"
            )
        return rules.with_config(section, str(config), config.resolve().parent)
    found = find_pyproject(path)
    if found is None:
        return rules
    pyproject, section = found
    return rules.with_config(section, f"{pyproject} [tool.goldpath.ssot]", pyproject.parent)


def find_pyproject(path: Path) -> tuple[Path, dict[str, Any]] | None:
    """The first pyproject.toml above `path` with a `[tool.goldpath.ssot]` section."""
    start = path.resolve()
    for directory in [start, *start.parents] if start.is_dir() else start.parents:
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            section = _section(_read(candidate))
            if section is not None:
                return candidate, section
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found; check the --config/--rules path"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file and run again") from None


def _section(table: dict[str, Any]) -> dict[str, Any] | None:
    section = table.get("tool", {}).get("goldpath", {}).get("ssot")
    if section is not None and not isinstance(section, dict):
        raise ConfigError("[tool.goldpath.ssot] must be a table")
    return section
