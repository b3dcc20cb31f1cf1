"""The rule set as data: what is legacy, what is canonical, and how to get from one to the other.

The built-in set (`_builtin.toml`) is DESIGN.md's "Legacy API" table; a team's TOML extends
or overrides it key by key, so `check` and `migrate` work on any codebase's own names.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from goldpath.ssot._errors import ConfigError

SHAPES = ("engine", "factory", "emitter", "")
_TOP_KEYS = frozenset(
    {
        "builtin",
        "deprecated_modules",
        "engine_constructors",
        "factory_classes",
        "factory_modules",
        "exclude",
        "moves",
        "keyword_renames",
        "factory_rewrites",
        "legacy_calls",
        "roles",
    }
)


@dataclass(frozen=True, slots=True)
class KeywordRename:
    """Rename keyword `old` to `new` on calls whose callee resolves to `callee`."""

    callee: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class FactoryRewrite:
    """Turn `constructor(...)` into `await <factory>(...)`, `factory` a classmethod path."""

    constructor: str
    factory: str

    @property
    def factory_class(self) -> str:
        """Qualified name of the class that owns the factory method."""
        return self.factory.rpartition(".")[0]

    @property
    def method(self) -> str:
        """Name of the awaited classmethod."""
        return self.factory.rpartition(".")[2]


@dataclass(frozen=True, slots=True)
class Role:
    """A canonical role (engine, factory, emitter, context) other classes must not duplicate."""

    name: str
    canonical: str
    class_patterns: tuple[str, ...]
    shape: str

    @property
    def canonical_name(self) -> str:
        """The canonical class's simple name, e.g. `UserExecutionEngine`."""
        return self.canonical.rpartition(".")[2]


@dataclass(frozen=True, slots=True)
class Rules:
    """Everything `check` and `migrate` know about legacy and canonical names."""

    deprecated_modules: tuple[str, ...] = ()
    engine_constructors: tuple[str, ...] = ()
    factory_classes: tuple[str, ...] = ()
    factory_modules: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    moves: Mapping[str, str] = field(default_factory=dict)
    keyword_renames: tuple[KeywordRename, ...] = ()
    factory_rewrites: tuple[FactoryRewrite, ...] = ()
    legacy_calls: Mapping[str, str] = field(default_factory=dict)
    roles: tuple[Role, ...] = ()
    exclude_base: Path | None = None

    def canonical_of(self, qualified: str) -> str:
        """Where a qualified name lives now (itself when it did not move)."""
        return self.moves.get(qualified, qualified)

    def with_config(self, table: Mapping[str, Any], source: str, base: Path | None) -> Rules:
        """Return these rules extended/overridden by one TOML table (`source` names it)."""
        unknown = sorted(set(table) - _TOP_KEYS)
        if unknown:
            raise ConfigError(
                f"{source}: unknown key(s) {', '.join(unknown)}; "
                f"allowed keys are {', '.join(sorted(_TOP_KEYS))}"
            )
        start = self if _get(table, "builtin", bool, source, True) else Rules()
        moves = {**start.moves, **_str_map(table, "moves", source)}
        renames = {(k.callee, k.old): k for k in start.keyword_renames}
        for item in _tables(table, "keyword_renames", source):
            rename = KeywordRename(
                _req(item, "callee", source), _req(item, "old", source), _req(item, "new", source)
            )
            renames[(rename.callee, rename.old)] = rename
        rewrites = {r.constructor: r for r in start.factory_rewrites}
        for item in _tables(table, "factory_rewrites", source):
            rewrite = FactoryRewrite(
                _req(item, "constructor", source), _req(item, "factory", source)
            )
            if "." not in rewrite.factory:
                raise ConfigError(
                    f"{source}: factory_rewrites factory {rewrite.factory!r} must be "
                    "'<module>.<Class>.<classmethod>'"
                )
            rewrites[rewrite.constructor] = rewrite
        roles = {r.name: r for r in start.roles}
        for item in _tables(table, "roles", source):
            shape = item.get("shape", "")
            if shape not in SHAPES:
                raise ConfigError(f"{source}: roles shape {shape!r} must be one of {SHAPES}")
            patterns = _get(item, "class_patterns", list, source, [])
            role = Role(
                _req(item, "name", source),
                _req(item, "canonical", source),
                tuple(str(p) for p in patterns),
                str(shape),
            )
            roles[role.name] = role
        return Rules(
            deprecated_modules=_union(
                start.deprecated_modules, table, "deprecated_modules", source
            ),
            engine_constructors=_union(
                start.engine_constructors, table, "engine_constructors", source
            ),
            factory_classes=_union(start.factory_classes, table, "factory_classes", source),
            factory_modules=_union(start.factory_modules, table, "factory_modules", source),
            exclude=_union(start.exclude, table, "exclude", source),
            moves=moves,
            keyword_renames=tuple(renames.values()),
            factory_rewrites=tuple(rewrites.values()),
            legacy_calls={**start.legacy_calls, **_str_map(table, "legacy_calls", source)},
            roles=tuple(roles.values()),
            exclude_base=base if "exclude" in table else start.exclude_base,
        )


def builtin_rules() -> Rules:
    """The DESIGN.md legacy table, read from the TOML file shipped with the package."""
    text = resources.files("goldpath.ssot").joinpath("_builtin.toml").read_text("utf-8")
    return Rules().with_config(tomllib.loads(text), "built-in rules", None)


def _get(table: Mapping[str, Any], key: str, kind: type, source: str, default: Any) -> Any:
    value = table.get(key, default)
    if not isinstance(value, kind):
        raise ConfigError(f"{source}: {key!r} must be a {kind.__name__}, got {value!r}")
    return value


def _req(table: Mapping[str, Any], key: str, source: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{source}: each entry needs a non-empty string {key!r}: {dict(table)}")
    return value


def _union(
    start: tuple[str, ...], table: Mapping[str, Any], key: str, source: str
) -> tuple[str, ...]:
    extra = _get(table, key, list, source, [])
    if not all(isinstance(v, str) for v in extra):
        raise ConfigError(f"{source}: {key!r} must be a list of strings")
    return tuple(dict.fromkeys([*start, *extra]))


def _str_map(table: Mapping[str, Any], key: str, source: str) -> dict[str, str]:
    value = _get(table, key, dict, source, {})
    if not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"{source}: every value of [{key}] must be a string")
    return dict(value)


def _tables(table: Mapping[str, Any], key: str, source: str) -> list[Mapping[str, Any]]:
    value = _get(table, key, list, source, [])
    if not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{source}: {key!r} must be an array of tables ([[{key}]])")
    return list(value)
